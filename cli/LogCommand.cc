// vmft log show: a log file's header and records (host::show_log).
#include "LogCommand.h"

#include <memory>

#include "Logging.h"
#include "vmft/host/LogShow.h"

namespace vmft::cli {

void add_log_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("log", "Inspect a log recorded by vmft record");
  cmd->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  CLI::App* show_cmd = cmd->add_subcommand("show", "Print a log's header and one line per record");
  show_cmd->add_option("file", *path, "The log file")->required()->check(CLI::ExistingFile);
  auto json = std::make_shared<bool>(false);
  show_cmd->add_flag("--json", *json,
                     "One JSON object per line: the header, then each record's seq, icount, type "
                     "and fields");
  add_log_level_option(*show_cmd, log_level);
  show_cmd->callback(
      [&action, path, json] { action = [path, json] { return host::show_log(*path, *json); }; });
}

}  // namespace vmft::cli
