#include "vmft/arbiter/ArbiterStore.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "StateFile.h"
#include "vmft/arbiter/Rules.h"

namespace vmft::arbiter {

namespace {

// Beside the state files; a pair's file always ends in ".state", so no pair name reaches it.
constexpr const char* kLockFileName = "arbiter.lock";

int lock_directory(const std::filesystem::path& dir) {
  const std::string path = dir / kLockFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      throw std::runtime_error("data directory " + dir.string() +
                               " is in use by another arbiter (" + path + " is locked)");
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(err));
  }
  return fd;
}

std::string pair_text(const std::string& pair) { return "pair '" + pair + "'"; }

}  // namespace

ArbiterStore::ArbiterStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir_, ec);
  if (ec) {
    throw std::runtime_error("cannot create data directory " + dir_.string() + ": " + ec.message());
  }
  if (created) {
    // The directory's own entry must be durable too, or a crash could lose every pair in it.
    std::filesystem::path made = std::filesystem::absolute(dir_);
    if (made.filename().empty()) made = made.parent_path();  // "dir/"
    detail::sync_directory(made.parent_path());
  }
  lock_fd_ = lock_directory(dir_);
}

ArbiterStore::~ArbiterStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

ArbiterState ArbiterStore::read(const std::string& pair) {
  check_pair_name(pair);
  std::lock_guard lock(mutex_);
  return current(pair);
}

RegisterResult ArbiterStore::register_epoch(const std::string& pair, uint64_t expected_epoch,
                                            const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const auto decision = decide_register(pair, current(pair), expected_epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

TasResult ArbiterStore::test_and_set(const std::string& pair, uint64_t epoch,
                                     const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const auto decision = decide_test_and_set(pair, current(pair), epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

ReleaseResult ArbiterStore::release(const std::string& pair, uint64_t epoch,
                                    const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const auto decision = decide_release(current(pair), epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

Arbiter::PairList ArbiterStore::list(size_t max) {
  std::lock_guard lock(mutex_);
  PairList list;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string file = entry.path().filename().string();
    constexpr std::string_view kSuffix = ".state";
    if (!file.ends_with(kSuffix)) continue;  // the lock, and a .state.tmp left by a crash
    const std::string pair = file.substr(0, file.size() - kSuffix.size());
    try {
      check_pair_name(pair);
    } catch (const std::invalid_argument&) {
      continue;  // not a file this arbiter wrote
    }
    list.names.push_back(pair);
  }
  if (ec) throw ArbiterUnavailable("cannot list " + dir_.string() + ": " + ec.message());
  std::sort(list.names.begin(), list.names.end());
  list.total = list.names.size();
  if (list.names.size() > max) list.names.resize(max);
  return list;
}

ArbiterState ArbiterStore::current(const std::string& pair) {
  if (const auto it = states_.find(pair); it != states_.end()) return it->second;
  std::optional<ArbiterState> stored;
  try {
    stored = detail::read_state_file(dir_, pair);
  } catch (const std::exception& e) {
    throw ArbiterUnavailable(pair_text(pair) + ": " + e.what());
  }
  if (!stored) return {};
  states_.emplace(pair, *stored);
  return *stored;
}

void ArbiterStore::commit(const std::string& pair, const ArbiterState& next) {
  try {
    detail::write_state_file(dir_, pair, next);
  } catch (const std::exception& e) {
    throw ArbiterUnavailable("cannot persist the decision for " + pair_text(pair) +
                             ", so none was made: " + e.what());
  }
  states_[pair] = next;
}

}  // namespace vmft::arbiter
