// Failover of a primary/backup pair of the counter guest, as real processes on 127.0.0.1,
// against each arbiter (a real `vmft arbiter`, and a real single-member etcd): the backup
// taking over from a killed primary under load, the primary going on without its backup, a
// logging channel cut between two live sides, a restarted arbiter, an arbiter that is down;
// a three-member etcd losing a member as the primary dies; and no arbiter at all.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "CounterChecks.h"
#include "FreePort.h"
#include "IncrLoad.h"
#include "NetClients.h"
#include "PairProcesses.h"
#include "TcpRelay.h"
#include "TestArbiter.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

/// How long a test waits for anything that should happen. Generous, because a loaded CI
/// machine may be slow; a passing test never waits this long.
constexpr Duration kTimeout{10000};
/// How long a test watches for something that must not happen. Short, to keep tests fast:
/// the positive checks around each such wait carry the weight.
constexpr Duration kAbsence{300};
constexpr int kPairBroken = vmft::ft::kPairBrokenExitCode;
constexpr int kLostThePair = vmft::ft::kLostPairExitCode;

const std::string kPair = "test-pair";
// What a side writes when the arbiter decides (ft/include/vmft/ft/Events.h): a primary that wins
// goes on alone, a backup that wins goes live, and the side that loses lost the epoch.
const std::vector<std::string> kPrimaryDecided = {"alone", "lost"};
const std::vector<std::string> kBackupDecided = {"went_live", "lost"};
const nlohmann::json kEpochOne = {{"epoch", 1}};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The options with `flag`'s value replaced.
std::vector<std::string> with_option(std::vector<std::string> options, const std::string& flag,
                                     const std::string& value) {
  const auto it = std::find(options.begin(), options.end(), flag);
  if (it == options.end()) {
    options.insert(options.end(), {flag, value});
  } else {
    *std::next(it) = value;
  }
  return options;
}

