#pragma once

#include <optional>
#include <string>
#include <vector>

#include "Subprocess.h"

namespace vmft::integration {

struct CommandResult {
  std::optional<int> exit_code;  ///< nullopt: still running at the timeout, so it was killed
  std::string out;
  std::string err;
};

/// Runs `command` with /bin/sh -c and captures its output. If it has not finished within
/// `timeout`, its whole process group is killed and exit_code is nullopt.
CommandResult run_shell(const std::string& command, Duration timeout);

/// Runs `argv` (argv[0] looked up in PATH, e.g. a client run through `ip netns exec`) and
/// captures its output, as run_shell() does.
CommandResult run_command(const std::vector<std::string>& argv, Duration timeout);

/// The shell-quoted form of `text`, to build commands from test data safely.
std::string shell_quote(const std::string& text);

}  // namespace vmft::integration
