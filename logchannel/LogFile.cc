#include "vmft/logchannel/LogFile.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "vmft/logchannel/ByteIo.h"
#include "vmft/logchannel/Frame.h"

namespace vmft::logchannel {

namespace {

constexpr std::array<uint8_t, 8> kMagic = {'V', 'M', 'F', 'T', 'L', 'O', 'G', '\n'};
constexpr size_t kPreambleBytes = kMagic.size() + 4;  // magic, then the version as a u32

// A writer closes a frame once it holds more than this: large enough that checksums and
// write(2) calls cost little per record, small enough that a killed recorder loses little
// that it had not flushed.
constexpr size_t kFrameTargetBytes = 64 * 1024;
// So a frame of buffered records plus the largest record (a payload and its few fields, or a
// digest's chunk hashes) stays within what a reader accepts.
static_assert(kFrameTargetBytes + kMaxPayloadBytes + 1024 <= kMaxFramePayload);
static_assert(kFrameTargetBytes + kMaxRamChunks * 10 + 1024 <= kMaxFramePayload);

// A header frame longer than this is corrupt: it holds a name of at most 4 KiB and a few fields.
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

std::string system_error_text() { return std::strerror(errno); }

std::vector<uint8_t> encode_preamble(const LogHeader& header) {
  std::vector<uint8_t> bytes(kMagic.begin(), kMagic.end());
  detail::ByteWriter(bytes).fixed32(kFormatVersion);
  std::vector<uint8_t> encoded;
  encode_header(header, encoded);
  append_frame(encoded, bytes);
  return bytes;
}

uint32_t read_version(const std::array<uint8_t, kPreambleBytes>& preamble) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= static_cast<uint32_t>(preamble[kMagic.size() + i]) << (8 * i);
  return v;
}

}  // namespace

// ---- LogWriter ----

LogWriter::LogWriter(const std::filesystem::path& path, const LogHeader& header) : path_(path) {
  assert(header.version == kFormatVersion);
  const std::vector<uint8_t> preamble = encode_preamble(header);  // before creating the file
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw LogError("cannot create " + path.string() + ": " + system_error_text());
  try {
    write_all(preamble);
  } catch (const LogError&) {
    ::close(fd_);
    throw;
  }
}

LogWriter::~LogWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmft: %s\n", e.what());
  }
}

void LogWriter::append(const Record& record) {
  if (!error_.empty()) throw LogError(error_);
  assert(fd_ >= 0 && "append after close");
  assert(record.seq == next_seq_ && "records are appended with seq 1, 2, 3, ...");
  encoder_.encode(record, payload_);
  ++next_seq_;
  if (payload_.size() > kFrameTargetBytes) flush();
}

void LogWriter::flush() {
  if (!error_.empty()) throw LogError(error_);
  if (payload_.empty()) return;
  write_all(frame_header(payload_));
  write_all(payload_);
  payload_.clear();
}

void LogWriter::close() {
  if (fd_ < 0) return;
  std::string problem;
  try {
    flush();
  } catch (const LogError& e) {
    problem = e.what();
  }
  if (problem.empty() && ::fsync(fd_) != 0) {
    problem = path_.string() + ": fsync failed: " + system_error_text();
  }
  if (::close(fd_) != 0 && problem.empty()) {
    problem = path_.string() + ": close failed: " + system_error_text();
  }
  fd_ = -1;
  if (!problem.empty()) fail(problem);
}

void LogWriter::write_all(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path_.string() + ": write failed: " + system_error_text());
    bytes = bytes.subspan(static_cast<size_t>(n));
    bytes_written_ += static_cast<uint64_t>(n);
  }
}

void LogWriter::fail(const std::string& what) {
  error_ = what;
  throw LogError(what);
}

// ---- LogReader ----

LogReader::LogReader(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw LogError("cannot open " + path.string() + ": " + system_error_text());
  try {
    read_preamble();
  } catch (const LogError& e) {
    ::close(fd_);
    throw LogError(path_.string() + ": " + e.what());
  }
}

LogReader::~LogReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<Record> LogReader::next_record() {
  if (error_) throw *error_;
  try {
    std::optional<Record> record = read_record();
    if (!record) at_end_ = true;
    return record;
  } catch (const LogError& e) {
    error_.emplace(path_.string() + ": " + e.what());
    throw *error_;
  }
}

