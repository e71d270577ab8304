#pragma once

#include <unicorn/unicorn.h>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

/// The machine's state, shared by Machine.cc (set-up, run loop, block boundaries), Traps.cc
/// (hypercalls, emulated CSRs, faults) and Inputs.cc (the call sites into the Role).
/// vCPU thread only.
class Machine::Impl {
 public:
  /// Restores `snapshot` when given one (MachineSnapshot.cc), else boots `image`.
  Impl(Machine& owner, GuestImage image, MachineConfig config, Role& role,
       const MachineSnapshot* snapshot);
  ~Impl();

  RunResult run();
  // MachineSnapshot.cc
  void at_next_boundary(BoundaryTask task);
  MachineSnapshot snapshot(RamCopy ram) const;
  MachinePosition position() const;
  std::span<const uint8_t> ram() const { return {ram_.data(), ram_.size()}; }
  std::string register_dump() const;
  uint64_t reg(int id) const;
  void set_reg(int id, uint64_t value);

 private:
  enum class State { kRunning, kIdle, kExited, kFaulted, kStopped, kDiverged, kUntil };

  // The devices' host services, routed through the role so that every read is recorded or
  // replayed, with the instruction count at which it happened (Inputs.cc).
  class RoleClock final : public devices::HostClock {
   public:
    explicit RoleClock(Impl& m) : m_(m) {}
    uint64_t wall_ns() override;
    uint64_t mono_ns() override;

   private:
    Impl& m_;
  };
  class RoleEntropy final : public devices::EntropySource {
   public:
    explicit RoleEntropy(Impl& m) : m_(m) {}
    uint64_t next() override;

   private:
    Impl& m_;
  };
  /// Between the NIC and the role's network: each send is seen by the role (logged or
  /// checked), and the sends of one doorbell leave together after the role's outputs_made().
  class OutputTap final : public devices::NetBackend {
   public:
    explicit OutputTap(Impl& m) : m_(m) {}
    bool has_udp() const override;
    bool has_tcp() const override;
    std::optional<devices::FrameConfig> frames() const override;
    void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) override;
    void send_tcp(uint32_t conn, std::vector<uint8_t> data) override;
    void close_tcp(uint32_t conn) override;
    void send_frame(std::vector<uint8_t> frame) override;
    void flush() override;
    void delivered(const devices::NetEvent& event) override;

   private:
    void made(logchannel::Output output);

    Impl& m_;
    /// Seen by the role, not yet passed on; each to the network the role had when it was made
    /// (a backup that goes live in the middle of a doorbell replayed its first sends).
    std::vector<std::pair<devices::NetBackend*, logchannel::Output>> made_;
  };

  // Machine.cc
  void set_up(GuestImage image, const MachineSnapshot* snapshot);
  void load(const GuestImage& image);
  void stop(bool idle);
  void install_hooks();
  static void on_block(uc_engine*, uint64_t address, uint32_t size, void* user);
  void look_at_block(uint64_t address, uint32_t size);
  void rearm();
  /// The next block looks at its boundary, whatever check_at_ was.
  void recheck() { check_at_ = 0; }
  void at_block_boundary(uint64_t address);
  void look_after_block(uint64_t address, uint32_t size);
  bool ends_in_system_instruction(uint64_t address, uint32_t size) const;
  void deliver_device_events();
  uint64_t pending_interrupts() const;
  bool take_interrupt(uint64_t pc);
  void resync_icount(uint64_t pc);
  void wait_while_idle();
  void after_emulation_stopped(uc_err err);
  bool stop_for_until(uint64_t block_end);
  void step_to_until(uint64_t pc);
  RunResult finish();

  // Inputs.cc
  /// Every clock the guest reads comes through here (clock registers and counter CSRs).
  uint64_t read_clock(logchannel::ClockSource source);
  void take_inputs(uint64_t icount);
  void write_console(std::span<const uint8_t> bytes);
  /// `pc`: where the guest goes on. Unicorn's pc register is stale in a block hook, and how
  /// stale depends on the vCPU's history, which a restored machine does not share.
  void take_digest_if_due(uint64_t icount, uint64_t pc);
  logchannel::StateDigest state_digest(uint64_t pc) const;
  logchannel::RunEnd run_end() const;
  void diverged(const std::string& report);

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

  // MachineSnapshot.cc
  static uint64_t digest_of(const GuestImage& image);
  void restore(const MachineSnapshot& snapshot);
  void restore_ram(std::span<const uint8_t> ram);
  CpuState read_cpu(uint64_t pc) const;
  void write_cpu(const CpuState& cpu);
  /// Runs the posted tasks at a safe point; false when one failed (the machine faulted).
  bool run_boundary_tasks(const MachinePosition& at);

  Machine& owner_;
  Role& role_;
  MachineConfig config_;
  GuestMemory ram_;
  uc_engine* uc_ = nullptr;
  CounterRewriter counters_;
  uint64_t image_digest_ = 0;  ///< of the rewritten image, for snapshots

  RoleClock role_clock_;
  RoleEntropy role_entropy_;
  OutputTap output_tap_;
  devices::Console console_;
  devices::Clock clock_;
  devices::Timer timer_;
  devices::Nic nic_;
  devices::Entropy entropy_;
  std::optional<MmioBus> bus_;

  State state_ = State::kRunning;
  int exit_code_ = 0;
  std::string report_;
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
  /// A block ending at or after this count calls look_at_block (see rearm).
  uint64_t check_at_ = 0;
  /// The role's attention flag, read by on_block without going through the role.
  const std::atomic<bool>& attention_;
  uint64_t next_digest_icount_;
  /// Where the last interrupt was taken: the handler's first block starts at the same
  /// instruction count, and inputs are never applied there, so that a replay, which applies
  /// all inputs of one instruction count at its first boundary, sees the same order.
  uint64_t last_interrupt_icount_ = UINT64_MAX;

  /// --until lies inside the current block: run it instruction by instruction up to there.
  bool step_to_until_ = false;

  // What a stopped run was doing, so that a snapshot of it (or another run()) goes on as it
  // would have: a stop at a block boundary leaves the pc at the block's start, one that comes
  // with wfi (Unicorn's own return) leaves the guest waiting for an interrupt.
  bool stopped_idle_ = false;
  bool stopped_at_boundary_ = false;  ///< at_block_boundary stopped the last uc_emu_start
  bool wfi_with_stop_ = false;        ///< the last uc_emu_start ended at wfi with a stop due

  /// The last value the guest read from each clock (ClockSource - 1), for snapshots.
  std::array<std::optional<uint64_t>, 4> last_clock_{};
  uint32_t highest_connection_ = 0;  ///< for snapshots

  // Boundary tasks: posted from any thread, run on this one at the next safe point.
  bool in_run_ = false;
  std::optional<MachinePosition> safe_point_;  ///< set while tasks run
  std::mutex tasks_mutex_;
  std::vector<BoundaryTask> tasks_;  ///< under tasks_mutex_
  std::atomic<bool> tasks_pending_{false};

  uc_hook block_hook_ = 0, intr_hook_ = 0, unmapped_hook_ = 0;
};

}  // namespace vmft::hypervisor
