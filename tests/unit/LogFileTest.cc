// The file log: what LogWriter writes, LogReader reads back, and how it rejects bad files.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "LogTestSupport.h"
#include "vmft/logchannel/Frame.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::logchannel {
namespace {

namespace fs = std::filesystem;
using testing::SameRecord;

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

LogHeader test_header() {
  return {kFormatVersion, 0x0123456789abcdef, "counter.elf", 16 << 20, true, true, 1ULL << 28,
          "unicorn 2.1.1"};
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<Record> read_all(LogReader& reader) {
  std::vector<Record> records;
  while (auto r = reader.next_record()) records.push_back(std::move(*r));
  return records;
}

// The message of the LogError that opening and reading the whole log throws.
std::string read_error(const fs::path& path) {
  try {
    LogReader reader(path);
    read_all(reader);
  } catch (const LogError& e) {
    return e.what();
  }
  return "no error";
}

// Each test gets its own directory for its files.
class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("vmft-" + std::string(test->name()) + "-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = dir_ / "run.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `records`, flushing after the ones whose index is in `flush_after`; returns the
  // file offset at which each frame starts.
  std::vector<uint64_t> write_log(const std::vector<Record>& records,
                                  const std::vector<size_t>& flush_after = {}) {
    LogWriter writer(path_, test_header());
    std::vector<uint64_t> frame_offsets = {writer.bytes_written()};
    for (size_t i = 0; i < records.size(); ++i) {
      writer.append(records[i]);
      if (std::find(flush_after.begin(), flush_after.end(), i) != flush_after.end()) {
        writer.flush();
        frame_offsets.push_back(writer.bytes_written());
      }
    }
    writer.close();
    return frame_offsets;
  }

  fs::path dir_;
  fs::path path_;
};

using LogWriterTest = LogFileTest;
using LogReaderTest = LogFileTest;
using GuestFileDigestTest = LogFileTest;

TEST_F(LogFileTest, ReadsBackTheHeaderAndRecordsWritten) {
  write_log(testing::one_of_each(), {2, 5});
  LogReader reader(path_);
  EXPECT_EQ(reader.header().version, kFormatVersion);
  EXPECT_EQ(reader.header().guest_digest, 0x0123456789abcdefu);
  EXPECT_EQ(reader.header().guest_name, "counter.elf");
  EXPECT_EQ(reader.header().ram_size, 16u << 20);
  EXPECT_TRUE(reader.header().has_udp);
  EXPECT_TRUE(reader.header().has_tcp);
  const std::vector<Record> expected = testing::one_of_each();
  const std::vector<Record> read = read_all(reader);
  ASSERT_EQ(read.size(), expected.size());
  for (size_t i = 0; i < read.size(); ++i) EXPECT_TRUE(SameRecord(read[i], expected[i]));
}

TEST_F(LogWriterTest, WritesAFrameOnceMoreThan64KiBAreBuffered) {
  LogWriter writer(path_, test_header());
  const uint64_t header_bytes = writer.bytes_written();
  // Records of a little over 1000 bytes: 64 of them stay under 64 KiB, 65 go over.
  auto record = [](uint64_t seq) {
    return Record{seq, seq * 10, Output{OutputKind::kConsole, 0, 0, 0, std::vector<uint8_t>(1000)}};
  };
  for (uint64_t seq = 1; seq <= 64; ++seq) writer.append(record(seq));
  EXPECT_EQ(writer.bytes_written(), header_bytes);
  writer.append(record(65));
  EXPECT_GT(writer.bytes_written(), header_bytes + 64 * 1024);
  writer.close();
  LogReader reader(path_);
  EXPECT_EQ(read_all(reader).size(), 65u);
}

TEST_F(LogWriterTest, CountsEveryByteItWrites) {
  LogWriter writer(path_, test_header());
  for (const Record& r : testing::one_of_each()) writer.append(r);
  writer.close();
  EXPECT_EQ(writer.bytes_written(), fs::file_size(path_));
}

TEST_F(LogWriterTest, DestructorWritesWhatWasBuffered) {
  {
    LogWriter writer(path_, test_header());
    for (const Record& r : testing::one_of_each()) writer.append(r);
  }
  LogReader reader(path_);
  EXPECT_EQ(read_all(reader).size(), testing::one_of_each().size());
}

TEST_F(LogFileTest, IdleGuestLogStaysUnder2500BytesPerSecond) {
  constexpr int kSeconds = 60;
  testing::IdleTicks ticks(11);
  std::vector<Record> records;
  for (int i = 0; i < kSeconds * 100; ++i) ticks.append_tick(records);
  const uint64_t header_end = write_log(records).front();
  const double per_second = static_cast<double>(fs::file_size(path_) - header_end) / kSeconds;
  RecordProperty("bytes_per_second", std::to_string(per_second));
  std::cout << "idle guest, 100 Hz timer: " << per_second << " log bytes/s\n";
  EXPECT_LT(per_second, 2500.0);
}

TEST_F(LogWriterTest, RefusesUncreatablePathNamingIt) {
  const fs::path bad = dir_ / "missing" / "run.log";
  try {
    LogWriter writer(bad, test_header());
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot create " + bad.string() + ": No such file or directory");
  }
}

TEST_F(LogWriterTest, AssertsOnASeqGap) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        LogWriter writer(path_, test_header());
        writer.append({1, 0, TimerFired{1}});
        writer.append({3, 0, TimerFired{2}});
      },
      "seq");
}

