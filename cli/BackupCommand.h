#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmft::cli {

/// Adds `vmft backup` to `app`; when it is chosen, `action` is set to the function that runs it
/// and returns the process exit code. Its --log-level goes to `log_level`.
void add_backup_command(CLI::App& app, std::string& log_level, std::function<int()>& action);

}  // namespace vmft::cli
