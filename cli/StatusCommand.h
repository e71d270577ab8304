#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmft::cli {

/// Adds `vmft status HOST:PORT` (what a side serves on --status-listen, for people) to `app`.
void add_status_command(CLI::App& app, std::string& log_level, std::function<int()>& action);

}  // namespace vmft::cli
