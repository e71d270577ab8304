#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "vmft/devices/Console.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::hypervisor {

struct MachineConfig {
  uint64_t ram_size = 64ULL << 20;
};

/// The host services a machine's devices use. They must outlive the Machine.
struct MachineServices {
  devices::HostClock& clock;
  devices::EntropySource& entropy;
  devices::TimerBackend& timer;
  devices::NetBackend& net;
  devices::ConsoleSink console;
};

/// How a run ended.
struct RunResult {
  enum class Outcome { kExited, kFaulted, kStopped };
  Outcome outcome = Outcome::kStopped;
  int exit_code = 0;          ///< the guest's, when kExited
  uint64_t instructions = 0;  ///< instructions retired
  std::string fault;          ///< the report, when kFaulted
};

/// One guest VM: a Unicorn RISC-V vCPU, host-owned RAM and the devices. Everything but the
/// InputQueue belongs to the thread that calls run().
class Machine {
 public:
  Machine(GuestImage image, const MachineConfig& config, MachineServices services,
          InputQueue& inputs);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  /// Runs the guest from its entry point until it exits, faults, or a stop is requested
  /// through the InputQueue.
  RunResult run();

  /// Instructions retired so far; exact at every instruction boundary.
  uint64_t instruction_count() const;
  /// Reads a Unicorn RISC-V register (UC_RISCV_REG_*), for tests and reports.
  uint64_t read_register(int reg) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmft::hypervisor
