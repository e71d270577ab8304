#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <span>
#include <string>

namespace vmft::cli {

/// The flags of a guest that runs against the real host (`vmft run`, `vmft record`).
struct LiveOptions {
  std::string guest;
  std::string udp;
  std::string tcp;
  std::string mem = "64M";
};

/// Adds the guest argument and --udp, --tcp, --mem to `cmd`.
void add_live_options(CLI::App& cmd, LiveOptions& options);

/// Runs the guest with real clocks, randomness and sockets until it exits or SIGINT/SIGTERM;
/// when `log_path` is not empty, records every input and check there. Returns the exit code.
int run_live(const LiveOptions& options, const std::string& log_path);

/// Where the guest's console goes: vmft's stdout, unbuffered.
void write_console(std::span<const uint8_t> bytes);

/// Exit codes shared by the subcommands.
inline constexpr int kUsageExitCode = 1;     ///< bad input: a flag, a guest file, a log file
inline constexpr int kFaultExitCode = 70;    ///< EX_SOFTWARE: the guest crashed
inline constexpr int kDivergedExitCode = 3;  ///< a replay did not match its log

}  // namespace vmft::cli
