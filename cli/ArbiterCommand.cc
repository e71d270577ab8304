// vmft arbiter: the test-and-set arbiter that decides which side of a pair goes on alone
// (host::serve_arbiter). Serves many pairs; each decision is on disk under --data before it is
// answered. vmft arbiter list|show|release: what an operator asks of a running arbiter
// (built-in or etcd), through the same client the pairs use.
#include "ArbiterCommand.h"

#include <asio.hpp>
#include <memory>

#include "Logging.h"
#include "Options.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/auth/Secret.h"
#include "vmft/host/ArbiterCommands.h"

namespace vmft::cli {

namespace {

struct ArbiterOptions {
  std::string listen;
  std::string data;
  uint32_t idle_timeout_ms = 60000;
  std::string secret_file;  ///< empty: none
};

int run_arbiter(const ArbiterOptions& options) {
  host::ArbiterConfig config;
  // A bad value here ends the command through main (exit 2, or 1 for a file or directory).
  if (!options.secret_file.empty()) config.secret = auth::read_secret_file(options.secret_file);
  const devices::Endpoint ep = parse_endpoint(options.listen);
  config.listen = {asio::ip::address_v4(ep.ip), ep.port};
  config.data = options.data;
  config.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  config.secret_file = options.secret_file;
  return host::serve_arbiter(config);
}

// The options of list, show and release.
struct AdminOptions {
  std::string arbiter;
  std::string secret_file;
  std::string pair;  ///< show and release
};

// Runs `f` on the arbiter the options name. A bad address or pair name, or an arbiter that
// cannot be reached or refuses, ends the command through main with a message (exit 2 or 1).
int with_arbiter(const AdminOptions& options, const std::function<int(arbiter::Arbiter&)>& f) {
  const std::string secret =
      options.secret_file.empty() ? std::string() : auth::read_secret_file(options.secret_file);
  if (!options.pair.empty()) arbiter::check_pair_name(options.pair);
  const auto arbiter = arbiter::connect_arbiter(options.arbiter, secret);
  return f(*arbiter);
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
      [&action, admin] { action = [admin] { return with_arbiter(*admin, host::list_pairs); }; });
  CLI::App* show = cmd->add_subcommand("show", "Show one pair's epoch, mode and holder");
  show->add_option("pair", admin->pair, "The pair's name")->required();
  add_admin_options(*show, *admin);
  show->callback([&action, admin] {
    action = [admin] {
      return with_arbiter(*admin,
                          [&](arbiter::Arbiter& a) { return host::show_pair(a, admin->pair); });
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
                          [&](arbiter::Arbiter& a) { return host::release_pair(a, admin->pair); });
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
