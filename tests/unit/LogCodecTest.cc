// The log's record codec: round trips, compactness, and rejection of bad bytes.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
#include <random>
#include <regex>

#include "LogTestSupport.h"
#include "vmft/logchannel/RecordCodec.h"

namespace vmft::logchannel {
namespace {

using testing::SameRecord;

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();

std::vector<uint8_t> encode_all(const std::vector<Record>& records) {
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  for (const Record& r : records) encoder.encode(r, bytes);
  return bytes;
}

std::vector<Record> decode_all(std::span<const uint8_t> bytes) {
  RecordDecoder decoder;
  std::vector<Record> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    DecodedRecord d = decoder.decode(bytes.subspan(pos), pos);
    pos += d.size;
    records.push_back(std::move(d.record));
  }
  return records;
}

void expect_round_trip(const std::vector<Record>& records) {
  const std::vector<Record> decoded = decode_all(encode_all(records));
  ASSERT_EQ(decoded.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) EXPECT_TRUE(SameRecord(decoded[i], records[i]));
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode_all(bytes);
  } catch (const LogError& e) {
    return e.what();
  }
  return "no error";
}

// The bytes of record #1 (seq delta 1, icount delta 0) with this tag, then `body`.
std::vector<uint8_t> raw_record(uint8_t tag, std::vector<uint8_t> body) {
  body.insert(body.begin(), {tag, 1, 0});
  return body;
}

Record random_record(std::mt19937_64& rng, uint64_t seq, uint64_t icount) {
  auto data = [&] {
    std::vector<uint8_t> d(rng() % 100);
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    return d;
  };
  switch (rng() % 8) {
    case 0: return {seq, icount, ClockRead{static_cast<ClockSource>(1 + rng() % 4), rng()}};
    case 1: return {seq, icount, EntropyRead{rng()}};
    case 2: return {seq, icount, TimerFired{rng() % 1000}};
    case 3:
      return {seq, icount,
              NetInput{1 + uint32_t(rng() % 4), uint32_t(rng()), uint32_t(rng()),
                       uint32_t(rng() % 65536), data()}};
    case 4: return {seq, icount, InterruptTaken{uint32_t(rng() % 16), 0x80000000 + rng() % 4096}};
    case 5:
      return {seq, icount,
              Output{static_cast<OutputKind>(1 + rng() % 4), uint32_t(rng()), uint32_t(rng()),
                     uint32_t(rng() % 65536), data()}};
    case 6: {
      StateDigest d = testing::sample_digest();
      d.regs[rng() % 32] = rng();
      d.ram_chunks.resize(rng() % 8, rng() % 2 ? rng() : 7);
      return {seq, icount, d};
    }
    default:
      return {seq, icount, RunEnd{static_cast<RunEnd::Reason>(1 + rng() % 3), int32_t(rng())}};
  }
}

TEST(RecordCodec, RoundTripsEveryRecordType) { expect_round_trip(testing::one_of_each()); }

TEST(RecordCodec, RoundTripsFramesInAndOut) {
  const std::vector<uint8_t> frame(60, 0xab);
  expect_round_trip({
      {1, 10, NetInput{VMFT_NIC_KIND_FRAME, 0, 0, 0, frame}},
      {2, 20, Output{OutputKind::kFrame, 0, 0, 0, frame}},
  });
  EXPECT_EQ(describe({2, 20, Output{OutputKind::kFrame, 0, 0, 0, frame}})
                .rfind("#2 @20 output frame len=60", 0),
            0u);
}

TEST(RecordCodec, RoundTripsTheLinkEvent) {
  expect_round_trip({{3, 30, NetInput{VMFT_NIC_KIND_LINK, 0, 0, 0, {}}}});
  EXPECT_EQ(describe({3, 30, NetInput{VMFT_NIC_KIND_LINK, 0, 0, 0, {}}}), "#3 @30 net link");
}

TEST(RecordCodec, RoundTripsEmptyAndLargePayloads) {
  std::vector<uint8_t> large(kMaxPayloadBytes);
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<uint8_t>(i * 7);
  expect_round_trip({
      {1, 10, NetInput{VMFT_NIC_KIND_TCP_OPEN, 1, 0x7f000001, 40000, {}}},
      {2, 20, NetInput{VMFT_NIC_KIND_UDP, 0, 0x7f000001, 40000, large}},
      {3, 30, Output{OutputKind::kTcpClose, 1, 0, 0, {}}},
      {4, 40, Output{OutputKind::kConsole, 0, 0, 0, large}},
  });
}

