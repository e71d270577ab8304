#include "vmft/host/Events.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <variant>

namespace vmft::host {

namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};

}  // namespace

nlohmann::json event_fields(const ft::Event& event) {
  using nlohmann::json;
  json fields = json::object();
  std::visit(Overloaded{
                 [&](const ft::Waiting& e) { fields["log_port"] = e.log_port; },
                 [&](const ft::Paired& e) {
                   if (e.primary) fields["primary"] = *e.primary;
                   if (e.joined_at) fields["joined_at"] = *e.joined_at;
                 },
                 [&](const ft::Registered& e) { fields["epoch"] = e.epoch; },
                 [&](const ft::PeerLost& e) {
                   if (e.reason) fields["reason"] = *e.reason;
                   if (e.instruction) fields["instruction"] = *e.instruction;
                 },
                 [&](const ft::WentLive& e) {
                   fields["epoch"] = e.epoch;
                   fields["instruction"] = e.instruction;
                 },
                 [&](const ft::Alone& e) {
                   fields["epoch"] = e.epoch;
                   fields["reason"] = e.reason;
                 },
                 [&](const ft::Lost& e) {
                   fields["epoch"] = e.epoch;
                   fields["holder"] = e.holder;
                 },
                 [&](const ft::Broken& e) {
                   if (e.reason) fields["reason"] = *e.reason;
                   if (e.instruction) fields["instruction"] = *e.instruction;
                 },
                 [&](const ft::JoinStarted&) {},
                 [&](const ft::Joined& e) { fields["epoch"] = e.epoch; },
                 [&](const ft::Released& e) { fields["epoch"] = e.epoch; },
                 [&](const ft::Diverged& e) { fields["instruction"] = e.instruction; },
                 [&](const ft::Exited& e) { fields["code"] = e.code; },
             },
             event);
  return fields;
}

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

void EventLog::emit(const ft::Event& event) {
  std::lock_guard lock(mutex_);
  if (!out_) return;
  nlohmann::json line = {{"time", utc_now()},
                         {"event", ft::event_name(ft::kind_of(event))},
                         {"pair", pair_},
                         {"id", id_},
                         {"role", role_}};
  const nlohmann::json fields = event_fields(event);  // outlives the loop over its items
  for (const auto& [key, value] : fields.items()) line[key] = value;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace vmft::host
