// Operating a pair: stopping and starting either side with the same commands, a backup that
// leaves, a primary that fails fast, and what an operator asks of the arbiter. Real processes,
// real arbiters (built-in and etcd), the counter guest and real clients on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "CounterChecks.h"
#include "ExitCodes.h"
#include "FreePort.h"
#include "NetClients.h"
#include "TestArbiter.h"
#include "VmftProcess.h"

namespace vmft::integration {
namespace {

constexpr Duration kTimeout{10000};
using arbiter::Mode;

// The two sides of a pair of counters, each started from the same command line every time:
// the client port and both logging channel ports are fixed, as a service manager's would be.
class SameCommands {
 public:
  SameCommands(std::string arbiter, std::string name)
      : arbiter_(std::move(arbiter)),
        name_(std::move(name)),
        tcp_(unused_port(SOCK_STREAM)),
        log_(unused_port(SOCK_STREAM)) {}

  std::vector<std::string> primary_args() const {
    return side({"--log-listen", "127.0.0.1:" + std::to_string(log_)});
  }
  std::vector<std::string> backup_args() const {
    return side({"--log-connect", "127.0.0.1:" + std::to_string(log_)});
  }
  std::unique_ptr<VmftProcess> start_primary() const {
    return std::make_unique<VmftProcess>("primary", "counter", primary_args());
  }
  std::unique_ptr<VmftProcess> start_backup() const {
    return std::make_unique<VmftProcess>("backup", "counter", backup_args());
  }
  // Both sides, paired and serving; the test fails (and this returns false) if not.
  bool start_pair(std::unique_ptr<VmftProcess>& primary, std::unique_ptr<VmftProcess>& backup) {
    primary = start_primary();
    if (!primary->wait_for_log("waiting for the backup", kTimeout)) {
      ADD_FAILURE() << "the primary did not start\n" << primary->log();
      return false;
    }
    backup = start_backup();
    const bool paired = backup->wait_for_log("backup: paired with the primary", kTimeout) &&
                        primary->wait_for_console("counter: ready", kTimeout);
    if (!paired) ADD_FAILURE() << "no pair\n" << primary->log() << "\n" << backup->log();
    return paired;
  }
  uint16_t tcp_port() const { return tcp_; }
  // A primary run to its end, for one that is to refuse to start.
  FinishedVmft run_primary() const {
    std::vector<std::string> args = {"primary", guest_path("counter")};
    const auto rest = primary_args();
    args.insert(args.end(), rest.begin(), rest.end());
    return run_vmft(args, kTimeout);
  }

 private:
  std::vector<std::string> side(std::vector<std::string> channel) const {
    std::vector<std::string> args = {
        "--name", name_, "--tcp", "127.0.0.1:" + std::to_string(tcp_), "--status-interval", "0"};
    if (!arbiter_.empty()) args.insert(args.end(), {"--arbiter", arbiter_});
    args.insert(args.end(), channel.begin(), channel.end());
    return args;
  }

  std::string arbiter_;
  std::string name_;
  uint16_t tcp_;
  uint16_t log_;
};

// kill -9 of both sides, as a power cut would: nobody releases the pair.
void kill_both(VmftProcess& primary, VmftProcess& backup) {
  primary.kill();
  backup.kill();
  primary.wait_for_exit(kTimeout);
  backup.wait_for_exit(kTimeout);
}

std::string incr(uint16_t port) {
  TcpClient client(port);
  return counter_command(client, "INCR k");
}

class Lifecycle : public ::testing::TestWithParam<ArbiterKind> {
 protected:
  void SetUp() override { arbiter_ = TestArbiter::start(GetParam()); }
  std::string address() const { return arbiter_->address(); }
  arbiter::ArbiterState state(const std::string& pair) const { return arbiter_->read(pair); }

  std::unique_ptr<TestArbiter> arbiter_;
};

INSTANTIATE_TEST_SUITE_P(Arbiter, Lifecycle,
                         ::testing::Values(ArbiterKind::kBuiltIn, ArbiterKind::kEtcd),
                         [](const auto& info) { return arbiter_kind_name(info.param); });

TEST_P(Lifecycle, APairStoppedCleanlyStartsAgainWithTheSameCommands) {
  SameCommands commands(address(), "again");
  for (int round = 0; round < 2; ++round) {
    std::unique_ptr<VmftProcess> primary, backup;
    ASSERT_TRUE(commands.start_pair(primary, backup)) << "round " << round;
    EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
    primary->terminate();
    EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
    EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
    const auto s = state("again");
    EXPECT_EQ(s.mode, Mode::kReleased) << describe(s) << "\n" << primary->log();
  }
}

TEST_P(Lifecycle, StoppingTheBackupLeavesThePrimaryServingAloneAtOnce) {
  SameCommands commands(address(), "leave");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n");
  backup->interrupt();  // Ctrl-C
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
  ASSERT_TRUE(primary->wait_for_log("going on alone", kTimeout)) << primary->log();
  EXPECT_NE(primary->log().find("the backup left: it was stopped"), std::string::npos)
      << primary->log();
  EXPECT_EQ(primary->log().find("sent nothing for"), std::string::npos) << primary->log();
  const auto s = state("leave");
  EXPECT_EQ(s.mode, Mode::kAlone) << describe(s);
  EXPECT_EQ(s.holder.rfind("primary@", 0), 0u) << describe(s);
  EXPECT_EQ(incr(commands.tcp_port()), ":2\r\n") << primary->log();
  // A backup started with the same command joins it.
  auto again = std::make_unique<VmftProcess>("backup", "counter", [&] {
    auto args = commands.backup_args();
    args.push_back("--join");
    return args;
  }());
  ASSERT_TRUE(again->wait_for_log("backup: joined the primary", kTimeout)) << again->log();
  EXPECT_EQ(incr(commands.tcp_port()), ":3\r\n") << primary->log();
  primary->terminate();
  EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
  EXPECT_EQ(again->wait_for_exit(kTimeout), std::optional<int>(0)) << again->log();
}

TEST_P(Lifecycle, APairKilledOutrightStartsAgainWithTheSameCommands) {
  SameCommands commands(address(), "crash");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_log("registered at the arbiter", kTimeout)) << primary->log();
  kill_both(*primary, *backup);
  EXPECT_EQ(state("crash").mode, Mode::kPaired);  // nobody released it
  // The primary's id is the same as before, so the arbiter takes it back.
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
  ASSERT_TRUE(primary->wait_for_log("registered at the arbiter at epoch 2", kTimeout))
      << primary->log();
}

TEST_P(Lifecycle, AnotherPrimaryUnderAHeldNameExitsAtOnceWithoutTakingClients) {
  SameCommands commands(address(), "held");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_log("registered at the arbiter", kTimeout)) << primary->log();
  SameCommands other(address(), "held");  // other ports, so another default id
  const auto r = other.run_primary();
  EXPECT_EQ(r.exit_code, cli::kNameHeldExitCode) << r.err;
  EXPECT_NE(r.err.find("the arbiter holds pair 'held' for another side"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("listening on tcp"), std::string::npos) << r.err;
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
}

TEST_P(Lifecycle, TheArbiterCommandsListShowAndReleaseAPair) {
  SameCommands commands(address(), "admin");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_log("registered at the arbiter", kTimeout)) << primary->log();
  kill_both(*primary, *backup);

