// vmft primary: the primary of a fault-tolerant pair (host::PrimarySession). It runs the guest
// against the real host and streams its log to the backup, holding every output until the
// backup has the log up to it.
#include "PrimaryCommand.h"

#include <memory>

#include "Logging.h"
#include "PairOptions.h"
#include "vmft/host/Events.h"
#include "vmft/host/PrimarySession.h"

namespace vmft::cli {

namespace {

// A bad option, or a guest, secret or events file it cannot use, ends the command through
// main (exit 2, or 1).
int run_primary(const PairOptions& options) {
  host::PairConfig config = pair_config(options);
  host::EventLog events(options.events, options.name, "primary");
  return host::run_primary(std::move(config), events);
}

}  // namespace

void add_primary_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<PairOptions>();
  CLI::App* cmd = app.add_subcommand(
      "primary",
      "Run a guest as the primary of a fault-tolerant pair: stream its log to the "
      "backup and hold every output until the backup has the log up to it");
  add_pair_options(*cmd, *options);
  cmd->add_option("--log-listen", options->channel,
                  "Where the backup connects, and later backups join: HOST:PORT of the logging "
                  "channel")
      ->required();
  cmd->add_option("--max-lag", options->max_lag,
                  "Instructions the guest may run ahead of where the backup has executed to; "
                  "further, it waits until the backup is within half of it (0: no bound)")
      ->capture_default_str();
  cmd->add_option("--max-lag-time", options->max_lag_time_ms,
                  "Milliseconds of the guest's running time it may run ahead of where the backup "
                  "has executed to (about what a backup that takes over must execute first); "
                  "further, it waits until the backup is within half of it (0: no bound)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 60000u));
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return run_primary(*options); }; });
}

}  // namespace vmft::cli
