#include "ShellCommand.h"

#include <signal.h>

namespace vmft::integration {

CommandResult run_shell(const std::string& command, Duration timeout) {
  return run_command({"/bin/sh", "-c", command}, timeout);
}

CommandResult run_command(const std::vector<std::string>& argv, Duration timeout) {
  Subprocess process(argv);
  CommandResult result;
  result.exit_code = process.wait_for_exit(timeout);
  if (!result.exit_code) process.signal_group(SIGKILL);
  result.out = process.stdout_text();
  result.err = process.stderr_text();
  return result;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace vmft::integration