TEST(RecordCodec, RoundTripsExtremeValues) {
  StateDigest digest;
  digest.regs.fill(kMax64);
  digest.csrs.fill(kMax64);
  digest.devices = kMax64;
  digest.ram_chunks.assign(3, kMax64);
  // Deltas that wrap both ways: max, then 0, then max again.
  expect_round_trip({
      {kMax64, kMax64, ClockRead{ClockSource::kWall, kMax64}},
      {0, 0, ClockRead{ClockSource::kWall, 0}},
      {kMax64, kMax64, ClockRead{ClockSource::kCsrCycle, kMax64}},
      {1, kMax64, EntropyRead{kMax64}},
      {kMax64, 0, TimerFired{kMax64}},
      {2, kMax64, NetInput{VMFT_NIC_KIND_UDP, kMax32, kMax32, kMax32, {0xff}}},
      {kMax64, kMax64, InterruptTaken{kMax32, kMax64}},
      {3, 0, InterruptTaken{0, 0}},
      {kMax64, kMax64, Output{OutputKind::kTcpData, kMax32, kMax32, kMax32, {0}}},
      {4, 1, digest},
      {kMax64, kMax64, RunEnd{RunEnd::Reason::kExited, std::numeric_limits<int32_t>::min()}},
      {5, 5, RunEnd{RunEnd::Reason::kFaulted, std::numeric_limits<int32_t>::max()}},
  });
}

TEST(RecordCodec, KeepsManyDeltaEncodedRecordsExact) {
  const uint64_t seed = 20240611;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<Record> records;
  uint64_t icount = 0;
  for (uint64_t seq = 1; seq <= 20000; ++seq) {
    icount += rng() % 3 == 0 ? 0 : rng() % 100000;
    records.push_back(random_record(rng, seq, icount));
  }
  expect_round_trip(records);
}

TEST(RecordCodec, RoundTripsDigestsWhoseRamGrowsShrinksAndChanges) {
  std::vector<Record> records;
  const std::vector<std::vector<uint64_t>> chunk_sets = {
      {}, {1, 2, 3}, {1, 2, 3}, {1, 9, 3, 4, 5}, {1, 9}, {7, 9, 7, 9, 7, 9}, {}, {1}};
  for (const auto& chunks : chunk_sets) {
    StateDigest d = testing::sample_digest();
    d.ram_chunks = chunks;
    records.push_back({records.size() + 1, 100 * records.size(), d});
  }
  expect_round_trip(records);
}

TEST(RecordCodec, EncodesAnUnchangedDigestInAFewBytes) {
  StateDigest digest = testing::sample_digest();
  digest.ram_chunks.assign(1024, 0x5555);  // 64 MiB of RAM
  RecordEncoder encoder;
  std::vector<uint8_t> first;
  encoder.encode({1, 1000, digest}, first);
  std::vector<uint8_t> second;
  digest.regs[0] += 4;           // the pc moved
  digest.ram_chunks[17] = 0x66;  // one chunk (the stack) changed
  encoder.encode({2, 2000, digest}, second);
  EXPECT_GT(first.size(), 8u * 1024);
  EXPECT_LE(second.size(), 32u);
}

TEST(RecordCodec, RoundTripsAnUnchangedDigestAsTheLastRecord) {
  StateDigest digest = testing::sample_digest();
  digest.ram_chunks.assign(1024, 0x5555);
  // The second digest's few bytes describe 1024 chunks: nothing follows them in the stream.
  expect_round_trip({{1, 1000, digest}, {2, 2000, digest}});
}

TEST(RecordCodec, IdleTickTakesAtMost25Bytes) {
  constexpr size_t kTicks = 1000;
  testing::IdleTicks ticks(7);
  std::vector<Record> records;
  for (size_t i = 0; i < kTicks; ++i) ticks.append_tick(records);
  const double per_tick = static_cast<double>(encode_all(records).size()) / kTicks;
  RecordProperty("bytes_per_tick", std::to_string(per_tick));
  std::cout << "idle tick (timer, irq, clock): " << per_tick << " bytes\n";
  EXPECT_LE(per_tick, 25.0);
}

TEST(RecordDecoder, RejectsUnknownTypeTagNamingOffsetAndRecord) {
  const std::string error = decode_error(raw_record(0x42, {}));
  EXPECT_EQ(error, "offset 0x0 (record #1): unknown record type tag 0x42");
}

