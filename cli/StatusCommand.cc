// vmft status: asks a side of a pair how it stands (its --status-listen) and prints it.
#include "StatusCommand.h"

#include <chrono>
#include <memory>

#include "Logging.h"
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
  return host::print_status(options.address, options.json, timeout);
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
