#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmft::cli {

/// Adds `vmft primary` and `vmft backup`; a parsed one sets `action`.
void add_pair_commands(CLI::App& app, std::string& log_level, std::function<int()>& action);

}  // namespace vmft::cli