TEST(RecordDecoder, RejectsUnknownEnumValues) {
  EXPECT_EQ(decode_error(raw_record(1, {9, 0})), "offset 0x3 (record #1): unknown clock source 9");
  EXPECT_EQ(decode_error(raw_record(4, {7, 0, 0, 0, 0, 0, 0, 0})),
            "offset 0x3 (record #1): unknown net event kind 7");
  EXPECT_EQ(decode_error(raw_record(6, {0, 0, 0, 0, 0, 0, 0, 0})),
            "offset 0x3 (record #1): unknown output kind 0");
  EXPECT_EQ(decode_error(raw_record(8, {4, 0})), "offset 0x3 (record #1): unknown end reason 4");
}

TEST(RecordDecoder, NamesTheRecordNumberOfALaterRecord) {
  std::vector<uint8_t> bytes = encode_all(testing::one_of_each());
  const size_t end_of_valid = bytes.size();
  bytes.push_back(0xee);
  char offset[32];
  std::snprintf(offset, sizeof offset, "offset 0x%zx", end_of_valid);
  EXPECT_EQ(decode_error(bytes),
            std::string(offset) + " (record #9): unknown record type tag 0xee");
}

TEST(RecordDecoder, RejectsPayloadOver16MiB) {
  // NetInput udp, conn 0, ip 0, port 0, then a length of 16 MiB + 1 as a varint.
  const std::vector<uint8_t> bytes = raw_record(4, {1, 0, 0, 0, 0, 0, 0, 0x81, 0x80, 0x80, 0x08});
  EXPECT_EQ(decode_error(bytes),
            "offset 0xa (record #1): payload of 16777217 exceeds the limit of 16777216");
}

TEST(RecordDecoder, RejectsPayloadLongerThanTheBytesLeft) {
  const std::vector<uint8_t> bytes = raw_record(4, {1, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'});
  EXPECT_EQ(decode_error(bytes), "offset 0xa (record #1): payload of 5 but only 2 bytes left");
}

TEST(RecordDecoder, RejectsDigestWithTooManyRamChunks) {
  // No changed words, then a chunk count of 1<<20 + 1.
  const std::vector<uint8_t> bytes = raw_record(7, {0, 0x81, 0x80, 0x40});
  EXPECT_EQ(decode_error(bytes),
            "offset 0x4 (record #1): RAM chunk count of 1048577 exceeds the limit of 1048576");
}

TEST(RecordDecoder, RejectsRamChunkRunsThatDoNotAddUp) {
  // No changed words, 100 chunks, then a run of 3 unchanged and 200 changed chunks.
  const std::vector<uint8_t> body = {0, 100, 3, 200, 1};
  EXPECT_NE(decode_error(raw_record(7, body)).find("RAM chunk runs do not add up to 100"),
            std::string::npos);
}

// The first digest is compared with zero-filled RAM, so a large, mostly untouched RAM costs
// a few bytes rather than 8 per chunk.
TEST(RecordEncoder, FirstDigestOfMostlyUntouchedRamIsSmall) {
  const std::vector<uint8_t> zeros(StateDigest::kDigestChunkBytes);
  StateDigest digest;
  digest.ram_chunks.assign(1024, XXH3_64bits(zeros.data(), zeros.size()));
  digest.ram_chunks[0] = 0x1234;
  digest.ram_chunks[1] = 0x5678;
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  encoder.encode(Record{1, 0, digest}, bytes);
  EXPECT_LT(bytes.size(), 40u);
  RecordDecoder decoder;
  EXPECT_EQ(std::get<StateDigest>(decoder.decode(bytes, 0).record.body).ram_chunks,
            digest.ram_chunks);
}

TEST(RecordDecoder, RejectsVarintOver64Bits) {
  const std::vector<uint8_t> bytes = {3,    0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x02};
  EXPECT_EQ(decode_error(bytes), "offset 0x1 (record #1): varint overflows 64 bits");
}

TEST(RecordDecoder, RejectsEveryTruncationOfAStream) {
  const std::vector<Record> records = testing::one_of_each();
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  std::vector<size_t> boundaries = {0};
  for (const Record& r : records) {
    encoder.encode(r, bytes);
    boundaries.push_back(bytes.size());
  }
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    // A heap copy of exactly `cut` bytes, so a sanitizer sees any over-read.
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + cut);
    const auto boundary = std::find(boundaries.begin(), boundaries.end(), cut);
    if (boundary != boundaries.end()) {
      EXPECT_EQ(decode_all(prefix).size(), static_cast<size_t>(boundary - boundaries.begin()));
    } else {
      const size_t record =
          std::upper_bound(boundaries.begin(), boundaries.end(), cut) - boundaries.begin();
      EXPECT_NE(decode_error(prefix).find("(record #" + std::to_string(record) + "): "),
                std::string::npos)
          << decode_error(prefix);
    }
  }
}

