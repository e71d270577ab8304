// The vmft command line: one file per subcommand.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <map>

#include "RunCommand.h"

int main(int argc, char** argv) {
  CLI::App app{"vmft: run a RISC-V guest program fault-tolerantly (VM-FT style primary/backup)"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand

  std::string level = "info";
  app.add_option("--log-level", level, "Log detail: trace, debug, info, warn, error or off")
      ->envname("VMFT_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  std::function<int()> action;
  vmft::cli::add_run_command(app, action);

  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("vmft");
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));

  try {
    return action();
  } catch (const std::invalid_argument& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
