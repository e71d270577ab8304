// The vmft command line: one file per subcommand.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <functional>

#include "ArbiterCommand.h"
#include "BackupCommand.h"
#include "LogCommand.h"
#include "Logging.h"
#include "PrimaryCommand.h"
#include "RecordCommand.h"
#include "ReplayCommand.h"
#include "RunCommand.h"
#include "StatusCommand.h"
#include "vmft/ft/ExitCodes.h"

int main(int argc, char** argv) {
  CLI::App app{"vmft: run a RISC-V guest program fault-tolerantly (VM-FT style primary/backup)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vmft " VMFT_VERSION " (Unicorn " VMFT_UNICORN_VERSION ")");
  app.footer(vmft::ft::kExitCodesHelp);

  std::string log_level = "info";
  std::function<int()> action;
  vmft::cli::add_run_command(app, log_level, action);
  vmft::cli::add_record_command(app, log_level, action);
  vmft::cli::add_replay_command(app, log_level, action);
  vmft::cli::add_log_command(app, log_level, action);
  vmft::cli::add_primary_command(app, log_level, action);
  vmft::cli::add_backup_command(app, log_level, action);
  vmft::cli::add_arbiter_command(app, log_level, action);
  vmft::cli::add_status_command(app, log_level, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "parse errors" that exit 0; every real one is a usage error.
    return app.exit(e) == 0 ? vmft::ft::kOkExitCode : vmft::ft::kUsageExitCode;
  }
  vmft::cli::setup_logging(log_level);
  try {
    return action();
  } catch (const std::invalid_argument& e) {  // a value, found out once it is used
    spdlog::error("{}", e.what());
    return vmft::ft::kUsageExitCode;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return vmft::ft::kStartFailedExitCode;
  }
}