TEST(RecordDecoder, SurvivesRandomBytes) {
  const uint64_t seed = 12345;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  size_t errors = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> garbage(rng() % 64);
    for (auto& b : garbage) b = static_cast<uint8_t>(rng());
    if (rng() % 2 && !garbage.empty()) garbage[0] = static_cast<uint8_t>(1 + rng() % 8);
    try {
      decode_all(garbage);
    } catch (const LogError&) {
      ++errors;
    }  // any other exception, or a crash, fails the test
  }
  EXPECT_GT(errors, 15000u);
}

TEST(RecordDecoder, SurvivesCorruptedRecords) {
  const uint64_t seed = 777;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<uint8_t> valid = encode_all(testing::one_of_each());
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = valid;
    for (int flips = 1 + rng() % 3; flips > 0; --flips) {
      bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    try {
      decode_all(bytes);
    } catch (const LogError&) {
    }  // any other exception, or a crash, fails the test
  }
}

TEST(RecordDecoder, KeepsItsStateAfterAnError) {
  const std::vector<Record> records = {{1, 100, ClockRead{ClockSource::kMono, 5000}},
                                       {2, 200, ClockRead{ClockSource::kMono, 7000}}};
  const std::vector<uint8_t> bytes = encode_all(records);
  RecordDecoder decoder;
  const DecodedRecord first = decoder.decode(bytes, 0);
  const auto second = std::span(bytes).subspan(first.size);
  EXPECT_THROW(decoder.decode(second.first(second.size() - 1), first.size), LogError);
  EXPECT_TRUE(SameRecord(decoder.decode(second, first.size).record, records[1]));
}

TEST(RecordEncoder, RefusesPayloadOver16MiBAndAppendsNothing) {
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  const Record big{
      1, 0, Output{OutputKind::kConsole, 0, 0, 0, std::vector<uint8_t>(kMaxPayloadBytes + 1)}};
  EXPECT_THROW(encoder.encode(big, bytes), LogError);
  EXPECT_TRUE(bytes.empty());
}

TEST(RecordEncoder, RefusesUnknownEnumValue) {
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  try {
    encoder.encode({1, 0, ClockRead{static_cast<ClockSource>(9), 0}}, bytes);
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_STREQ(e.what(), "cannot encode record #1: unknown clock source");
  }
}

TEST(LogHeaderCodec, RoundTrips) {
  const LogHeader header{kFormatVersion, 0x0123456789abcdef, "counter.elf", 64 << 20, true, false,
                         12345,          "unicorn 2.1.1"};
  std::vector<uint8_t> bytes;
  encode_header(header, bytes);
  const LogHeader decoded = decode_header(bytes, 12);
  EXPECT_EQ(decoded.guest_digest, header.guest_digest);
  EXPECT_EQ(decoded.guest_name, header.guest_name);
  EXPECT_EQ(decoded.ram_size, header.ram_size);
  EXPECT_EQ(decoded.has_udp, true);
  EXPECT_EQ(decoded.has_tcp, false);
  EXPECT_EQ(decoded.digest_interval, 12345u);
  EXPECT_EQ(decoded.emulator, "unicorn 2.1.1");
  EXPECT_EQ(decoded.version, kFormatVersion);
}

TEST(LogHeaderCodec, RoundTripsTheFrameNicsSettings) {
  LogHeader header;
  header.frames = FrameNicConfig{0x0a0012c60002, 0xc612000a, 24, 0xc6120001, 1500};
  std::vector<uint8_t> bytes;
  encode_header(header, bytes);
  EXPECT_EQ(decode_header(bytes, 0).frames, header.frames);
  header.frames.reset();
  bytes.clear();
  encode_header(header, bytes);
  EXPECT_EQ(decode_header(bytes, 0).frames, std::nullopt);
}

