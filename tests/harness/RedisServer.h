#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ShellCommand.h"
#include "Subprocess.h"

namespace vmft::integration {

/// Runs `redis-cli -h host -p port args...` through `wrapper` (e.g. NetLab::in_client(); empty:
/// here) to its end, at most `timeout`.
CommandResult redis_cli(const std::vector<std::string>& wrapper, const std::string& host,
                        uint16_t port, const std::vector<std::string>& args, Duration timeout);

/// Debian's redis-server, the reference a counter guest is measured against: on host:port,
/// without persistence, with a data directory of its own that is removed at the end. It is
/// killed when this is destroyed, if it still runs.
class RedisServer {
 public:
  static constexpr Duration kStartTimeout{10000};
  static constexpr Duration kReplyTimeout{10000};

  /// Starts it through `server_wrapper` and waits until it says it accepts connections and
  /// answers PING from `client_wrapper` (where its clients run; in a lab, another namespace).
  /// Throws std::runtime_error quoting its output if it does not.
  RedisServer(std::vector<std::string> server_wrapper, std::vector<std::string> client_wrapper,
              std::string host, uint16_t port);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// redis-cli with `args` against it, from the clients' side.
  CommandResult cli(const std::vector<std::string>& args) const;
  /// SIGTERM, then its exit code (0: it shut down cleanly), or nullopt if it still ran after
  /// `timeout` (it is then killed).
  std::optional<int> stop(Duration timeout);
  /// Its output (redis-server logs to stdout).
  std::string output() const { return process_->stdout_text() + process_->stderr_text(); }

 private:
  std::vector<std::string> client_wrapper_;
  std::string host_;
  uint16_t port_;
  std::filesystem::path data_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace vmft::integration