  const auto list = run_vmft({"arbiter", "list", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("admin"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("paired"), std::string::npos) << list.out;
  const auto show = run_vmft({"arbiter", "show", "admin", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("mode:   paired"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("holder: primary@"), std::string::npos) << show.out;

  // Another primary cannot have the name until an operator releases it.
  SameCommands other(address(), "admin");
  std::unique_ptr<VmftProcess> p2, b2;
  const auto refused = other.run_primary();
  EXPECT_EQ(refused.exit_code, cli::kNameHeldExitCode) << refused.err;
  const auto release = run_vmft({"arbiter", "release", "admin", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.out.find("released pair 'admin' at epoch 1"), std::string::npos) << release.out;
  EXPECT_EQ(state("admin").mode, Mode::kReleased);
  ASSERT_TRUE(other.start_pair(p2, b2));
  EXPECT_EQ(incr(other.tcp_port()), ":1\r\n") << p2->log();
}

// ------------------------------------------------------------------ without an arbiter

TEST(LifecycleWithoutAnArbiter, StoppingTheBackupLeavesThePrimaryServing) {
  SameCommands commands("", "solo");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n");
  backup->terminate();
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
  ASSERT_TRUE(primary->wait_for_log("goes on alone", kTimeout)) << primary->log();
  EXPECT_EQ(incr(commands.tcp_port()), ":2\r\n") << primary->log();
  EXPECT_EQ(primary->wait_for_exit(Duration{300}), std::nullopt) << primary->log();
  primary->terminate();
  EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
}

TEST(LifecycleWithoutAnArbiter, ABackupWithThePrimarysOwnIdIsRefused) {
  SameCommands commands("", "twins");
  auto args = commands.primary_args();
  args.insert(args.end(), {"--id", "twin"});
  VmftProcess primary("primary", "counter", args);
  ASSERT_TRUE(primary.wait_for_log("waiting for the backup", kTimeout)) << primary.log();
  auto backup_args = commands.backup_args();
  backup_args.insert(backup_args.end(), {"--id", "twin"});
  VmftProcess backup("backup", "counter", backup_args);
  EXPECT_EQ(backup.wait_for_exit(kTimeout), std::optional<int>(cli::kStartFailedExitCode))
      << backup.log();
  EXPECT_NE(backup.log().find("the backup has the primary's own id 'twin'"), std::string::npos)
      << backup.log();
}

TEST(LifecycleWithoutAnArbiter, ABackupGivesUpWaitingForItsPrimaryWhenAsked) {
  const uint16_t nobody = unused_port(SOCK_STREAM);
  const auto r = run_vmft({"backup", guest_path("counter"), "--name", "lonely", "--log-connect",
                           "127.0.0.1:" + std::to_string(nobody), "--wait-for-primary", "0.5"},
                          kTimeout);
  EXPECT_EQ(r.exit_code, cli::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("no primary of pair 'lonely' answered"), std::string::npos) << r.err;
}

TEST(LifecycleWithoutAnArbiter, SigusrOneWritesAStatusLineNamingThePairAndEpoch) {
  SameCommands commands("", "status");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  const size_t before = primary->log().size();
  ::kill(primary->pid(), SIGUSR1);
  EXPECT_TRUE(
      primary->wait_for_log("pair 'status' (no epoch yet), primary: instruction", before, kTimeout))
      << primary->log();
  ::kill(backup->pid(), SIGUSR1);
  EXPECT_TRUE(
      backup->wait_for_log("pair 'status' (no epoch yet), backup: at instruction", kTimeout))
      << backup->log();
}

TEST(LifecycleWithoutAnArbiter, APrimaryWhoseArbiterDoesNotAnswerExitsAtOnce) {
  const uint16_t nobody = unused_port(SOCK_STREAM);
  const auto r =
      run_vmft({"primary", guest_path("counter"), "--name", "p", "--log-listen", "127.0.0.1:0",
                "--tcp", "127.0.0.1:0", "--arbiter", "127.0.0.1:" + std::to_string(nobody)},
               kTimeout);
  EXPECT_EQ(r.exit_code, cli::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("a primary starts only once its arbiter answers"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("listening on tcp"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmft::integration