TEST(LogHeaderCodec, RejectsFrameNicSettingsOutOfRange) {
  const auto error = [](FrameNicConfig f) {
    LogHeader header;
    header.frames = f;
    std::vector<uint8_t> bytes;
    encode_header(header, bytes);
    try {
      decode_header(bytes, 0);
    } catch (const LogError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error({1ULL << 48, 1, 24, 0, 1500}).find("a MAC address of more than 48 bits"),
            std::string::npos);
  EXPECT_NE(error({2, 1, 33, 0, 1500}).find("a prefix length over 32"), std::string::npos);
  EXPECT_NE(error({2, 1, 24, 0, 67}).find("an MTU of 67 (not from 68 to 9000)"), std::string::npos);
  EXPECT_NE(error({2, 1, 24, 0, 9001}).find("an MTU of 9001"), std::string::npos);
  EXPECT_EQ(error({2, 1, 24, 0, 68}), "no error");
}

TEST(LogHeaderCodec, RefusesToEncodeAnEmulatorNameLongerThan64Bytes) {
  LogHeader header;
  header.emulator = std::string(65, 'u');
  std::vector<uint8_t> bytes;
  EXPECT_THROW(encode_header(header, bytes), LogError);
  header.emulator.pop_back();
  encode_header(header, bytes);
  EXPECT_EQ(decode_header(bytes, 0).emulator, header.emulator);
}

// A machine divides by it: a header that says 0 is corrupt.
TEST(LogHeaderCodec, RejectsADigestIntervalOfZero) {
  const std::vector<uint8_t> bytes = {0, 0, 0, 0, 0, 0, 0, 0,  // guest digest
                                      1,                       // ram_size
                                      0,                       // digest interval
                                      0, 0, 0};                // flags, empty name, emulator
  try {
    decode_header(bytes, 20);
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_STREQ(e.what(), "offset 0x1d (the header): digest interval of 0 instructions");
  }
}

TEST(LogHeaderCodec, RefusesToEncodeADigestIntervalOfZero) {
  LogHeader header;
  header.digest_interval = 0;
  std::vector<uint8_t> bytes;
  EXPECT_THROW(encode_header(header, bytes), LogError);
}

TEST(LogHeaderCodec, RejectsTrailingBytes) {
  std::vector<uint8_t> bytes;
  encode_header(LogHeader{}, bytes);
  bytes.push_back(0);
  try {
    decode_header(bytes, 20);
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_STREQ(e.what(), "offset 0x25 (the header): 1 unexpected bytes after the header");
  }
}

TEST(RecordDescribe, ClockRead) {
  EXPECT_EQ(describe({12, 4711, ClockRead{ClockSource::kMono, 1234567}}),
            "#12 @4711 clock mono=1234567");
}

TEST(RecordDescribe, NetInputShowsAnEscapedPreviewOfAtMost32Bytes) {
  const NetInput input{VMFT_NIC_KIND_TCP_DATA, 3, 0x7f000001, 5555,
                       testing::bytes_of("INCR hits\r\n\"q\"\\ \x01 and some more bytes here")};
  EXPECT_EQ(describe({13, 4800, input}),
            "#13 @4800 net tcp-data conn=3 peer=127.0.0.1:5555 len=42 "
            "\"INCR hits\\r\\n\\\"q\\\"\\\\ \\x01 and some more \"...");
}

TEST(RecordDescribe, InterruptAndOutput) {
  EXPECT_EQ(describe({14, 4810, InterruptTaken{11, 0x80000124}}),
            "#14 @4810 irq cause=11 pc=0x80000124");
  EXPECT_EQ(describe({15, 5000, Output{OutputKind::kUdp, 0, 0x0a000001, 9, {'o', 'k'}}}),
            "#15 @5000 output udp peer=10.0.0.1:9 len=2 \"ok\"");
  EXPECT_EQ(describe({16, 5001, Output{OutputKind::kTcpClose, 4, 0, 0, {}}}),
            "#16 @5001 output tcp-close conn=4");
}

TEST(RecordDescribe, DigestShowsPcAndOneHashOfRam) {
  const std::string line = describe({16, 6000, testing::sample_digest()});
  EXPECT_TRUE(
      std::regex_match(line, std::regex("#16 @6000 digest pc=0x80000000 ram=[0-9a-f]{16} chunks=5 "
                                        "devices=feedface12345678")))
      << line;
}

TEST(RecordDescribe, RunEnd) {
  EXPECT_EQ(describe({17, 7000, RunEnd{RunEnd::Reason::kExited, 0}}),
            "#17 @7000 end exited code=0");
  EXPECT_EQ(describe({18, 7000, RunEnd{RunEnd::Reason::kStopped, 0}}), "#18 @7000 end stopped");
}

}  // namespace
}  // namespace vmft::logchannel
