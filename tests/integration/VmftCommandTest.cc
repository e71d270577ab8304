// `vmft run` as a user meets it: exit codes, fault reports, bad input, signals, help.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "Subprocess.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

namespace fs = std::filesystem;

constexpr Duration kTimeout{20000};

FinishedVmft run_vmft(const std::vector<std::string>& args) {
  return integration::run_vmft(args, kTimeout);
}

TEST(VmftRun, GuestExitCodeBecomesVmftExitCode) {
  const auto r = run_vmft({"run", guest_path("count")});
  EXPECT_EQ(r.exit_code, 2001 & 0xff);
  EXPECT_NE(r.err.find("guest exited with code 2001 after 2004 instructions"), std::string::npos)
      << r.err;
}

TEST(VmftRun, TheWholeExitCodeGoesToTheExitCodeFile) {
  const fs::path file = fs::temp_directory_path() / ("vmft-exit-" + std::to_string(::getpid()));
  std::ofstream(file) << "stale\n";  // from an earlier run: removed at start
  const auto r = run_vmft({"run", guest_path("count"), "--exit-code-file", file.string()});
  EXPECT_EQ(r.exit_code, 2001 & 0xff);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "2001\n");
  // A guest that does not exit (it faults) leaves no file.
  const auto fault = run_vmft({"run", guest_path("fault"), "--exit-code-file", file.string()});
  EXPECT_EQ(fault.exit_code, ft::kFaultExitCode);
  EXPECT_FALSE(fs::exists(file));
  fs::remove(file);
}

TEST(VmftCommand, VersionNamesTheBuildAndItsUnicorn) {
  const auto r = run_vmft({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("vmft ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(Unicorn 2."), std::string::npos) << r.out;
}

TEST(VmftCommand, HelpAndTheReadmeListEveryExitCode) {
  const auto help = run_vmft({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find(ft::kExitCodesHelp), std::string::npos) << help.out;
  std::ifstream readme(std::string(VMFT_SOURCE_DIR) + "/README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)),
                         std::istreambuf_iterator<char>());
  for (int code : {ft::kOkExitCode, ft::kStartFailedExitCode, ft::kUsageExitCode,
                   ft::kDivergedExitCode, ft::kPairBrokenExitCode, ft::kLostPairExitCode,
                   ft::kNameHeldExitCode, ft::kFaultExitCode}) {
    EXPECT_NE(text.find("\n| " + std::to_string(code) + " | "), std::string::npos)
        << "README.md's table of exit codes has no row for " << code;
    EXPECT_NE(std::string(ft::kExitCodesHelp).find("  " + std::to_string(code) + " "),
              std::string::npos)
        << "--help's list has no line for " << code;
  }
}

TEST(VmftCommand, AnUnknownFlagIsAUsageError) {
  const auto r = run_vmft({"run", guest_path("count"), "--no-such-flag"});
  EXPECT_EQ(r.exit_code, ft::kUsageExitCode) << r.err;
}

TEST(VmftRun, FaultingGuestExitsWith70AndAReport) {
  const auto r = run_vmft({"run", guest_path("fault")});
  EXPECT_EQ(r.exit_code, 70);
  EXPECT_NE(r.err.find("guest fault: bad memory access: 4-byte read from unmapped address 0x1234 "
                       "at pc 0x"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" instructions"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mepc="), std::string::npos) << "no register dump: " << r.err;
}

TEST(VmftRun, TimerGuestGetsItsTicks) {
  const auto r = run_vmft({"run", guest_path("timer")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tick\ntick\ntick\n");
}

TEST(VmftRun, RefusesAHostExecutableNamingItsMachine) {
  const auto r = run_vmft({"run", "/bin/true"});
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(r.err.find("machine is x86-64"), std::string::npos) << r.err;
}

TEST(VmftRun, CounterSaysWhenItsRamIsTooSmall) {
  const auto r = run_vmft({"run", guest_path("counter"), "--mem", "1M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("RAM too small"), std::string::npos) << r.out;
}

TEST(VmftRun, RefusesABadMemorySize) {
  const auto r = run_vmft({"run", guest_path("count"), "--mem", "12Q"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("size '12Q' has an unknown unit"), std::string::npos) << r.err;
  const auto small = run_vmft({"run", guest_path("count"), "--mem", "4K"});
  EXPECT_EQ(small.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(small.err.find("between 1 MiB and 4 GiB"), std::string::npos) << small.err;
}

TEST(VmftRun, RefusesClientLimitsOutOfRangeNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--max-unread-bytes", "1K"}, "--max-unread-bytes must be from 64K to 4G, not 1K"},
      {{"--max-unread-bytes", "16Q"}, "size '16Q' has an unknown unit"},
      {{"--idle-timeout", "99999999"}, "--idle-timeout"},
      {{"--idle-timeout", "soon"}, "--idle-timeout"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"run", guest_path("echo"), "--tcp", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto r = run_vmft(args);
    EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode) << flags[0] << " " << flags[1];
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

TEST(VmftRun, RefusesAnAddressItCannotBind) {
  const auto r = run_vmft({"run", guest_path("echo"), "--tcp", "192.0.2.1:7"});
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(r.err.find("cannot bind tcp 192.0.2.1:7"), std::string::npos) << r.err;
}

TEST(VmftRun, RefusesAMalformedAddress) {
  const auto r = run_vmft({"run", guest_path("echo"), "--udp", "localhost"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("address 'localhost' must be HOST:PORT"), std::string::npos) << r.err;
}

TEST(VmftRun, RefusesAMissingGuestFile) {
  const auto r = run_vmft({"run", "/nonexistent/guest.elf"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.err + r.out).find("/nonexistent/guest.elf"), std::string::npos) << r.err << r.out;
}

TEST(VmftRun, SigintStopsCleanly) {
  VmftProcess vmft("echo", {"--udp", "127.0.0.1:0"});
  ASSERT_TRUE(vmft.listening_port("udp", kTimeout));
  ASSERT_TRUE(vmft.wait_for_console("echo: ready", kTimeout));
  vmft.interrupt();
  EXPECT_EQ(vmft.wait_for_exit(kTimeout), 0);
  EXPECT_NE(vmft.log().find("received SIGINT, stopping"), std::string::npos) << vmft.log();
}

TEST(VmftRun, SighupStopsCleanlyToo) {
  VmftProcess vmft("echo", {"--udp", "127.0.0.1:0"});
  ASSERT_TRUE(vmft.wait_for_console("echo: ready", kTimeout));
  ::kill(vmft.pid(), SIGHUP);
  EXPECT_EQ(vmft.wait_for_exit(kTimeout), 0);
  EXPECT_NE(vmft.log().find("received SIGHUP, stopping"), std::string::npos) << vmft.log();
}

TEST(VmftRun, HelpExplainsEveryFlag) {
  const auto r = run_vmft({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--udp", "--tcp", "--mem", "--max-connections", "--max-unread-bytes",
                           "--idle-timeout", "--log-level"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from:\n" << r.out;
  }
  const auto top = run_vmft({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos) << top.out;
}

}  // namespace
}  // namespace vmft::integration