TEST_F(LogReaderTest, ReturnsNulloptAtACleanEnd) {
  write_log({{1, 10, TimerFired{1}}});
  LogReader reader(path_);
  EXPECT_TRUE(reader.next_record().has_value());
  EXPECT_FALSE(reader.next_record().has_value());
  EXPECT_FALSE(reader.next_record().has_value());
}

TEST_F(LogReaderTest, AcceptsALogWithoutRunEnd) {
  write_log({});
  LogReader reader(path_);
  EXPECT_FALSE(reader.next_record().has_value());
}

TEST_F(LogReaderTest, RejectsBadMagic) {
  write_bytes(path_, testing::bytes_of("#!/bin/sh\necho not a log\n"));
  EXPECT_EQ(read_error(path_), path_.string() + ": not a vmft log (bad magic)");
}

TEST_F(LogReaderTest, RejectsAnEmptyFile) {
  write_bytes(path_, {});
  EXPECT_EQ(read_error(path_), path_.string() + ": empty file, not a vmft log");
}

TEST_F(LogReaderTest, RejectsUnknownVersionBeforeParsingTheHeader) {
  std::vector<uint8_t> bytes = testing::bytes_of("VMFTLOG\n");
  bytes.insert(bytes.end(), {7, 0, 0, 0, 0xde, 0xad});  // version 7, then bytes no header has
  write_bytes(path_, bytes);
  EXPECT_EQ(read_error(path_), path_.string() +
                                   ": log format version 7 is not supported (this vmft reads "
                                   "version " +
                                   std::to_string(kFormatVersion) + ")");
}

// Version 1 headers had no digest interval: a replay could not know where to take its digests.
TEST_F(LogReaderTest, RefusesAVersion1Log) {
  std::vector<uint8_t> bytes = testing::bytes_of("VMFTLOG\n");
  bytes.insert(bytes.end(), {1, 0, 0, 0});
  // Guest digest; ram_size (16 MiB), flags (udp, tcp), name "g": no digest interval.
  std::vector<uint8_t> v1_header = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
  v1_header.insert(v1_header.end(), {0x80, 0x80, 0x80, 0x08, 3, 1, 'g'});
  append_frame(v1_header, bytes);
  write_bytes(path_, bytes);
  EXPECT_EQ(read_error(path_), path_.string() +
                                   ": log format version 1 is not supported (this vmft reads "
                                   "version " +
                                   std::to_string(kFormatVersion) + ")");
}

TEST_F(LogFileTest, HeaderKeepsTheDigestInterval) {
  LogHeader header = test_header();
  header.digest_interval = 1000;
  LogWriter(path_, header).close();
  EXPECT_EQ(LogReader(path_).header().digest_interval, 1000u);
}

TEST_F(LogReaderTest, RejectsTruncatedHeader) {
  write_log({});
  std::vector<uint8_t> bytes = read_bytes(path_);
  bytes.resize(bytes.size() - 3);
  write_bytes(path_, bytes);
  EXPECT_NE(read_error(path_).find(": truncated at offset 0xc: frame of "), std::string::npos)
      << read_error(path_);
  EXPECT_NE(read_error(path_).find("(the header)"), std::string::npos);
}

TEST_F(LogReaderTest, RejectsTruncatedFrameNamingItsOffset) {
  const std::vector<uint64_t> frames = write_log(testing::one_of_each(), {3});
  const uint64_t size = fs::file_size(path_);
  fs::resize_file(path_, size - 5);
  EXPECT_EQ(read_error(path_), path_.string() + ": truncated at offset " + hex(frames[1]) +
                                   ": frame of " + std::to_string(size - frames[1]) +
                                   " bytes, only " + std::to_string(size - 5 - frames[1]) +
                                   " left (records from #5)");
}

