#include "vmft/logchannel/Frame.h"

#include <xxhash.h>

#include <cassert>

namespace vmft::logchannel {

namespace {

void put_u32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t get_u32(const uint8_t* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(at[i]) << (8 * i);
  return v;
}

}  // namespace

uint32_t frame_checksum(std::span<const uint8_t> payload) {
  return static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size()));
}

std::array<uint8_t, kFrameHeaderBytes> frame_header(std::span<const uint8_t> payload) {
  assert(payload.size() <= kMaxFramePayload);
  std::array<uint8_t, kFrameHeaderBytes> header;
  put_u32(header.data(), static_cast<uint32_t>(payload.size()));
  put_u32(header.data() + 4, frame_checksum(payload));
  return header;
}

void append_frame(std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  const auto header = frame_header(payload);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
}

FrameHeader parse_frame_header(std::span<const uint8_t, kFrameHeaderBytes> bytes) {
  return {get_u32(bytes.data()), get_u32(bytes.data() + 4)};
}

}  // namespace vmft::logchannel
