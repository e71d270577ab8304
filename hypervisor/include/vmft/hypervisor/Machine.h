#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vmft/devices/Console.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Role.h"

namespace vmft::hypervisor {

/// The default number of instructions between two state digests. A log's header records the
/// interval it was made with, and its replay (or a backup) uses the same.
inline constexpr uint64_t kDigestInterval = 1ULL << 28;

struct MachineConfig {
  uint64_t ram_size = 64ULL << 20;
  devices::ConsoleSink console;  ///< where the guest's console bytes go
  uint64_t digest_interval = kDigestInterval;
  /// Stop just before the instruction with this count (0-based: after this many retired),
  /// to look at the guest there. The run then ends as kUntil, without its end checks.
  uint64_t until = UINT64_MAX;
};

/// How a run ended.
struct RunResult {
  enum class Outcome { kExited, kFaulted, kStopped, kDiverged, kUntil };
  Outcome outcome = Outcome::kStopped;
  int exit_code = 0;          ///< the guest's, when kExited
  uint64_t instructions = 0;  ///< instructions retired
  std::string report;         ///< what went wrong, when kFaulted or kDiverged
};

/// One guest VM: a Unicorn RISC-V vCPU, host-owned RAM and the devices. Its inputs come from,
/// and its checks go to, `role` (standalone, recorder, replayer), which must outlive it.
/// Everything belongs to the thread that calls run().
class Machine {
 public:
  Machine(GuestImage image, MachineConfig config, Role& role);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  /// Runs the guest from its entry point until it exits, faults, diverges from a replayed
  /// log, or its role says to stop.
  RunResult run();

  /// Reads a Unicorn RISC-V register (UC_RISCV_REG_*), for tests and reports.
  uint64_t read_register(int reg) const;
  /// The registers (x1..x31, pc and the machine CSRs), formatted one block for a person.
  std::string register_dump() const;
  /// Guest RAM, from VMFT_RAM_BASE. Read it only while run() is not running.
  std::span<const uint8_t> ram() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmft::hypervisor
