#include "VmftProcess.h"

#include <csignal>
#include <regex>

#ifndef VMFT_BINARY
#error "VMFT_BINARY must name the vmft executable (a string literal)"
#endif
#ifndef VMFT_GUEST_DIR
#error "VMFT_GUEST_DIR must name the directory of the built guests (a string literal)"
#endif

namespace vmft::integration {

namespace {

std::vector<std::string> command_line(const std::string& command, const std::string& guest,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv = {VMFT_BINARY, command, guest_path(guest)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

std::string guest_path(const std::string& name) {
  return std::string(VMFT_GUEST_DIR) + "/" + name + ".elf";
}

FinishedVmft run_vmft(const std::vector<std::string>& args, Duration timeout) {
  std::vector<std::string> argv = {VMFT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p(argv);
  const auto code = p.wait_for_exit(timeout);
  return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
}

VmftProcess::VmftProcess(const std::string& guest, const std::vector<std::string>& args)
    : process_(command_line("run", guest, args)) {}

VmftProcess::VmftProcess(const std::string& command, const std::string& guest,
                         const std::vector<std::string>& args)
    : process_(command_line(command, guest, args)) {}

std::optional<uint16_t> VmftProcess::listening_port(const std::string& protocol, Duration timeout) {
  const std::regex line("listening on " + protocol + R"( 127\.0\.0\.1:(\d+))");
  std::smatch match;
  std::string log;
  const bool found = process_.wait_for_stderr(
      [&](const std::string& text) {
        log = text;
        return std::regex_search(log, match, line);
      },
      timeout);
  if (!found) return std::nullopt;
  const unsigned long port = std::stoul(match[1].str());
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

bool VmftProcess::wait_for_console(const std::string& text, Duration timeout) {
  return process_.wait_for_stdout(
      [&](const std::string& console) { return console.find(text) != std::string::npos; }, timeout);
}

void VmftProcess::terminate() { process_.signal(SIGTERM); }

bool VmftProcess::wait_for_log(const std::string& text, Duration timeout) {
  return process_.wait_for_stderr(
      [&](const std::string& log) { return log.find(text) != std::string::npos; }, timeout);
}

void VmftProcess::interrupt() { process_.signal(SIGINT); }

void VmftProcess::kill() { process_.signal(SIGKILL); }

std::optional<int> VmftProcess::wait_for_exit(Duration timeout) {
  return process_.wait_for_exit(timeout);
}

}  // namespace vmft::integration
