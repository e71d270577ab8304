// vmft arbiter: the test-and-set arbiter that decides which side of a pair goes on alone.
// Serves many pairs; each decision is on disk under --data before it is answered.
// vmft arbiter list|show|release: what an operator asks of a running arbiter (built-in or
// etcd), through the same client the pairs use.
#include "ArbiterCommand.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <csignal>
#include <memory>
#include <optional>

#include "Logging.h"
#include "Options.h"
#include "vmft/arbiter/ArbiterServer.h"
#include "vmft/arbiter/ArbiterStore.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/auth/Secret.h"
#include "vmft/host/LiveRun.h"

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
  // A bad value here ends the command through main (exit 2, or 1 for a file or directory).
  if (!options.secret_file.empty()) secret = auth::read_secret_file(options.secret_file);
  const devices::Endpoint ep = parse_endpoint(options.listen);
  listen = {asio::ip::address_v4(ep.ip), ep.port};
  store.emplace(options.data);
  asio::io_context io;
  arbiter::ServerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  std::optional<arbiter::ArbiterServer> server;
  try {
    server.emplace(io, listen, *store, limits, secret);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&server](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", host::signal_name(signo));
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

// The options of list, show and release.
struct AdminOptions {
  std::string arbiter;
  std::string secret_file;
  std::string pair;  ///< show and release
};

// The most pairs `vmft arbiter list` prints: a READ each.
constexpr size_t kMaxListed = 1000;

// Runs `f` on the arbiter the options name. A bad address or pair name, or an arbiter that
// cannot be reached or refuses, ends the command through main with a message (exit 2 or 1).
int with_arbiter(const AdminOptions& options, const std::function<int(arbiter::Arbiter&)>& f) {
  const std::string secret =
      options.secret_file.empty() ? std::string() : auth::read_secret_file(options.secret_file);
  if (!options.pair.empty()) arbiter::check_pair_name(options.pair);
  const auto arbiter = arbiter::connect_arbiter(options.arbiter, secret);
  return f(*arbiter);
}

std::string holder_text(const arbiter::ArbiterState& state) {
  return state.holder.empty() ? "-" : state.holder;
}

int list_pairs(arbiter::Arbiter& arbiter) {
  const auto list = arbiter.list(kMaxListed);
  fmt::print("{:<24} {:>6}  {:<8}  {}\n", "PAIR", "EPOCH", "MODE", "HOLDER");
  for (const std::string& name : list.names) {
    const auto state = arbiter.read(name);
    fmt::print("{:<24} {:>6}  {:<8}  {}\n", name, state.epoch, arbiter::mode_name(state.mode),
               holder_text(state));
  }
  if (list.total > list.names.size()) {
    fmt::print("... and {} more\n", list.total - list.names.size());
  }
  return 0;
}

int show_pair(arbiter::Arbiter& arbiter, const std::string& pair) {
  const auto state = arbiter.read(pair);
  fmt::print("pair:   {}\nepoch:  {}\nmode:   {}\nholder: {}\n", pair, state.epoch,
             arbiter::mode_name(state.mode), holder_text(state));
  return 0;
}

int release_pair(arbiter::Arbiter& arbiter, const std::string& pair) {
  const auto state = arbiter.read(pair);
  if (state.mode == arbiter::Mode::kNone || state.mode == arbiter::Mode::kReleased) {
    fmt::print("pair '{}' is {}: nothing to release\n", pair, arbiter::describe(state));
    return 0;
  }
  const auto result = arbiter.release(pair, state.epoch, state.holder);
  if (!result.ok) {
    spdlog::error("pair '{}' changed while it was being released (it is now {}): not released",
                  pair, arbiter::describe(result.state));
    return ft::kStartFailedExitCode;
  }
  fmt::print("released pair '{}' at epoch {} (it was {}, held by {})\n", pair, state.epoch,
             arbiter::mode_name(state.mode), state.holder);
  return 0;
}

void add_admin_options(CLI::App& cmd, AdminOptions& options) {
  cmd.add_option("--arbiter", options.arbiter,
                 "The arbiter: HOST:PORT of `vmft arbiter`, or etcd://HOST:PORT[,HOST:PORT...]")
      ->required();
  cmd.add_option("--secret-file", options.secret_file,
                 "The file with the secret the arbiter was given, if it was given one");
}

}  // namespace

void add_arbiter_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<ArbiterOptions>();
  CLI::App* cmd = app.add_subcommand(
      "arbiter", "Run the test-and-set arbiter that decides which side of a pair goes on alone");
  cmd->add_option("--listen", options->listen,
                  "HOST:PORT to serve on (port 0 picks one); required to serve");
  cmd->add_option("--data", options->data,
                  "Directory for the pairs' state (created if missing; one arbiter per "
                  "directory); required to serve");
  cmd->add_option("--idle-timeout", options->idle_timeout_ms,
                  "Milliseconds after which a connection that sends nothing is closed")
      ->check(CLI::Range(1u, 86400000u))
      ->capture_default_str();
  cmd->add_option("--secret-file", options->secret_file,
                  "A file holding the deployment's pre-shared secret (at least 16 bytes; a "
                  "trailing newline is ignored): only clients that prove they know it are "
                  "answered. Give the pairs the same file");
  add_log_level_option(*cmd, log_level);
  cmd->require_subcommand(0, 1);

  auto admin = std::make_shared<AdminOptions>();
  CLI::App* list = cmd->add_subcommand("list", "List the pairs an arbiter knows, with their state");
  add_admin_options(*list, *admin);
  list->callback(
      [&action, admin] { action = [admin] { return with_arbiter(*admin, list_pairs); }; });
  CLI::App* show = cmd->add_subcommand("show", "Show one pair's epoch, mode and holder");
  show->add_option("pair", admin->pair, "The pair's name")->required();
  add_admin_options(*show, *admin);
  show->callback([&action, admin] {
    action = [admin] {
      return with_arbiter(*admin, [&](arbiter::Arbiter& a) { return show_pair(a, admin->pair); });
    };
  });
  CLI::App* release = cmd->add_subcommand(
      "release",
      "Release a pair that neither side runs any more, so that any primary may register it "
      "again (a side that stops cleanly releases its pair itself)");
  release->add_option("pair", admin->pair, "The pair's name")->required();
  add_admin_options(*release, *admin);
  release->callback([&action, admin] {
    action = [admin] {
      return with_arbiter(*admin,
                          [&](arbiter::Arbiter& a) { return release_pair(a, admin->pair); });
    };
  });

  // Without a subcommand it serves, and needs where and what.
  cmd->callback([&action, cmd, options] {
    if (!cmd->get_subcommands().empty()) return;
    if (options->listen.empty()) throw CLI::RequiredError("--listen");
    if (options->data.empty()) throw CLI::RequiredError("--data");
    action = [options] { return run_arbiter(*options); };
  });
}

}  // namespace vmft::cli
