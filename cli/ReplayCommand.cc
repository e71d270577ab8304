// vmft replay: re-execute a recorded run from its log (host::replay).
#include "ReplayCommand.h"

#include <memory>

#include "Logging.h"
#include "vmft/host/Replay.h"

namespace vmft::cli {

void add_replay_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<host::ReplayConfig>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "Re-execute a recorded run from its log and check every output and digest");
  cmd->add_option("guest", options->guest, "The guest the log was recorded with")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--log", options->log, "The log `vmft record` wrote")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--until", options->until,
                  "Stop before the instruction with this count and print the registers");
  cmd->add_option("--dump-ram", options->dump_ram, "With --until: write guest RAM to this file")
      ->needs("--until");
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return host::replay(*options); }; });
}

}  // namespace vmft::cli