void LogReader::read_preamble() {
  std::array<uint8_t, kPreambleBytes> preamble{};
  const size_t got = read_up_to(preamble.data(), preamble.size());
  if (got == 0) throw LogError("empty file, not a vmft log");
  if (!std::equal(kMagic.begin(), kMagic.begin() + std::min(got, kMagic.size()),
                  preamble.begin())) {
    throw LogError("not a vmft log (bad magic)");
  }
  if (got < preamble.size()) {
    throw LogError("truncated header: the file ends at offset " + detail::hex(got));
  }
  const uint32_t version = read_version(preamble);
  if (version != kFormatVersion) {
    throw LogError("log format version " + std::to_string(version) +
                   " is not supported (this vmft reads version " + std::to_string(kFormatVersion) +
                   ")");
  }
  if (!read_frame(kMaxHeaderBytes, "the header")) {
    throw LogError("truncated header: the file ends after the version");
  }
  header_ = decode_header(frame_, frame_offset_);
  header_.version = version;
  frame_.clear();
  frame_pos_ = 0;
}

std::optional<Record> LogReader::read_record() {
  while (frame_pos_ == frame_.size()) {
    if (!read_frame(kMaxFramePayload, "records from #" + std::to_string(last_seq_ + 1))) {
      return std::nullopt;
    }
  }
  const uint64_t offset = frame_offset_ + frame_pos_;
  DecodedRecord decoded = decoder_.decode(std::span(frame_).subspan(frame_pos_), offset);
  frame_pos_ += decoded.size;
  check_seq(decoded.record, offset);
  last_seq_ = decoded.record.seq;
  return std::move(decoded.record);
}

bool LogReader::read_frame(uint32_t max_payload, const std::string& label) {
  const uint64_t start = file_offset_;
  std::array<uint8_t, kFrameHeaderBytes> bytes;
  const size_t got = read_up_to(bytes.data(), bytes.size());
  if (got == 0) return false;
  if (got < bytes.size()) {
    throw LogError("truncated at offset " + detail::hex(start) +
                   ": frame header of 8 bytes, only " + std::to_string(got) + " left (" + label +
                   ")");
  }
  const FrameHeader header = parse_frame_header(bytes);
  if (header.payload_bytes > max_payload) {
    throw LogError("frame at offset " + detail::hex(start) + " (" + label + "): length " +
                   std::to_string(header.payload_bytes) + " exceeds the limit of " +
                   std::to_string(max_payload) + " bytes");
  }
  frame_.resize(header.payload_bytes);
  const size_t payload_got = read_up_to(frame_.data(), frame_.size());
  if (payload_got < frame_.size()) {
    throw LogError("truncated at offset " + detail::hex(start) + ": frame of " +
                   std::to_string(kFrameHeaderBytes + frame_.size()) + " bytes, only " +
                   std::to_string(kFrameHeaderBytes + payload_got) + " left (" + label + ")");
  }
  if (frame_checksum(frame_) != header.checksum) {
    throw LogError("frame at offset " + detail::hex(start) + " (" + label + "): checksum mismatch");
  }
  frame_offset_ = start + kFrameHeaderBytes;
  frame_pos_ = 0;
  return true;
}

size_t LogReader::read_up_to(uint8_t* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd_, out + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      throw LogError("read failed at offset " + detail::hex(file_offset_) + ": " +
                     system_error_text());
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
    file_offset_ += static_cast<uint64_t>(r);
  }
  return got;
}

void LogReader::check_seq(const Record& record, uint64_t offset) const {
  if (record.seq == last_seq_ + 1) return;
  const std::string where = "offset " + detail::hex(offset) + ": ";
  if (last_seq_ == 0) {
    throw LogError(where + "the first record is #" + std::to_string(record.seq) +
                   ", not #1: a record is missing");
  }
  const std::string order = record.seq > last_seq_ ? "a record is missing" : "out of order";
  throw LogError(where + "record #" + std::to_string(record.seq) + " follows #" +
                 std::to_string(last_seq_) + ": " + order);
}

// ---- guest digest ----

uint64_t guest_file_digest(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw LogError("cannot open " + path.string() + ": " + system_error_text());
  std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state(XXH64_createState(),
                                                                   &XXH64_freeState);
  XXH64_reset(state.get(), 0);
  std::vector<uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = system_error_text();
      ::close(fd);
      throw LogError("cannot read " + path.string() + ": " + error);
    }
    if (n == 0) break;
    XXH64_update(state.get(), buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return XXH64_digest(state.get());
}

LogHeader guest_log_header(const std::filesystem::path& guest_path, uint64_t ram_size, bool has_udp,
                           bool has_tcp, uint64_t digest_interval, std::string emulator,
                           std::optional<FrameNicConfig> frames) {
  LogHeader header;
  header.guest_digest = guest_file_digest(guest_path);
  header.guest_name = guest_path.filename().string();
  header.ram_size = ram_size;
  header.has_udp = has_udp;
  header.has_tcp = has_tcp;
  header.digest_interval = digest_interval;
  header.emulator = std::move(emulator);
  header.frames = frames;
  return header;
}

}  // namespace vmft::logchannel
