#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmft::cli {

/// Adds `vmft record`: `vmft run` that also writes the event log.
void add_record_command(CLI::App& app, std::string& log_level, std::function<int()>& action);

}  // namespace vmft::cli
