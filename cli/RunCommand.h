#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace vmft::cli {

/// Adds `vmft run` to `app`; when it is chosen, `action` is set to the function that runs it
/// and returns the process exit code.
void add_run_command(CLI::App& app, std::function<int()>& action);

}  // namespace vmft::cli
