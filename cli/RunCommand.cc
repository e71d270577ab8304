// vmft run: one guest, standalone, with real clocks, randomness and sockets; no log.
#include "RunCommand.h"

#include <memory>

#include "LiveOptions.h"
#include "Logging.h"

namespace vmft::cli {

void add_run_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<LiveOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a guest standalone (no log, no backup)");
  add_live_options(*cmd, *options);
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] {
    action = [options] { return host::run_live(guest_config(*options), ""); };
  });
}

}  // namespace vmft::cli
