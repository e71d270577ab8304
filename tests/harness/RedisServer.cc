#include "RedisServer.h"

#include <signal.h>
#include <unistd.h>

#include <stdexcept>

namespace vmft::integration {

namespace fs = std::filesystem;

CommandResult redis_cli(const std::vector<std::string>& wrapper, const std::string& host,
                        uint16_t port, const std::vector<std::string>& args, Duration timeout) {
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {"redis-cli", "-h", host, "-p", std::to_string(port)});
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

RedisServer::RedisServer(std::vector<std::string> server_wrapper,
                         std::vector<std::string> client_wrapper, std::string host, uint16_t port)
    : client_wrapper_(std::move(client_wrapper)), host_(std::move(host)), port_(port) {
  std::string pattern = (fs::temp_directory_path() / "vmft-redis-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  data_ = pattern;
  std::vector<std::string> argv = std::move(server_wrapper);
  // Protected mode off: in a lab, clients come from another namespace's address.
  argv.insert(argv.end(), {"redis-server", "--bind", host_, "--port", std::to_string(port_),
                           "--save", "", "--appendonly", "no", "--protected-mode", "no",
                           "--daemonize", "no", "--dir", data_.string()});
  process_ = std::make_unique<Subprocess>(argv);
  const bool ready = process_->wait_for_stdout(
      [](const std::string& out) {
        return out.find("Ready to accept connections") != std::string::npos;
      },
      kStartTimeout);
  // What answers must be this redis-server, not another process that took the port first.
  const CommandResult ping = ready ? cli({"PING"}) : CommandResult{};
  const bool ours = ping.exit_code == 0 && ping.out == "PONG\n" &&
                    !process_->wait_for_exit(Duration(0)).has_value();
  if (!ours) {
    const std::string text = output();
    process_.reset();
    fs::remove_all(data_);
    throw std::runtime_error("redis-server on " + host_ + ":" + std::to_string(port_) +
                             " did not start (or another process answered there):\n" + text +
                             ping.out + ping.err);
  }
}

RedisServer::~RedisServer() {
  process_.reset();
  std::error_code ignored;
  fs::remove_all(data_, ignored);
}

CommandResult RedisServer::cli(const std::vector<std::string>& args) const {
  return redis_cli(client_wrapper_, host_, port_, args, kReplyTimeout);
}

std::optional<int> RedisServer::stop(Duration timeout) {
  process_->signal(SIGTERM);
  const auto code = process_->wait_for_exit(timeout);
  if (!code) process_->signal(SIGKILL);
  return code;
}

}  // namespace vmft::integration