TEST_F(LogReaderTest, ReadsTheRecordsBeforeATruncatedFrame) {
  write_log(testing::one_of_each(), {3});
  fs::resize_file(path_, fs::file_size(path_) - 5);
  LogReader reader(path_);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(reader.next_record().has_value());
  EXPECT_THROW(reader.next_record(), LogError);
}

TEST_F(LogReaderTest, RejectsAFlippedByteWithAChecksumMismatch) {
  const std::vector<uint64_t> frames = write_log(testing::one_of_each(), {3});
  std::vector<uint8_t> bytes = read_bytes(path_);
  bytes[frames[1] + kFrameHeaderBytes + 6] ^= 0x10;
  write_bytes(path_, bytes);
  EXPECT_EQ(read_error(path_), path_.string() + ": frame at offset " + hex(frames[1]) +
                                   " (records from #5): checksum mismatch");
}

TEST_F(LogReaderTest, RejectsACorruptFrameLength) {
  const std::vector<uint64_t> frames = write_log(testing::one_of_each());
  std::vector<uint8_t> bytes = read_bytes(path_);
  bytes[frames[0] + 3] = 0xff;  // the length's top byte: over 4 GiB
  write_bytes(path_, bytes);
  EXPECT_NE(
      read_error(path_).find("frame at offset " + hex(frames[0]) + " (records from #1): length "),
      std::string::npos)
      << read_error(path_);
}

// A log with a gap in its numbering, which LogWriter refuses to write.
void write_log_with_records(const fs::path& path, const std::vector<Record>& records) {
  std::vector<uint8_t> bytes = testing::bytes_of("VMFTLOG\n");
  bytes.insert(bytes.end(), {kFormatVersion, 0, 0, 0});
  std::vector<uint8_t> payload;
  encode_header(test_header(), payload);
  append_frame(payload, bytes);
  payload.clear();
  RecordEncoder encoder;
  for (const Record& r : records) encoder.encode(r, payload);
  append_frame(payload, bytes);
  write_bytes(path, bytes);
}

TEST_F(LogReaderTest, RejectsAMissingRecord) {
  write_log_with_records(path_,
                         {{1, 10, TimerFired{1}}, {2, 20, TimerFired{2}}, {4, 40, TimerFired{4}}});
  LogReader reader(path_);
  ASSERT_TRUE(reader.next_record().has_value());
  ASSERT_TRUE(reader.next_record().has_value());
  try {
    reader.next_record();
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_NE(std::string(e.what()).find("record #4 follows #2: a record is missing"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(LogReaderTest, RejectsALogNotStartingAtRecordOne) {
  write_log_with_records(path_, {{2, 10, TimerFired{1}}});
  EXPECT_NE(read_error(path_).find("the first record is #2, not #1: a record is missing"),
            std::string::npos)
      << read_error(path_);
}

TEST_F(LogReaderTest, KeepsFailingAfterAnError) {
  write_log_with_records(path_, {{2, 10, TimerFired{1}}, {3, 20, TimerFired{2}}});
  LogReader reader(path_);
  EXPECT_THROW(reader.next_record(), LogError);
  EXPECT_THROW(reader.next_record(), LogError);
}

TEST_F(LogReaderTest, EveryTruncationEndsCleanlyAtAFrameBoundaryOrThrows) {
  const std::vector<uint64_t> frames = write_log(testing::one_of_each(), {1, 4});
  const std::vector<uint8_t> whole = read_bytes(path_);
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    write_bytes(path_, {whole.begin(), whole.begin() + cut});
    const bool at_frame = std::find(frames.begin(), frames.end(), cut) != frames.end();
    if (at_frame) {
      EXPECT_EQ(read_error(path_), "no error");
    } else {
      EXPECT_NE(read_error(path_), "no error");
    }
  }
}

TEST_F(GuestFileDigestTest, IsXxh64OfTheFileBytes) {
  std::vector<uint8_t> bytes(200'000);  // more than one read buffer
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + (i >> 9));
  const fs::path guest = dir_ / "guest.elf";
  write_bytes(guest, bytes);
  EXPECT_EQ(guest_file_digest(guest), XXH64(bytes.data(), bytes.size(), 0));
}

TEST_F(GuestFileDigestTest, RefusesAMissingFileNamingIt) {
  const fs::path missing = dir_ / "nope.elf";
  try {
    guest_file_digest(missing);
    FAIL() << "no error";
  } catch (const LogError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open " + missing.string() + ": No such file or directory");
  }
}

}  // namespace
}  // namespace vmft::logchannel
