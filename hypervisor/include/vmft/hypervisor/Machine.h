#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "vmft/devices/Console.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Role.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::hypervisor {

/// The default number of instructions between two state digests. A log's header records the
/// interval it was made with, and its replay (or a backup) uses the same.
inline constexpr uint64_t kDigestInterval = 1ULL << 28;

/// The CPU emulator guests run on, as loaded: "unicorn MAJOR.MINOR.PATCH". Logs and the
/// channel's handshake carry it (LogHeader::emulator).
std::string emulator_name();

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

/// Whether Machine::snapshot copies guest RAM.
enum class RamCopy {
  kAll,
  /// None: for a taker that has sent RAM another way (a pre-copy while the guest ran, then the
  /// pages whose ram_page_hashes changed) and fills MachineSnapshot::ram in on the other side.
  kNone,
};

/// Where the vCPU is, at a safe point (see Machine::at_next_boundary).
struct MachinePosition {
  uint64_t instructions = 0;  ///< retired
  uint64_t pc = 0;            ///< of the next instruction
  bool idle = false;          ///< the guest waits for an interrupt
};

/// One guest VM: a Unicorn RISC-V vCPU, host-owned RAM and the devices. Its inputs come from,
/// and its checks go to, `role` (standalone, recorder, replayer), which must outlive it.
/// Everything belongs to the thread that calls run().
class Machine {
 public:
  Machine(GuestImage image, MachineConfig config, Role& role);
  /// Restores the machine `snapshot` was taken of, so that run() goes on exactly where it was
  /// taken: given the inputs the original took from there on (a backup: the primary's log from
  /// the snapshot's point), it does exactly what the original did. `image` must be the one the
  /// original was built from (its code and the counter rewriter's table), config.ram_size and
  /// config.digest_interval the original's, and the snapshot must hold RAM; otherwise throws
  /// SnapshotError. Unicorn is set up as for a fresh machine (the same hooks, installed before
  /// the first uc_emu_start, an empty translation cache), so blocks split as they did. A timer
  /// the guest had armed is armed again through role.timer().
  Machine(GuestImage image, MachineConfig config, Role& role, const MachineSnapshot& snapshot);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  /// Runs the guest from where it is (its entry point, a snapshot's point, or where a stopped
  /// run stopped) until it exits, faults, diverges from a replayed log, or its role says to
  /// stop. Each run ends with Role::end.
  RunResult run();

  /// Something to do on the vCPU thread at a safe point, with the machine to do it on.
  using BoundaryTask = std::function<void(Machine&)>;
  /// Any thread. Runs `task` once, on the vCPU thread, at the next safe point of a run: the
  /// next block boundary, before the machine applies any input there, or, while the guest
  /// idles, before it next looks for inputs. Tasks run in the order they were posted; a task
  /// posted from a task runs at a later safe point (while the guest idles: at once, so a task
  /// that keeps posting itself spins). A task may call snapshot(), position() and ram(); what
  /// it throws faults the machine. Posting one makes the vCPU look at the next block boundary
  /// and wakes an idle guest's vCPU (Role::wake), but changes nothing the guest can observe.
  void at_next_boundary(BoundaryTask task);

  /// vCPU thread, between runs or in a boundary task (else std::logic_error): the state that,
  /// restored, continues as this machine does from here. Throws std::logic_error for a
  /// machine that faulted, diverged or stopped at --until, which cannot continue.
  MachineSnapshot snapshot(RamCopy ram = RamCopy::kAll) const;
  /// vCPU thread, between runs or in a boundary task (else std::logic_error).
  MachinePosition position() const;

  /// Reads a Unicorn RISC-V register (UC_RISCV_REG_*), for tests and reports.
  uint64_t read_register(int reg) const;
  /// The registers (x1..x31, pc and the machine CSRs), formatted one block for a person.
  std::string register_dump() const;
  /// Guest RAM, from VMFT_RAM_BASE. Read it only on the vCPU thread while run() is not
  /// running, or in a boundary task (a pre-copy can copy a slice per task while the guest
  /// runs, and hash pages with ram_page_hashes).
  std::span<const uint8_t> ram() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmft::hypervisor
