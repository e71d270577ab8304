// vmft record: run a guest like `vmft run` and write every nondeterministic input, output and
// state digest to a log that `vmft replay` re-executes.
#include "RecordCommand.h"

#include <memory>
#include <stdexcept>

#include "LiveOptions.h"
#include "Logging.h"

namespace vmft::cli {

void add_record_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<LiveOptions>();
  auto log_path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "record", "Run a guest like `vmft run` and record its inputs and outputs to a log");
  add_live_options(*cmd, *options);
  cmd->add_option("--log", *log_path, "The log file to write (replaced if it exists)")->required();
  cmd->add_option("--digest-interval", options->digest_interval,
                  "Instructions between state digests (at least 1). Smaller values narrow a "
                  "replay's divergence report, at the cost of log size and speed")
      ->capture_default_str();
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options, log_path] {
    action = [options, log_path] {
      if (options->digest_interval == 0) {
        throw std::invalid_argument(
            "--digest-interval 0: state digests need at least 1 instruction between them");
      }
      return host::run_live(guest_config(*options), *log_path);
    };
  });
}

}  // namespace vmft::cli
