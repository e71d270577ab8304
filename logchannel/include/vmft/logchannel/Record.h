#pragma once
// The event log's records: every nondeterministic input a guest consumed, what it put out, and
// checks of its state, in the order they happened. The one definition of the log's content;
// its encoding lives in RecordCodec.cc.
//
// Bump kFormatVersion on ANY change to these types or to their encoding.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vmft/guest/abi.h"

namespace vmft::logchannel {

inline constexpr uint32_t kFormatVersion = 6;

/// Where a guest read a clock.
enum class ClockSource : uint8_t {
  kWall = 1,      ///< MMIO VMFT_CLOCK_WALL_NS
  kMono = 2,      ///< MMIO VMFT_CLOCK_MONO_NS
  kCsrTime = 3,   ///< rdtime
  kCsrCycle = 4,  ///< rdcycle / mcycle (emulated from the monotonic clock)
};

/// Input: the value a clock read returned.
struct ClockRead {
  ClockSource source = ClockSource::kMono;
  uint64_t value = 0;
  bool operator==(const ClockRead&) const = default;
};

/// Input: the value an entropy read returned.
struct EntropyRead {
  uint64_t value = 0;
  bool operator==(const EntropyRead&) const = default;
};

/// Input: the host timer armed for `generation` went off (applied at a block boundary).
struct TimerFired {
  uint64_t generation = 0;
  bool operator==(const TimerFired&) const = default;
};

/// Whether `kind` is a VMFT_NIC_KIND_* value a host event can have (in a log, a snapshot).
constexpr bool is_net_kind(uint32_t kind) {
  return kind >= VMFT_NIC_KIND_UDP && kind <= VMFT_NIC_KIND_LINK;
}

/// Input: a network event handed to the NIC (applied at a block boundary or while idle).
/// `kind` is a VMFT_NIC_KIND_* value.
struct NetInput {
  uint32_t kind = 0;
  uint32_t conn = 0;
  uint32_t peer_ip = 0;
  uint32_t peer_port = 0;
  std::vector<uint8_t> data;
  bool operator==(const NetInput&) const = default;
};

/// Check: the guest took an interrupt (`cause` is VMFT_IRQ_*) that resumes at `pc`.
struct InterruptTaken {
  uint32_t cause = 0;
  uint64_t pc = 0;
  bool operator==(const InterruptTaken&) const = default;
};

enum class OutputKind : uint8_t { kConsole = 1, kUdp = 2, kTcpData = 3, kTcpClose = 4, kFrame = 5 };

/// Check: something the guest sent out (console bytes, a datagram, TCP data or a close, an
/// Ethernet frame).
struct Output {
  OutputKind kind = OutputKind::kConsole;
  uint32_t conn = 0;
  uint32_t peer_ip = 0;
  uint32_t peer_port = 0;
  std::vector<uint8_t> data;
  bool operator==(const Output&) const = default;
};

/// Check: the guest's whole state at a block boundary. `regs[0]` holds the pc (x0 is always
/// zero); `csrs` are mstatus, mie, mtvec, mepc, mcause, mscratch in that order. RAM is hashed
/// in chunks of kDigestChunkBytes; `ram_chunks[i]` covers [base + i*chunk, base + (i+1)*chunk).
struct StateDigest {
  static constexpr uint64_t kDigestChunkBytes = 64 * 1024;
  std::array<uint64_t, 32> regs{};
  std::array<uint64_t, 6> csrs{};
  uint64_t devices = 0;  ///< hash of the devices' guest-visible state
  std::vector<uint64_t> ram_chunks;
  bool operator==(const StateDigest&) const = default;
};

/// The run ended: the guest exited (with `exit_code`), faulted, or was stopped.
struct RunEnd {
  enum class Reason : uint8_t { kExited = 1, kFaulted = 2, kStopped = 3 };
  Reason reason = Reason::kStopped;
  int32_t exit_code = 0;
  bool operator==(const RunEnd&) const = default;
};

using RecordBody = std::variant<ClockRead, EntropyRead, TimerFired, NetInput, InterruptTaken,
                                Output, StateDigest, RunEnd>;

/// One log record. `seq` counts records from 1 with no gaps; `icount` is the guest's
/// instruction count when the record took effect (inputs) or was observed (checks).
struct Record {
  uint64_t seq = 0;
  uint64_t icount = 0;
  RecordBody body;
};

/// What a file log starts with: which guest made it, and how the VM was configured, so that
/// a replay with anything else is refused.
/// The frame NIC's settings (vmft's --tap), which the guest reads from the NIC's registers:
/// part of what a replay and a backup must run with.
struct FrameNicConfig {
  uint64_t mac = 0;        ///< 48 bits, the first byte on the wire in bits 0..7
  uint32_t ip = 0;         ///< IPv4, host byte order
  uint8_t prefix_len = 0;  ///< 0..32
  uint32_t gateway = 0;    ///< 0: none
  uint32_t mtu = 0;        ///< the largest IP packet a frame carries
  bool operator==(const FrameNicConfig&) const = default;
};

struct LogHeader {
  uint32_t version = kFormatVersion;
  uint64_t guest_digest = 0;  ///< XXH64 of the guest ELF file's bytes
  std::string guest_name;     ///< the file name it was recorded with, for messages
  uint64_t ram_size = 0;
  bool has_udp = false;  ///< whether the NIC had a UDP socket (the guest can tell)
  bool has_tcp = false;
  /// Instructions between state digests, at least 1: a replay must take its digests where
  /// the recording did. vmft's default is hypervisor::kDigestInterval.
  uint64_t digest_interval = 1ULL << 28;
  /// The CPU emulator and its version, e.g. "unicorn 2.1.1" (hypervisor::emulator_name()):
  /// another version may translate the same guest into different blocks, so a replay or a
  /// backup on another one is refused.
  std::string emulator;
  std::optional<FrameNicConfig> frames;  ///< the frame NIC, if the guest had one instead
};

/// A short name for a record's type ("clock", "entropy", "timer", "net", "irq", "output",
/// "digest", "end").
const char* record_type_name(const RecordBody& body);

/// A record's fields as `key=value` words, e.g. "mono=1234567".
std::string describe_body(const RecordBody& body);

/// One line a person can read, e.g. "#12 @4711 clock mono=1234567".
std::string describe(const Record& record);

}  // namespace vmft::logchannel
