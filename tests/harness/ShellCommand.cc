#include "ShellCommand.h"

#include <signal.h>

namespace vmft::integration {

CommandResult run_shell(const std::string& command, Duration timeout) {
  Subprocess shell({"/bin/sh", "-c", command});
  CommandResult result;
  result.exit_code = shell.wait_for_exit(timeout);
  if (!result.exit_code) shell.signal_group(SIGKILL);
  result.out = shell.stdout_text();
  result.err = shell.stderr_text();
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
