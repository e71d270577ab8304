// vmft status: asks a side of a pair how it stands (its --status-listen) and prints it.
#include "StatusCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "Logging.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/host/Status.h"

namespace vmft::cli {

namespace {

struct StatusOptions {
  std::string address;
  bool json = false;
  double timeout = 3;  ///< seconds
};

int run_status(const StatusOptions& options) {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout * 1000));
  // A bad address, or a side that does not answer, ends the command through main (exit 2, 1).
  const std::string body = host::fetch_status(options.address, "/status", timeout);
  if (options.json) {
    fmt::print("{}", body);
    return ft::kOkExitCode;
  }
  try {
    fmt::print("{}", host::describe_status(host::parse_status_json(body)));
  } catch (const std::exception& e) {
    spdlog::error("{} answered something that is not a vmft status: {}", options.address, e.what());
    return ft::kStartFailedExitCode;
  }
  return ft::kOkExitCode;
}

}  // namespace

void add_status_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show how a side of a pair stands: what it serves on its --status-listen");
  cmd->add_option("address", options->address, "HOST:PORT of the side's --status-listen")
      ->required();
  cmd->add_flag("--json", options->json, "Print the JSON of GET /status as it came");
  cmd->add_option("--timeout", options->timeout, "Seconds to wait for the answer")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return run_status(*options); }; });
}

}  // namespace vmft::cli
