#include "StateFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <system_error>
#include <utility>

namespace vmft::arbiter::detail {

namespace {

// A state file is two short lines; anything longer is not one of ours.
constexpr size_t kMaxStateFileBytes = 512;
constexpr std::string_view kMagic = "vmft-arbiter-state";

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

void write_all(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot write " + path);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string encode_state(const ArbiterState& state) {
  return std::string(kMagic) + " " + std::to_string(kStateFileVersion) + "\n" +
         std::to_string(state.epoch) + " " + std::string(mode_name(state.mode)) + " " +
         (state.holder.empty() ? "-" : state.holder) + "\n";
}

std::optional<ArbiterState> decode_state(std::string_view text) {
  const std::string header = std::string(kMagic) + " " + std::to_string(kStateFileVersion) + "\n";
  // More than the header: its own newline must not count as the state line's.
  if (text.size() <= header.size() || !text.starts_with(header) || !text.ends_with("\n")) {
    return std::nullopt;
  }
  text.remove_prefix(header.size());
  text.remove_suffix(1);
  const size_t first_space = text.find(' ');
  const size_t second_space = text.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) {
    return std::nullopt;
  }
  ArbiterState state;
  const std::string_view epoch = text.substr(0, first_space);
  const auto [end, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), state.epoch);
  if (epoch.empty() || ec != std::errc() || end != epoch.data() + epoch.size()) {
    return std::nullopt;
  }
  const auto mode = parse_mode(text.substr(first_space + 1, second_space - first_space - 1));
  if (!mode) return std::nullopt;
  state.mode = *mode;
  const std::string_view holder = text.substr(second_space + 1);
  if (state.mode == Mode::kNone) {
    // A file is only ever written for a decision, so it never holds the unregistered state.
    return std::nullopt;
  }
  if (state.mode == Mode::kReleased) {
    if (holder != "-" || state.epoch == 0) return std::nullopt;
    return state;
  }
  try {
    check_holder_id(holder);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  if (state.epoch == 0) return std::nullopt;
  state.holder = holder;
  return state;
}

std::filesystem::path state_file_path(const std::filesystem::path& dir, const std::string& pair) {
  return dir / (pair + ".state");
}

std::optional<ArbiterState> read_state_file(const std::filesystem::path& dir,
                                            const std::string& pair) {
  const std::string path = state_file_path(dir, pair);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 && errno == ENOENT) return std::nullopt;
  if (fd.get() < 0) throw_errno("cannot open " + path);
  std::string text;
  char buf[kMaxStateFileBytes + 1];
  while (text.size() <= kMaxStateFileBytes) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read " + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  const auto state = text.size() <= kMaxStateFileBytes ? decode_state(text) : std::nullopt;
  if (!state) {
    throw std::runtime_error(path + " is not a valid arbiter state file (version " +
                             std::to_string(kStateFileVersion) +
                             "); it is left as it is for an operator to inspect");
  }
  return state;
}

void write_state_file(const std::filesystem::path& dir, const std::string& pair,
                      const ArbiterState& state) {
  const std::string path = state_file_path(dir, pair);
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_errno("cannot create " + tmp);
  try {
    write_all(fd.get(), encode_state(state), tmp);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + tmp);
    if (::close(fd.release()) != 0) throw_errno("cannot close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw_errno("cannot rename " + tmp + " to " + path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory(dir);
}

void sync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno("cannot open directory " + dir.string());
  if (::fsync(fd.get()) != 0) throw_errno("cannot fsync directory " + dir.string());
}

}  // namespace vmft::arbiter::detail
