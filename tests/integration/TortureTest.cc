// The torture guest (tests/guests/torture.c: a timer storm, every nondeterministic source,
// idling, and a numbered console line every 0.2 ms) as a pair of real processes: the backup
// must reproduce every run to its end, and across a kill -9 of the primary no console line may
// be lost or differ (a line may appear twice, from both sides). ./scripts/test runs a few of
// each; VMFT_TORTURE_RUNS sets how many (scripts/soak --torture runs 50).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "NetClients.h"
#include "PairProcesses.h"
#include "TestArbiter.h"

namespace vmft::integration {
namespace {

constexpr Duration kTimeout{20000};
const std::string kReady = "torture: ready\n";

int runs() {
  const char* text = std::getenv("VMFT_TORTURE_RUNS");
  return text ? std::max(1, std::atoi(text)) : 5;
}

// "torture: line N mix M" -> N.
std::string line_text(uint64_t number) { return "torture: line " + std::to_string(number) + " "; }

/// Checks that the console lines of `consoles` together number 1..N without a gap, and that a
/// number written by more than one side (a line the backup wrote again) has the same text.
/// Returns N.
uint64_t check_console_lines(const std::vector<std::string>& consoles, const std::string& where) {
  static const std::regex line(R"(torture: line (\d+) mix (\d+))");
  std::map<uint64_t, std::string> seen;
  for (const std::string& console : consoles) {
    std::istringstream in(console);
    for (std::string text; std::getline(in, text);) {
      std::smatch m;
      if (!std::regex_match(text, m, line)) continue;
      const uint64_t n = std::stoull(m[1]);
      const auto [it, fresh] = seen.emplace(n, text);
      EXPECT_TRUE(fresh || it->second == text)
          << where << ": line " << n << " written twice, differently: '" << it->second << "', '"
          << text << "'";
    }
  }
  if (seen.empty()) {
    ADD_FAILURE() << where << ": no console line";
    return 0;
  }
  const uint64_t last = seen.rbegin()->first;
  for (uint64_t n = 1; n <= last; ++n) {
    if (!seen.count(n)) {
      ADD_FAILURE() << where << ": console line " << n << " of " << last << " is lost";
      break;
    }
  }
  return last;
}

// Ends the guest: it prints its mix and exits 0.
void quit(uint16_t udp_port) { UdpClient().send_to(udp_port, "quit"); }

PairSpec torture_pair(std::vector<std::string> options = {}) {
  PairSpec spec;
  spec.guest = "torture";
  spec.tcp = false;
  spec.name = "torture";
  spec.options = std::move(options);
  spec.ready_line = kReady;
  return spec;
}

// The backup replays the primary's log as it comes, through timer storms, idling and console
// output, and checks the final state when the guest exits.
TEST(Torture, TheBackupReproducesEveryRun) {
  for (int run = 1; run <= runs(); ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    PairProcesses pair(torture_pair());
    pair.pair();
    // Some thousands of lines, with datagrams among them for the guest to answer.
    UdpClient client;
    const uint64_t lines = 500u * static_cast<uint64_t>(run);
    for (uint64_t n = 100; n <= lines; n += 100) {
      ASSERT_TRUE(pair.primary().wait_for_console(line_text(n), kTimeout)) << pair.diagnostics();
      client.send_to(pair.udp_port(), "ping " + std::to_string(n));
    }
    quit(pair.udp_port());
    const auto exits = pair.wait_for_exits();
    EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
    EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
    EXPECT_NE(pair.backup().log().find("backup: reproduced the primary's run to its end"),
              std::string::npos)
        << pair.diagnostics();
    check_console_lines({pair.primary().console()}, "run " + std::to_string(run));
    if (HasFailure()) return;
  }
}

// kill -9 of the primary at a different point of each run: the backup goes live, and the
// console lines of both sides together lose none.
TEST(Torture, KillingThePrimaryLosesNoConsoleLine) {
  for (int run = 1; run <= runs(); ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const auto arbiter = TestArbiter::start(ArbiterKind::kBuiltIn);
    PairProcesses pair(torture_pair({"--arbiter", arbiter->address()}));
    pair.pair();
    ASSERT_TRUE(pair.primary().wait_for_event("registered", {{"epoch", 1}}, kTimeout))
        << pair.diagnostics();
    const uint64_t kill_at = 200u + 377u * static_cast<uint64_t>(run);
    ASSERT_TRUE(pair.primary().wait_for_console(line_text(kill_at), kTimeout))
        << pair.diagnostics();
    pair.primary().kill();
    ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
    const auto port = pair.backup().listening_port("udp", kTimeout);
    ASSERT_TRUE(port) << pair.diagnostics();
    // The live side goes on writing lines, after those it wrote again.
    ASSERT_TRUE(pair.backup().wait_for_console(line_text(kill_at + 500), kTimeout))
        << pair.diagnostics();
    quit(*port);
    EXPECT_EQ(pair.backup().wait_for_exit(kTimeout), std::optional<int>(0)) << pair.diagnostics();
    const uint64_t last = check_console_lines({pair.primary().console(), pair.backup().console()},
                                              "run " + std::to_string(run));
    EXPECT_GE(last, kill_at + 500);
    if (HasFailure()) {
      ADD_FAILURE() << pair.diagnostics() << "--- backup console ---\n" << pair.backup().console();
      return;
    }
  }
}

}  // namespace
}  // namespace vmft::integration
