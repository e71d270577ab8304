#include "vmft/logchannel/ByteIo.h"

#include <cstdio>

#include "vmft/logchannel/LogError.h"

namespace vmft::logchannel::detail {

namespace {
constexpr size_t kMaxVarintBytes = 10;  // ceil(64 / 7)
}

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

void ByteWriter::fixed32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::fixed64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::varint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}

void ByteReader::fail_at(size_t pos, const std::string& what) const {
  throw LogError("offset " + hex(stream_offset_ + pos) + " (" + context_ + "): " + what);
}

void ByteReader::need(size_t n) const {
  if (n > remaining()) {
    fail_at(pos_, "cut short: " + std::to_string(n) + " more bytes needed, " +
                      std::to_string(remaining()) + " left");
  }
}

uint8_t ByteReader::u8() {
  need(1);
  return bytes_[pos_++];
}

uint32_t ByteReader::fixed32() {
  need(4);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes_[pos_++]) << (8 * i);
  return v;
}

uint64_t ByteReader::fixed64() {
  need(8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes_[pos_++]) << (8 * i);
  return v;
}

uint64_t ByteReader::varint() {
  const size_t start = pos_;
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    const uint8_t byte = u8();
    // The tenth byte holds only bit 63: anything more overflows 64 bits.
    if (i == kMaxVarintBytes - 1 && byte > 1) fail_at(start, "varint overflows 64 bits");
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return v;
  }
  fail_at(start, "varint overflows 64 bits");  // unreachable: the tenth byte returned or failed
}

uint32_t ByteReader::varint32() {
  const size_t start = pos_;
  const uint64_t v = varint();
  if (v > UINT32_MAX) fail_at(start, "value " + std::to_string(v) + " does not fit 32 bits");
  return static_cast<uint32_t>(v);
}

uint64_t ByteReader::bounded(uint64_t limit, const char* what) {
  const size_t start = pos_;
  const uint64_t n = varint();
  if (n > limit) {
    fail_at(start, std::string(what) + " of " + std::to_string(n) + " exceeds the limit of " +
                       std::to_string(limit));
  }
  return n;
}

std::span<const uint8_t> ByteReader::sized_bytes(uint64_t limit, const char* what) {
  const size_t start = pos_;
  const uint64_t n = bounded(limit, what);
  if (n > remaining()) {
    fail_at(start, std::string(what) + " of " + std::to_string(n) + " but only " +
                       std::to_string(remaining()) + " bytes left");
  }
  return bytes(static_cast<size_t>(n));
}

std::span<const uint8_t> ByteReader::bytes(size_t n) {
  need(n);
  const auto out = bytes_.subspan(pos_, n);
  pos_ += n;
  return out;
}

}  // namespace vmft::logchannel::detail
