// The installed SDK as a user outside vmft's tree uses it: `cmake --install` into a fresh
// prefix, the guest project in tests/sdk-project copied out of the tree and configured with the
// installed toolchain file, and the guest it builds run by the installed vmft, recorded and
// replayed, and run as a pair.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "PairProcesses.h"
#include "Subprocess.h"
#include "VmftProcess.h"

#ifndef VMFT_CMAKE
#error "VMFT_CMAKE must name cmake, VMFT_BUILD_DIR this build, VMFT_SDK_PROJECT the project"
#endif

namespace vmft::integration {
namespace {

namespace fs = std::filesystem;

const Duration kBuildTimeout = scaled(Duration(120000));
const Duration kTimeout = scaled(Duration(20000));

struct Finished {
  int exit_code;
  std::string output;
};

Finished run(const std::vector<std::string>& argv, Duration timeout) {
  Subprocess p(argv);
  const auto code = p.wait_for_exit(timeout);
  return {code.value_or(-1), p.stdout_text() + p.stderr_text()};
}

class InstalledSdk : public ::testing::Test {
 protected:
  InstalledSdk() {
    char tmpl[] = "/tmp/vmft-sdk-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~InstalledSdk() override { fs::remove_all(dir_); }

  fs::path dir_;
};

// What the guest prints but for its last line, the entropy device's value.
const std::string kConsole =
    "greeting constructed\n"
    "sorted apple banana date fig pear quince\n"
    "sqrt2 1.414214\n"
    "slept 2 ms\n"
    "wall clock after 2020: yes\n"
    "entropy ";

TEST_F(InstalledSdk, GuestBuiltOutsideTheTreeRunsRecordsReplaysAndPairs) {
  const fs::path prefix = dir_ / "prefix";
  const fs::path project = dir_ / "project";
  const fs::path build = dir_ / "build";
  auto r = run({VMFT_CMAKE, "--install", VMFT_BUILD_DIR, "--prefix", prefix}, kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::copy(VMFT_SDK_PROJECT, project, fs::copy_options::recursive);
  const fs::path toolchain = prefix / "share/vmft/sdk/cmake/toolchain.cmake";
  r = run({VMFT_CMAKE, "-DCMAKE_TOOLCHAIN_FILE=" + toolchain.string(), "-S", project, "-B", build},
          kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run({VMFT_CMAKE, "--build", build}, kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string guest = build / "wordsort.elf";
  ASSERT_TRUE(fs::exists(guest)) << r.output;
  // The network stack's guest: on the socket NIC it says it has no frame NIC, and exits 2.
  const auto announce = run_vmft({"run", build / "announce.elf"}, kTimeout);
  EXPECT_EQ(announce.exit_code, 2) << announce.err;
  EXPECT_EQ(announce.out, "announce: no frame NIC (run with --tap)\n");

  // Run by the installed vmft.
  Subprocess installed({prefix / "bin/vmft", "run", guest});
  ASSERT_EQ(installed.wait_for_exit(kTimeout), 0) << installed.stderr_text();
  EXPECT_EQ(installed.stdout_text().rfind(kConsole, 0), 0u) << installed.stdout_text();

  const std::string log = dir_ / "run.log";
  const auto recorded = run_vmft({"record", guest, "--log", log}, kTimeout);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_EQ(recorded.out.rfind(kConsole, 0), 0u) << recorded.out;
  const auto replayed = run_vmft({"replay", guest, "--log", log}, kTimeout);
  EXPECT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_EQ(replayed.out, recorded.out);

  PairSpec spec;
  spec.guest = guest;
  spec.udp = spec.tcp = false;
  PairProcesses pair(spec);
  pair.pair();
  const auto exits = pair.wait_for_exits();
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(pair.primary().console().rfind(kConsole, 0), 0u) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("reproduced the primary's run to its end"), std::string::npos)
      << pair.diagnostics();
}

TEST_F(InstalledSdk, InstallsSystemdUnitsAndExampleGuestsTheInstalledVmftRuns) {
  const fs::path prefix = dir_ / "prefix";
  const auto r = run({VMFT_CMAKE, "--install", VMFT_BUILD_DIR, "--prefix", prefix}, kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string vmft = (prefix / "bin/vmft").string();
  for (const char* unit :
       {"vmft-arbiter.service", "vmft-primary@.service", "vmft-backup@.service"}) {
    const fs::path path = prefix / "lib/systemd/system" / unit;
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("ExecStart=" + vmft + " "), std::string::npos) << text;
    EXPECT_NE(text.find("Restart=on-failure"), std::string::npos) << text;
    EXPECT_EQ(text.find('@' + std::string("VMFT_")), std::string::npos) << "unconfigured: " << text;
  }
  // systemd's own check of each unit (a template as an instance of it), where it is installed.
  if (fs::exists("/usr/bin/systemd-analyze")) {
    for (const auto& [unit, as] : {std::pair{"vmft-arbiter.service", "vmft-arbiter.service"},
                                   std::pair{"vmft-primary@.service", "vmft-primary@demo.service"},
                                   std::pair{"vmft-backup@.service", "vmft-backup@demo.service"}}) {
      fs::copy_file(prefix / "lib/systemd/system" / unit, dir_ / as);
      const auto verified = run({"/usr/bin/systemd-analyze", "verify", dir_ / as}, kTimeout);
      EXPECT_EQ(verified.exit_code, 0) << as << ": " << verified.output;
      EXPECT_EQ(verified.output, "") << as;
    }
  }
  const fs::path counter = prefix / "share/vmft/guests/counter.elf";
  ASSERT_TRUE(fs::exists(counter));
  EXPECT_TRUE(fs::exists(prefix / "share/vmft/guests/echo.elf"));
  EXPECT_TRUE(fs::exists(prefix / "share/vmft/guests/kvstore.elf"));
  Subprocess served({vmft, "run", counter.string(), "--tcp", "127.0.0.1:0"});
  EXPECT_TRUE(served.wait_for_stdout(
      [](const std::string& out) { return out.find("counter: ready") != std::string::npos; },
      kTimeout))
      << served.stderr_text();
  served.signal(SIGTERM);
  EXPECT_EQ(served.wait_for_exit(kTimeout), std::optional<int>(0)) << served.stderr_text();
}

}  // namespace
}  // namespace vmft::integration
