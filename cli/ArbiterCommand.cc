// vmft arbiter: the test-and-set arbiter that decides which side of a pair goes on alone.
// Serves many pairs; each decision is on disk under --data before it is answered.
#include "ArbiterCommand.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <csignal>
#include <memory>
#include <optional>

#include "LiveRun.h"
#include "Logging.h"
#include "Options.h"
#include "vmft/arbiter/ArbiterServer.h"
#include "vmft/arbiter/ArbiterStore.h"
#include "vmft/auth/Secret.h"

namespace vmft::cli {

namespace {

struct ArbiterOptions {
  std::string listen;
  std::string data;
  uint32_t idle_timeout_ms = 60000;
  std::string secret_file;  ///< empty: none
};

int run_arbiter(const ArbiterOptions& options) {
  asio::ip::tcp::endpoint listen;
  std::optional<arbiter::ArbiterStore> store;
  std::string secret;
  try {
    if (!options.secret_file.empty()) secret = auth::read_secret_file(options.secret_file);
    const devices::Endpoint ep = parse_endpoint(options.listen);
    listen = {asio::ip::address_v4(ep.ip), ep.port};
    store.emplace(options.data);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }
  asio::io_context io;
  arbiter::ServerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  std::optional<arbiter::ArbiterServer> server;
  try {
    server.emplace(io, listen, *store, limits, secret);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&server](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    server->stop();
  });
  const auto local = server->local_endpoint();
  // The integration harness reads this line for the port.
  spdlog::info("listening on arbiter {}:{} (state in {})", local.address().to_string(),
               local.port(), store->directory().string());
  if (!secret.empty()) {
    spdlog::info("clients must prove they know the secret in {}", options.secret_file);
  }
  io.run();
  return 0;
}

}  // namespace

void add_arbiter_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<ArbiterOptions>();
  CLI::App* cmd = app.add_subcommand(
      "arbiter", "Run the test-and-set arbiter that decides which side of a pair goes on alone");
  cmd->add_option("--listen", options->listen, "HOST:PORT to serve on (port 0 picks one)")
      ->required();
  cmd->add_option("--data", options->data,
                  "Directory for the pairs' state (created if missing; one arbiter per directory)")
      ->required();
  cmd->add_option("--idle-timeout", options->idle_timeout_ms,
                  "Milliseconds after which a connection that sends nothing is closed")
      ->check(CLI::Range(1u, 86400000u))
      ->capture_default_str();
  cmd->add_option("--secret-file", options->secret_file,
                  "A file holding the deployment's pre-shared secret (at least 16 bytes; a "
                  "trailing newline is ignored): only clients that prove they know it are "
                  "answered. Give the pairs the same file");
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return run_arbiter(*options); }; });
}

}  // namespace vmft::cli
