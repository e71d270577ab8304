#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vmft::cli {

/// Adds `vmft replay`: re-execute a recorded run from its log and check it.
void add_replay_command(CLI::App& app, std::string& log_level, std::function<int()>& action);

}  // namespace vmft::cli
