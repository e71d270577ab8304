#pragma once
// The file log: the magic "VMFTLOG\n", the format version (u32, little-endian), the header in
// one frame, then frames of records. Writer and reader live together so the file format
// changes in one place; docs/log-format.md describes the bytes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmft/logchannel/LogError.h"
#include "vmft/logchannel/Record.h"
#include "vmft/logchannel/RecordCodec.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::logchannel {

/// Writes a log file. Used by one thread at a time (the recorder's vCPU thread).
class LogWriter final : public RecordSink {
 public:
  /// Creates or truncates `path` and writes the magic, the version and `header` (whose
  /// version must be kFormatVersion). Throws LogError naming the path and the system error.
  LogWriter(const std::filesystem::path& path, const LogHeader& header);
  /// Closes the file; a failure is reported on stderr, since a destructor cannot throw. Call
  /// close() first to handle it.
  ~LogWriter() override;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  /// Buffers `record`, whose seq must be the previous one + 1 (1 for the first): vmft numbers
  /// its own records, so a gap is a bug and asserts. Writes a frame once more than 64 KiB are
  /// buffered. Throws LogError if the record cannot be encoded or the write fails; after a
  /// write failure every later call throws too (the file is incomplete).
  void append(const Record& record) override;

  /// Writes the buffered records as one frame (to the OS: they survive vmft being killed,
  /// not the host crashing).
  void flush() override;

  /// Flushes, fsyncs and closes. Idempotent; nothing may be appended afterwards.
  void close() override;

  /// Bytes handed to the file so far (magic and header included, buffered records not).
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void write_all(std::span<const uint8_t> bytes);
  [[noreturn]] void fail(const std::string& what);

  std::filesystem::path path_;
  int fd_ = -1;
  RecordEncoder encoder_;
  std::vector<uint8_t> payload_;
  uint64_t next_seq_ = 1;
  uint64_t bytes_written_ = 0;
  std::string error_;  // set after a write failure
};

/// Reads a log file from the start. Used by one thread at a time.
class LogReader final : public RecordSource {
 public:
  /// Opens `path` and reads the magic, the version and the header. Throws LogError naming the
  /// path: cannot open, not a vmft log, an unsupported version, a truncated or corrupt header.
  explicit LogReader(const std::filesystem::path& path);
  ~LogReader() override;
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  const LogHeader& header() const override { return header_; }

  /// The next record, or nullopt at a clean end of the file (after a whole frame; a log
  /// without a RunEnd is not an error here: the recorder may have been killed). Throws
  /// LogError naming the path, the byte offset and the record for a truncated frame, a
  /// checksum mismatch, malformed record bytes, or a seq that is not the previous + 1. After a
  /// LogError every later call throws it again.
  std::optional<Record> next_record() override;
  /// The file ended cleanly, or could not be read further.
  bool ended() const override { return at_end_ || error_.has_value(); }

 private:
  void read_preamble();
  std::optional<Record> read_record();
  /// Reads the next frame into frame_; false at a clean end of file. `label` names its
  /// content in messages.
  bool read_frame(uint32_t max_payload, const std::string& label);
  size_t read_up_to(uint8_t* out, size_t n);
  void check_seq(const Record& record, uint64_t offset) const;

  std::filesystem::path path_;
  int fd_ = -1;
  LogHeader header_;
  uint64_t file_offset_ = 0;  // of the next byte read(2) returns
  std::vector<uint8_t> frame_;
  uint64_t frame_offset_ = 0;  // of frame_[0] in the file
  size_t frame_pos_ = 0;
  RecordDecoder decoder_;
  uint64_t last_seq_ = 0;
  std::optional<LogError> error_;
  bool at_end_ = false;
};

/// XXH64 (seed 0) of a file's bytes: how a log's header names its guest. Throws LogError
/// naming the path if it cannot be read.
uint64_t guest_file_digest(const std::filesystem::path& path);

/// The header of a log recorded with the guest at `guest_path` (its digest and file name) on a
/// VM with `ram_size` bytes of RAM, the given NIC sockets (or frame NIC) and a state digest
/// every `digest_interval` instructions, on `emulator` (hypervisor::emulator_name()). Throws as
/// guest_file_digest.
LogHeader guest_log_header(const std::filesystem::path& guest_path, uint64_t ram_size, bool has_udp,
                           bool has_tcp, uint64_t digest_interval, std::string emulator,
                           std::optional<FrameNicConfig> frames = std::nullopt);

}  // namespace vmft::logchannel
