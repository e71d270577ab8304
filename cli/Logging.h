#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vmft::cli {

/// Adds --log-level (default from VMFT_LOG_LEVEL, else info) to a subcommand; every
/// subcommand takes it, so its --help lists it.
void add_log_level_option(CLI::App& cmd, std::string& level);

/// Sends vmft's own log to stderr at `level`.
void setup_logging(const std::string& level);

}  // namespace vmft::cli
