#pragma once
// Frames: the unit that is checksummed and written. A frame is
//   [u32 payload length, little-endian][u32 checksum, little-endian][payload]
// where the checksum is the low 32 bits of XXH3_64bits(payload) and the payload holds whole
// records (a record never spans two frames).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vmft::logchannel {

inline constexpr size_t kFrameHeaderBytes = 8;

/// A frame whose length field says more than this is corrupt. A writer closes a frame once it
/// holds more than 64 KiB, so a frame is at most 64 KiB plus one record, and a record is at
/// most a 16 MiB payload (or up to 10 bytes per digest chunk) plus a few fields.
inline constexpr uint32_t kMaxFramePayload = 32u << 20;

/// The checksum stored in a frame's header for `payload`.
uint32_t frame_checksum(std::span<const uint8_t> payload);

/// The 8 bytes that go in front of `payload`.
std::array<uint8_t, kFrameHeaderBytes> frame_header(std::span<const uint8_t> payload);

/// Appends a whole frame holding `payload` to `out`.
void append_frame(std::span<const uint8_t> payload, std::vector<uint8_t>& out);

/// The fields of a frame's 8-byte header.
struct FrameHeader {
  uint32_t payload_bytes = 0;
  uint32_t checksum = 0;
};

FrameHeader parse_frame_header(std::span<const uint8_t, kFrameHeaderBytes> bytes);

}  // namespace vmft::logchannel
