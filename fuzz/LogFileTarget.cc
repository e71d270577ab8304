// LogReader over a file of any bytes: the magic, the version, the header frame and its
// decoder, record frames, the record decoder and the seq checks.
#include <vector>

#include "FuzzSupport.h"
#include "vmft/logchannel/Frame.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::fuzz {

namespace {

using namespace vmft::logchannel;

constexpr size_t kPreambleBytes = 12;  // "VMFTLOG\n" and the version

uint32_t get_u32(const uint8_t* at) {
  return uint32_t{at[0]} | uint32_t{at[1]} << 8 | uint32_t{at[2]} << 16 | uint32_t{at[3]} << 24;
}

void put_u32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Gives every whole frame after the preamble the checksum of its payload.
void repair_checksums(std::vector<uint8_t>& file) {
  size_t at = kPreambleBytes;
  while (at <= file.size() && file.size() - at >= kFrameHeaderBytes) {
    const uint32_t length = get_u32(&file[at]);
    const size_t payload = at + kFrameHeaderBytes;
    if (length > file.size() - payload) return;
    put_u32(&file[at + 4], frame_checksum(std::span(file).subspan(payload, length)));
    at = payload + length;
  }
}

void expect_header_round_trip(const LogHeader& header) {
  std::vector<uint8_t> bytes;
  encode_header(header, bytes);
  const LogHeader again = decode_header(bytes, 0);
  expect(again.guest_digest == header.guest_digest && again.guest_name == header.guest_name &&
             again.ram_size == header.ram_size && again.has_udp == header.has_udp &&
             again.has_tcp == header.has_tcp && again.digest_interval == header.digest_interval &&
             again.emulator == header.emulator,
         "a decoded log header does not survive encoding and decoding again");
}

}  // namespace

void log_file(Bytes data) {
  std::vector<uint8_t> file(data.begin(), data.end());
  repair_checksums(file);
  const MemFile mem(file);
  try {
    LogReader reader(mem.path());
    expect_header_round_trip(reader.header());
    uint64_t seq = 0;
    while (const auto record = reader.next_record()) {
      expect(record->seq == ++seq, "LogReader returned records out of order");
      (void)describe(*record);
    }
    expect(reader.ended() && !reader.next_record(), "LogReader went on after the end");
  } catch (const LogError&) {
  }
}

}  // namespace vmft::fuzz