// Whether anything accepts a TCP connection on the port.
bool accepts_connections(uint16_t tcp_port) {
  try {
    TcpClient probe(tcp_port);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

// A pair of the counter guest on client-facing addresses fixed in advance (the backup binds
// the same ones when it takes over), with an arbiter of arbiter_kind() unless a test goes
// without.
class FailoverHarness : public ::testing::Test {
 protected:
  virtual ArbiterKind arbiter_kind() const = 0;

  /// Starts the arbiter and the primary; `primary_options` are for the primary only.
  void start_primary(std::vector<std::string> primary_options = {}, bool with_arbiter = true) {
    PairSpec spec;
    spec.guest = "counter";
    spec.udp = spec.tcp = false;  // both are in spec.options, on fixed ports
    spec.name = kPair;
    spec.options = {"--tcp", "127.0.0.1:" + std::to_string(tcp_port_),  //
                    "--udp", "127.0.0.1:" + std::to_string(udp_port_)};
    if (with_arbiter) {
      arbiter_ = TestArbiter::start(arbiter_kind());
      spec.options.insert(spec.options.end(), {"--arbiter", arbiter_->address()});
    }
    spec.primary_options = std::move(primary_options);
    pair_ = std::make_unique<PairProcesses>(std::move(spec));
  }

  /// Starts a matching backup connecting to `log_port` (0: the primary's own), with
  /// `backup_options` besides, and waits until the pair serves (registered at the arbiter,
  /// if there is one).
  void pair(const std::vector<std::string>& backup_options = {}, uint16_t log_port = 0) {
    std::vector<std::string> options = pair_->backup_options();
    if (log_port != 0) {
      options = with_option(options, "--log-connect", "127.0.0.1:" + std::to_string(log_port));
    }
    options.insert(options.end(), backup_options.begin(), backup_options.end());
    backup_ = pair_->start_backup("counter", options);
    ASSERT_TRUE(primary().wait_for_event("paired", kTimeout)) << diagnostics();
    ASSERT_TRUE(backup().wait_for_event("paired", kTimeout)) << diagnostics();
    if (arbiter_) {
      ASSERT_TRUE(primary().wait_for_event("registered", kEpochOne, kTimeout)) << diagnostics();
    }
    ASSERT_TRUE(primary().wait_for_console("counter: ready\n", kTimeout)) << diagnostics();
  }

  VmftProcess& primary() { return pair_->primary(); }
  VmftProcess& backup() { return *backup_; }

  std::string diagnostics() const {
    std::string text = pair_ ? "--- primary log ---\n" + pair_->primary().log() : "";
    if (backup_) text += "--- backup log ---\n" + backup_->log();
    if (arbiter_) text += "--- arbiter log ---\n" + arbiter_->log();
    return text + "---\n";
  }

  // Kills the primary (and runs `also_kill` at once) while clients INCR one key over
  // `transport`, and checks that the backup takes over on the same address with every
  // acknowledged INCR in it, within `decision_timeout`.
  void kill_the_primary_under_load(Transport transport, const std::function<void()>& also_kill = {},
                                   Duration decision_timeout = kTimeout) {
    constexpr int kClients = 8;
    constexpr size_t kBeforeKill = 1000;
    constexpr size_t kAfterTakeover = 1000;
    start_primary();
    ASSERT_NO_FATAL_FAILURE(pair());
    IncrLoad load(transport, transport == Transport::kTcp ? tcp_port_ : udp_port_, "hits",
                  kClients);
    ASSERT_TRUE(load.wait_for_acknowledged(kBeforeKill, kTimeout)) << diagnostics();

    primary().kill();
    if (also_kill) {
      ASSERT_NO_FATAL_FAILURE(also_kill());
    }
    const size_t at_kill = load.acknowledged();
    ASSERT_TRUE(backup().wait_for_event("went_live", kEpochOne, decision_timeout)) << diagnostics();
    // Only the new primary can answer these.
    ASSERT_TRUE(load.wait_for_acknowledged(at_kill + kAfterTakeover, kTimeout))
        << "the new primary answered " << load.acknowledged() - at_kill << " INCRs, not "
        << kAfterTakeover << "\n"
        << diagnostics();
    const auto clients = load.stop();

    expect_no_acknowledged_incr_lost(clients, counter_value(tcp_port_, "hits"));
    EXPECT_EQ(backup().wait_for_exit(Duration(0)), std::nullopt) << diagnostics();
  }

  // Cuts the logging channel (a relay between the two stalls) while both sides still reach
  // the arbiter, each side noticing after its --peer-timeout; checks that exactly one side
  // goes on, and that the other halts with no output after the cut. Returns whether the
  // primary was the one.
  bool cut_the_logging_channel(int primary_peer_timeout_ms, int backup_peer_timeout_ms) {
    start_primary({"--peer-timeout", std::to_string(primary_peer_timeout_ms)});
    TcpRelay relay(pair_->log_port());
    pair({"--peer-timeout", std::to_string(backup_peer_timeout_ms)}, relay.port());
    if (HasFatalFailure()) return false;
    EXPECT_EQ(relay.connections(), 1);
    TcpClient early(tcp_port_);
    UdpClient datagrams;
    EXPECT_EQ(counter_command(early, "INCR k"), ":1\r\n") << diagnostics();
    datagrams.send_to(udp_port_, "INCR k\r\n");
    EXPECT_EQ(datagrams.receive(kTimeout), ":2\r\n") << diagnostics();

    relay.stall();
    // The primary's guest answers these; whether the replies ever leave is the point.
    early.send_all("INCR k\r\n");
    datagrams.send_to(udp_port_, "INCR k\r\n");
    // Each side tells the decision it got, or exits without one.
    const auto primary_decision = primary().wait_for_any_event(kPrimaryDecided, 0, kTimeout);
    const auto backup_decision = backup().wait_for_any_event(kBackupDecided, 0, kTimeout);
    const bool primary_won = primary_decision && primary_decision->at("event") == "alone" &&
                             primary_decision->at("epoch") == 1;
    const bool backup_won = backup_decision && backup_decision->at("event") == "went_live" &&
                            backup_decision->at("epoch") == 1;
    EXPECT_NE(primary_won, backup_won) << "not exactly one side went on\n" << diagnostics();
    VmftProcess& winner = primary_won ? primary() : backup();
    VmftProcess& loser = primary_won ? backup() : primary();
    EXPECT_EQ(loser.wait_for_exit(kTimeout), std::optional<int>(kLostThePair)) << diagnostics();
    EXPECT_TRUE(loser.has_event("lost", kEpochOne)) << diagnostics();
    EXPECT_EQ(winner.wait_for_exit(Duration(0)), std::nullopt) << diagnostics();

    if (primary_won) {
      // The replies held while the primary asked the arbiter leave now; the backup, which
      // lost, never bound the client-facing addresses.
      const std::set<std::string> released = {early.receive_line(kTimeout).data,
                                              datagrams.receive(kTimeout).value_or("")};
      EXPECT_EQ(released, (std::set<std::string>{":3\r\n", ":4\r\n"})) << diagnostics();
      EXPECT_FALSE(contains(backup().log(), "listening on")) << diagnostics();
    } else {
      // The halted primary sent nothing after the cut: its connection closes unanswered, the
      // datagram gets no reply, and the backup, which never had those INCRs, is at 2.
      const Received unanswered = early.receive_until_closed(kTimeout);
      EXPECT_TRUE(unanswered.closed);
      EXPECT_EQ(unanswered.data, "") << diagnostics();
      EXPECT_EQ(datagrams.receive(kAbsence), std::nullopt) << diagnostics();
      EXPECT_EQ(counter_value(tcp_port_, "k"), 2) << diagnostics();
    }
    // One side serves, on both protocols, and goes on counting.
    const long long before = counter_value(tcp_port_, "k");
    TcpClient late(tcp_port_);
    EXPECT_EQ(counter_command(late, "INCR k"), ":" + std::to_string(before + 1) + "\r\n");
    datagrams.send_to(udp_port_, "INCR k\r\n");
    EXPECT_EQ(datagrams.receive(kTimeout), ":" + std::to_string(before + 2) + "\r\n");
    return primary_won;
  }

  const uint16_t tcp_port_ = unused_port(SOCK_STREAM);
  const uint16_t udp_port_ = unused_port(SOCK_DGRAM);
  std::unique_ptr<TestArbiter> arbiter_;
  std::unique_ptr<PairProcesses> pair_;
  std::unique_ptr<VmftProcess> backup_;
};

// The tests every arbiter must pass alike.
class Failover : public FailoverHarness, public ::testing::WithParamInterface<ArbiterKind> {
 protected:
  ArbiterKind arbiter_kind() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Arbiter, Failover,
                         ::testing::Values(ArbiterKind::kBuiltIn, ArbiterKind::kEtcd),
                         [](const auto& info) { return arbiter_kind_name(info.param); });

// ------------------------------------------------------------------ the primary dies

TEST_P(Failover, KillingThePrimaryUnderTcpLoadLosesNothingAcknowledged) {
  kill_the_primary_under_load(Transport::kTcp);
}

TEST_P(Failover, KillingThePrimaryUnderUdpLoadLosesNothingAcknowledged) {
  kill_the_primary_under_load(Transport::kUdp);
}

// ------------------------------------------------------------------ the backup dies

TEST_P(Failover, KillingTheBackupLeavesThePrimaryServing) {
  start_primary();
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  UdpClient datagrams;
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  backup().kill();
  // Sent before the primary may have noticed: its reply waits for the decision, then leaves.
  client.send_all("INCR k\r\n");
  ASSERT_TRUE(primary().wait_for_event("alone", kEpochOne, kTimeout)) << diagnostics();
  EXPECT_EQ(client.receive_line(kTimeout).data, ":2\r\n") << diagnostics();
  EXPECT_EQ(counter_command(client, "INCR k"), ":3\r\n") << diagnostics();
  datagrams.send_to(udp_port_, "INCR k\r\n");
  EXPECT_EQ(datagrams.receive(kTimeout), ":4\r\n") << diagnostics();

  const arbiter::ArbiterState state = arbiter_->read(kPair);
  EXPECT_EQ(state.epoch, 1u);
  EXPECT_EQ(state.mode, arbiter::Mode::kAlone);
  EXPECT_TRUE(state.holder.starts_with("primary@")) << state.holder;
}

// ------------------------------------------------------------------ only the channel breaks

TEST_P(Failover, CuttingOnlyTheLoggingChannelLeavesExactlyOneSideLive) {
  cut_the_logging_channel(300, 300);
}

TEST_P(Failover, CutChannelNoticedFirstByThePrimaryLeavesThePrimaryServing) {
  EXPECT_TRUE(cut_the_logging_channel(300, 2000));
}

TEST_P(Failover, CutChannelNoticedFirstByTheBackupLeavesTheBackupServing) {
  EXPECT_FALSE(cut_the_logging_channel(2000, 300));
}

// ------------------------------------------------------------------ the arbiter

// A `vmft arbiter` restarts on its data directory, etcd on its own: a decision survives either.

TEST_P(Failover, ArbiterRestartBetweenDecisionsKeepsThem) {
  start_primary();
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  ASSERT_NO_THROW(arbiter_->kill());
  ASSERT_NO_THROW(arbiter_->restart());
  const arbiter::ArbiterState registered = arbiter_->read(kPair);
  EXPECT_EQ(registered.epoch, 1u);
  EXPECT_EQ(registered.mode, arbiter::Mode::kPaired);
  EXPECT_TRUE(registered.holder.starts_with("primary@")) << registered.holder;
  primary().kill();
  ASSERT_TRUE(backup().wait_for_event("went_live", kEpochOne, kTimeout))
      << "the registration did not survive the restart\n"
      << diagnostics();
  TcpClient after(tcp_port_);
  EXPECT_EQ(counter_command(after, "INCR k"), ":2\r\n") << diagnostics();

  ASSERT_NO_THROW(arbiter_->kill());
  ASSERT_NO_THROW(arbiter_->restart());
  const arbiter::ArbiterState state = arbiter_->read(kPair);
  EXPECT_EQ(state.epoch, 1u);
  EXPECT_EQ(state.mode, arbiter::Mode::kAlone);
  EXPECT_TRUE(state.holder.starts_with("backup@")) << state.holder;
}

// The primary's kept connection to the arbiter died with the arbiter: it asks on a new one.
TEST_P(Failover, ArbiterRestartSincePairingStillDecidesForThePrimary) {
  start_primary();
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  ASSERT_NO_THROW(arbiter_->kill());
  ASSERT_NO_THROW(arbiter_->restart());
  backup().kill();
  ASSERT_TRUE(primary().wait_for_event("alone", kEpochOne, kTimeout)) << diagnostics();
  EXPECT_EQ(counter_command(client, "INCR k"), ":2\r\n") << diagnostics();
}

TEST_P(Failover, ArbiterDownWhenTheBackupDiesHoldsThePrimarysRepliesUntilItIsBack) {
  start_primary();
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  ASSERT_NO_THROW(arbiter_->kill());
  backup().kill();
  client.send_all("INCR k\r\n");
  ASSERT_TRUE(primary().wait_for_log("cannot get a decision from the arbiter", kTimeout))
      << diagnostics();
  EXPECT_EQ(client.receive_line(kAbsence).data, "") << "a reply left with nobody deciding";
  EXPECT_EQ(primary().wait_for_any_event(kPrimaryDecided, 0, Duration(0)), std::nullopt)
      << diagnostics();

  ASSERT_NO_THROW(arbiter_->restart());
  ASSERT_TRUE(primary().wait_for_event("alone", kEpochOne, kTimeout)) << diagnostics();
  EXPECT_EQ(client.receive_line(kTimeout).data, ":2\r\n") << diagnostics();
}

TEST_P(Failover, ArbiterDownWhenThePrimaryDiesKeepsTheBackupWaitingUntilItIsBack) {
  start_primary();
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  ASSERT_NO_THROW(arbiter_->kill());
  primary().kill();
  // Until it has exited, the killed primary may still hold its listener for a moment.
  ASSERT_NE(primary().wait_for_exit(kTimeout), std::nullopt);
  ASSERT_TRUE(backup().wait_for_log("cannot get a decision from the arbiter", kTimeout))
      << diagnostics();
  EXPECT_FALSE(accepts_connections(tcp_port_)) << diagnostics();
  UdpClient datagrams;
  datagrams.send_to(udp_port_, "INCR k\r\n");
  EXPECT_EQ(datagrams.receive(kAbsence), std::nullopt) << diagnostics();
  EXPECT_EQ(backup().wait_for_any_event(kBackupDecided, 0, Duration(0)), std::nullopt)
      << diagnostics();

  ASSERT_NO_THROW(arbiter_->restart());
  ASSERT_TRUE(backup().wait_for_event("went_live", kEpochOne, kTimeout)) << diagnostics();
  TcpClient after(tcp_port_);
  EXPECT_EQ(counter_command(after, "INCR k"), ":2\r\n") << diagnostics();
}

// ------------------------------------------------------------------ a three-member etcd

class FailoverOnAnEtcdCluster : public FailoverHarness {
 protected:
  ArbiterKind arbiter_kind() const override { return ArbiterKind::kEtcdCluster; }
};

// The members left elect a new leader (etcd's election timeout is 1 s) while the backup moves
// on from the member it asked first, which is the leader when the pair starts.
TEST_F(FailoverOnAnEtcdCluster, KillingThePrimaryAndTheEtcdLeaderLosesNothingAcknowledged) {
  constexpr Duration kDecisionTimeout{30000};
  kill_the_primary_under_load(
      Transport::kTcp,
      [this] {
        EtcdCluster& etcd = *arbiter_->etcd();
        ASSERT_NO_THROW(etcd.kill(etcd.leader().value_or(0))) << diagnostics();
      },
      kDecisionTimeout);
  if (HasFatalFailure()) return;
  const arbiter::ArbiterState state = arbiter_->read(kPair);
  EXPECT_EQ(state.epoch, 1u);
  EXPECT_EQ(state.mode, arbiter::Mode::kAlone);
  EXPECT_TRUE(state.holder.starts_with("backup@")) << state.holder;
}

// ------------------------------------------------------------------ no arbiter

class FailoverWithoutArbiter : public FailoverHarness {
 protected:
  ArbiterKind arbiter_kind() const override { return ArbiterKind::kBuiltIn; }  // never started
};

TEST_F(FailoverWithoutArbiter, NoArbiterMeansNobodyGoesLive) {
  start_primary({}, /*with_arbiter=*/false);
  ASSERT_NO_FATAL_FAILURE(pair());
  TcpClient client(tcp_port_);
  ASSERT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();

  primary().kill();
  ASSERT_NE(primary().wait_for_exit(kTimeout), std::nullopt);
  EXPECT_EQ(backup().wait_for_exit(kTimeout), std::optional<int>(kPairBroken)) << diagnostics();
  EXPECT_TRUE(backup().has_event("broken")) << diagnostics();
  EXPECT_TRUE(contains(backup().log(), "with no arbiter to decide, it does not go live"))
      << diagnostics();
  EXPECT_FALSE(contains(backup().log(), "listening on")) << diagnostics();
  EXPECT_FALSE(accepts_connections(tcp_port_));
}

}  // namespace
}  // namespace vmft::integration
