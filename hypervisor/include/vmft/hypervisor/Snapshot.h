#pragma once
// A snapshot of a whole Machine: everything that decides the guest's future given the same
// inputs (vCPU, RAM, devices, the machine's own bookkeeping), and its binary encoding. The
// encoding lives in Snapshot.cc: bump kSnapshotFormatVersion on ANY change to these types or to
// their encoding.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"

namespace vmft::hypervisor {

inline constexpr uint32_t kSnapshotFormatVersion = 2;

/// A snapshot that cannot be decoded or restored: truncated or corrupt bytes, an unsupported
/// version, or a machine it does not fit (another guest image, RAM size or digest interval).
/// The message says what, and for bytes where.
class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The CSRs a snapshot carries, as indices into CpuState::csrs: the machine-mode ones the
/// hypervisor and guests use, the supervisor-mode ones a machine-mode guest can still write,
/// and fcsr (fflags and frm; uc_context_save misses fflags). Part of the format: append only.
enum class Csr : uint8_t {
  kMstatus,
  kMie,
  kMip,
  kMtvec,
  kMepc,
  kMcause,
  kMtval,
  kMscratch,
  kMedeleg,
  kMideleg,
  kMcounteren,
  kSatp,
  kStvec,
  kSepc,
  kScause,
  kStval,
  kSscratch,
  kScounteren,
  kFcsr,
};
inline constexpr size_t kCsrCount = 19;
/// "mstatus", "fcsr", ...
const char* csr_name(Csr csr);

/// The vCPU's architectural state, read register by register.
struct CpuState {
  uint64_t pc = 0;
  std::array<uint64_t, 32> x{};  ///< x0 is always 0
  /// The F/D registers: RV64IM guests never touch them, but Unicorn's vCPU has them.
  std::array<uint64_t, 32> f{};
  std::array<uint64_t, kCsrCount> csrs{};
  uint64_t csr(Csr c) const { return csrs[static_cast<size_t>(c)]; }
  uint64_t& csr(Csr c) { return csrs[static_cast<size_t>(c)]; }
  bool operator==(const CpuState&) const = default;
};

/// What the guest was doing. A snapshot of a stopped run records what it was doing when the
/// run stopped, so that a restored machine goes on as the stopped one would have.
enum class GuestState : uint8_t {
  kRunning = 1,  ///< about to run the block at cpu.pc
  kIdle = 2,     ///< waiting for an interrupt (idle hypercall or wfi), cpu.pc past it
  kExited = 3,   ///< exited with exit_code; run() reports that at once
};

/// The MMIO bus's 64-bit reassembly state for one device window (Unicorn splits a 64-bit
/// access into two 32-bit halves). No access is ever between its halves at a block boundary or
/// an idle point (both halves come from one instruction), but the state outlives the access: a
/// later lone high-half read returns the latched value, and a lone low-half write waits for its
/// high half, possibly several instructions later. So it is guest-visible and saved.
struct MmioLatch {
  uint64_t read_reg = UINT64_MAX;  ///< UINT64_MAX: none
  uint64_t read_value = 0;
  uint64_t write_reg = UINT64_MAX;  ///< UINT64_MAX: none
  uint64_t write_low = 0;
  bool operator==(const MmioLatch&) const = default;
};

/// Everything that decides a Machine's future given the same inputs. A Machine restored from
/// it with the same guest image goes on exactly as the one it was taken from (see Machine).
/// The counter rewriter's side table is not in it: it is derived from the image, which the
/// restoring side loads too (and image_digest makes sure it is the same).
struct MachineSnapshot {
  // ---- what it fits ----
  uint64_t image_digest = 0;  ///< of the loaded (counter-rewritten) guest image
  uint64_t ram_base = 0;
  uint64_t ram_size = 0;
  uint64_t digest_interval = 0;

  // ---- where the guest is ----
  uint64_t icount = 0;  ///< instructions retired
  GuestState guest_state = GuestState::kRunning;
  int32_t exit_code = 0;  ///< when kExited
  CpuState cpu;

  // ---- the machine's bookkeeping ----
  bool boundary_work = true;  ///< the next block boundary needs a look
  uint64_t next_digest_icount = 0;
  uint64_t last_interrupt_icount = UINT64_MAX;
  /// The last value the guest read from each clock, by logchannel::ClockSource - 1. Not
  /// needed to continue; a replica that goes live later needs them so that the guest's time
  /// never runs backwards on its host (see BackupRole's Takeover).
  std::array<std::optional<uint64_t>, 4> last_clock{};
  /// The highest TCP connection id the machine has been given, open or closed: a replica that
  /// goes live later gives new connections higher ids. Not needed to continue either.
  uint32_t highest_connection = 0;

  // ---- devices (console, clock and entropy hold no state) ----
  devices::TimerState timer;
  devices::NicState nic;
  std::vector<MmioLatch> mmio;  ///< one per device window, in the order the machine maps them

  /// All of guest RAM, or empty for a snapshot taken without it (RamCopy::kNone), whose
  /// taker sends RAM another way and fills this in before restoring.
  std::vector<uint8_t> ram;

  bool operator==(const MachineSnapshot&) const = default;
};

/// Guest RAM travels in pages of this size; all-zero pages are left out.
inline constexpr uint64_t kSnapshotPageBytes = 4096;
/// A snapshot of more RAM than this is corrupt: vmft gives a guest at most 4 GiB (--mem).
inline constexpr uint64_t kMaxSnapshotRamBytes = 4ULL << 30;

/// Encodes `snapshot`: a magic, the version, the length, the fields, RAM as its non-zero pages,
/// then an XXH3 checksum of everything before it. Deterministic.
std::vector<uint8_t> encode_snapshot(const MachineSnapshot& snapshot);

/// Decodes what encode_snapshot wrote. Throws SnapshotError naming the byte offset and the
/// field for truncated, corrupt or inconsistent input, or an unsupported version. It allocates
/// nothing that the length field and checksum have not vouched for.
MachineSnapshot decode_snapshot(std::span<const uint8_t> bytes);

/// XXH3 of each kSnapshotPageBytes page of `ram` (the last one may be shorter), for a pre-copy
/// that sends RAM while the guest runs and then only the pages whose hash changed.
std::vector<uint64_t> ram_page_hashes(std::span<const uint8_t> ram);

/// The differences between two snapshots, one per line, for a person (fields with both
/// values, RAM pages by address); empty when they are equal.
std::string describe_snapshot_difference(const MachineSnapshot& a, const MachineSnapshot& b);

}  // namespace vmft::hypervisor
