// vmft backup: the backup of a fault-tolerant pair (host::BackupSession). It replays the
// primary's log as it arrives, and goes live if the primary is gone and the arbiter says so.
#include "BackupCommand.h"

#include <memory>

#include "Logging.h"
#include "PairOptions.h"
#include "vmft/host/BackupSession.h"
#include "vmft/host/Events.h"

namespace vmft::cli {

namespace {

// A bad option, or a guest, secret or events file it cannot use, ends the command through
// main (exit 2, or 1).
int run_backup(const PairOptions& options) {
  host::PairConfig config = pair_config(options);
  host::EventLog events(options.events, options.name, "backup");
  return host::run_backup(std::move(config), events);
}

}  // namespace

void add_backup_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<PairOptions>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Run a guest as the backup of a fault-tolerant pair: replay the primary's log "
      "as it arrives, sending nothing to clients");
  add_pair_options(*cmd, *options);
  cmd->add_option("--log-connect", options->channel, "The primary's logging channel: HOST:PORT")
      ->required();
  cmd->add_option("--log-listen", options->listen,
                  "Where a new backup joins this one once it has gone live: HOST:PORT of its "
                  "logging channel (none: it cannot be joined)");
  cmd->add_option("--wait-for-primary", options->wait_for_primary,
                  "Seconds to wait for the primary to answer before giving up with exit code 1 "
                  "(0: wait for ever)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0 * 365));
  cmd->add_flag("--join", options->join,
                "Join a primary that runs alone: start from a snapshot of its running guest "
                "instead of from boot (needs --arbiter)");
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return run_backup(*options); }; });
}

}  // namespace vmft::cli
