#pragma once
// The log's binary encoding of one Record, and of the LogHeader. docs/log-format.md describes
// the bytes; this is the only code that produces or parses them.
//
// The encoding is stateful per stream: seq, icount and several fields are stored as the
// difference from the previous record (or the previous record of the same type), so one
// RecordEncoder must encode a whole stream in order and one RecordDecoder decode it in order.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmft/logchannel/LogError.h"
#include "vmft/logchannel/Record.h"

namespace vmft::logchannel {

/// A NetInput or Output payload longer than this is corrupt. The NIC moves at most 64 KiB at a
/// time; the limit bounds what a corrupt length can make a reader allocate.
inline constexpr uint64_t kMaxPayloadBytes = 16u << 20;

/// A StateDigest with more RAM chunks than this is corrupt: 1<<20 chunks of 64 KiB cover
/// 64 GiB, well beyond the 4 GiB of RAM vmft gives a guest.
inline constexpr uint64_t kMaxRamChunks = 1u << 20;

/// A longer guest name in a header is corrupt (PATH_MAX).
inline constexpr uint64_t kMaxGuestNameBytes = 4096;
/// A longer emulator name ("unicorn 2.1.1") in a header is corrupt.
inline constexpr uint64_t kMaxEmulatorNameBytes = 64;

namespace detail {

/// What both ends of a stream remember from the records so far. Updated only after a record
/// has been completely encoded or decoded, so a failed decode leaves it unchanged.
struct StreamState {
  static constexpr size_t kDigestWords = 32 + 6 + 1;  // regs, csrs, devices

  uint64_t seq = 0;
  uint64_t icount = 0;
  std::array<uint64_t, 4> clock{};  // last value per ClockSource (1..4)
  uint64_t timer_generation = 0;
  uint64_t irq_pc = 0;
  std::array<uint64_t, kDigestWords> digest_words{};
  std::vector<uint64_t> ram_chunks;

  void remember(const Record& record);
};

}  // namespace detail

/// Encodes the records of one stream, in order. Not thread-safe; one per stream.
class RecordEncoder {
 public:
  /// Appends the encoding of `record` to `out`. Throws LogError (and appends nothing) for a
  /// record a decoder would reject: an unknown enum value, a payload over kMaxPayloadBytes,
  /// more than kMaxRamChunks chunks.
  void encode(const Record& record, std::vector<uint8_t>& out);

 private:
  detail::StreamState state_;
};

/// A record and the number of bytes its encoding took.
struct DecodedRecord {
  Record record;
  size_t size = 0;
};

/// Decodes the records of one stream, in order. Not thread-safe; one per stream.
class RecordDecoder {
 public:
  /// Decodes the record that starts at bytes[0]; `stream_offset` is where bytes[0] lies in
  /// the file or stream, for messages. Never reads outside `bytes`. Throws LogError naming
  /// the offset and the record number for truncated or malformed bytes; the decoder's state is
  /// then unchanged.
  DecodedRecord decode(std::span<const uint8_t> bytes, uint64_t stream_offset);

  /// The number the next record should carry (previous seq + 1), as used in messages.
  uint64_t next_record_number() const { return state_.seq + 1; }

 private:
  detail::StreamState state_;
};

/// Appends the encoding of `header` (everything but its version, which a file stores in
/// front of it) to `out`. Throws LogError if the guest name is longer than kMaxGuestNameBytes,
/// the emulator name longer than kMaxEmulatorNameBytes, or the digest interval is 0.
void encode_header(const LogHeader& header, std::vector<uint8_t>& out);

/// Decodes a header encoded by encode_header; `bytes` must hold exactly one. Its version is
/// set to kFormatVersion (the caller has checked the stored one). Throws LogError naming the
/// offset.
LogHeader decode_header(std::span<const uint8_t> bytes, uint64_t stream_offset);

}  // namespace vmft::logchannel
