#pragma once

#include <unicorn/unicorn.h>

#include <optional>
#include <string>

#include "CounterRewriter.h"
#include "MmioBus.h"
#include "vmft/devices/Clock.h"
#include "vmft/devices/Console.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"
#include "vmft/hypervisor/GuestMemory.h"
#include "vmft/hypervisor/Machine.h"

namespace vmft::hypervisor {

/// The machine's state, shared by Machine.cc (set-up, run loop, block boundaries) and
/// Traps.cc (hypercalls, emulated CSRs, faults). vCPU thread only, except `inputs_`.
class Machine::Impl {
 public:
  Impl(GuestImage image, const MachineConfig& config, MachineServices services,
       InputQueue& inputs);
  ~Impl();

  RunResult run();
  uint64_t instruction_count() const { return icount_; }
  uint64_t reg(int id) const;
  void set_reg(int id, uint64_t value);

 private:
  enum class State { kRunning, kIdle, kExited, kFaulted, kStopped };

  // Machine.cc
  void load(const GuestImage& image);
  void install_hooks();
  static void on_block(uc_engine*, uint64_t address, uint32_t size, void* user);
  void at_block_boundary(uint64_t address);
  void take_inputs();
  void deliver_device_events();
  uint64_t pending_interrupts() const;
  bool take_interrupt(uint64_t pc);
  void resync_icount(uint64_t pc);
  void wait_while_idle();
  void after_emulation_stopped(uc_err err);

  // Traps.cc
  static void on_interrupt(uc_engine*, uint32_t intno, void* user);
  static bool on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value,
                          void* user);
  void handle_exception(uint32_t intno);
  void handle_hypercall();
  bool emulate_csr(uint64_t pc);
  std::optional<uint32_t> fetch(uint64_t pc) const;
  std::optional<uint64_t> find_access(uint64_t address) const;
  void fault(const std::string& cause, uint64_t pc);
  std::string register_dump() const;

  MachineServices services_;
  InputQueue& inputs_;
  GuestMemory ram_;
  uc_engine* uc_ = nullptr;
  uint64_t entry_ = 0;
  CounterRewriter counters_;

  devices::Console console_;
  devices::Clock clock_;
  devices::Timer timer_;
  devices::Nic nic_;
  devices::Entropy entropy_;
  std::optional<MmioBus> bus_;

  State state_ = State::kRunning;
  int exit_code_ = 0;
  std::string fault_;
  std::string unmapped_access_;  ///< set by on_unmapped, reported after uc_emu_start returns
  uint64_t unmapped_address_ = 0;

  // Instruction counting: every announced block is counted whole when announced; when
  // execution leaves a block early (a trap, wfi, a stop), resync_icount corrects the count
  // from the pc, since a block is straight-line code from block_addr_.
  uint64_t icount_ = 0;
  uint64_t block_addr_ = 0;
  uint32_t block_size_ = 0;
  uint64_t block_start_icount_ = 0;
  /// Something needs a look at the next block boundary (pending interrupt, device write).
  bool boundary_work_ = true;

  uc_hook block_hook_ = 0, intr_hook_ = 0, unmapped_hook_ = 0;
};

}  // namespace vmft::hypervisor
