#pragma once
// The building blocks of the log's encoding: little-endian fixed-width fields, LEB128 varints
// and zigzag-encoded signed differences: of the log records, and of the channel's messages
// (channel/Messages).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vmft::logchannel::detail {

/// "0x1f": how offsets and addresses appear in messages.
std::string hex(uint64_t value);

/// Maps small signed differences to small unsigned numbers (0, -1, 1, -2 -> 0, 1, 2, 3).
inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

/// The difference `value - previous` modulo 2^64, zigzagged: every pair round-trips.
inline uint64_t zigzag_delta(uint64_t value, uint64_t previous) {
  return zigzag(static_cast<int64_t>(value - previous));
}
inline uint64_t apply_zigzag_delta(uint64_t previous, uint64_t encoded) {
  return previous + static_cast<uint64_t>(unzigzag(encoded));
}

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(v); }
  void fixed32(uint32_t v);
  void fixed64(uint64_t v);
  void varint(uint64_t v);
  void bytes(std::span<const uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

 private:
  std::vector<uint8_t>& out_;
};

/// Reads fields from a span, never past its end. Every failure is a LogError that names the
/// byte's offset in the stream and what was being read ("record #12", "the header").
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, uint64_t stream_offset, std::string context)
      : bytes_(bytes), stream_offset_(stream_offset), context_(std::move(context)) {}

  uint8_t u8();
  uint32_t fixed32();
  uint64_t fixed64();
  uint64_t varint();
  /// A varint that must fit 32 bits.
  uint32_t varint32();
  /// A varint that must be at most `limit`; `what` names it in the error.
  uint64_t bounded(uint64_t limit, const char* what);
  /// A varint length (at most `limit`), then that many bytes.
  std::span<const uint8_t> sized_bytes(uint64_t limit, const char* what);
  std::span<const uint8_t> bytes(size_t n);

  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail_at(size_t pos, const std::string& what) const;

 private:
  void need(size_t n) const;

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  uint64_t stream_offset_;
  std::string context_;
};

}  // namespace vmft::logchannel::detail
