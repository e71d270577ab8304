#include "Events.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vmft::cli {

namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

}  // namespace

EventLog::EventLog(const std::string& target, std::string pair, std::string role)
    : pair_(std::move(pair)), role_(std::move(role)) {
  if (target.empty()) return;
  if (target.starts_with("fd:")) {
    int fd = -1;
    try {
      fd = std::stoi(target.substr(3));
    } catch (const std::exception&) {
    }
    if (fd < 0) throw std::invalid_argument("--events " + target + ": fd:N needs a descriptor");
    // The events are this process's: an --on-live command it starts does not inherit them.
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) out_ = fdopen(fd, "a");
  } else {
    out_ = std::fopen(target.c_str(), "a");
    owned_ = true;
  }
  if (!out_) {
    throw std::runtime_error("cannot open --events " + target + ": " + std::strerror(errno));
  }
}

EventLog::~EventLog() {
  if (out_ && owned_) std::fclose(out_);
  if (out_ && !owned_) std::fflush(out_);
}

void EventLog::set_id(std::string id) {
  std::lock_guard lock(mutex_);
  id_ = std::move(id);
}

void EventLog::emit(const char* event, nlohmann::json fields) {
  std::lock_guard lock(mutex_);
  if (!out_) return;
  nlohmann::json line = {
      {"time", utc_now()}, {"event", event}, {"pair", pair_}, {"id", id_}, {"role", role_}};
  for (auto& [key, value] : fields.items()) line[key] = value;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace vmft::cli
