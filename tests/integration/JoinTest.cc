// Restoring redundancy: a new backup joins a side that runs alone (a primary whose backup
// died, or a backup that went live), from a snapshot of its running guest, and the pair is
// fault tolerant again. Real processes on 127.0.0.1 with a real `vmft arbiter` and the
// counter guest, with clients running throughout.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "ArbiterProcess.h"
#include "CounterChecks.h"
#include "FreePort.h"
#include "IncrLoad.h"
#include "NetClients.h"
#include "TcpRelay.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

/// How long a test waits for anything that should happen; a passing test never waits this
/// long. A join copies the guest's 64 MiB of RAM, slowly on a loaded machine.
constexpr Duration kTimeout{20000};

const std::string kPair = "join-pair";

// The fields of an event at `epoch`.
nlohmann::json at_epoch(uint64_t epoch) { return {{"epoch", epoch}}; }

// The counter guest served by a pair whose members come and go, on client-facing addresses
// fixed in advance (whichever side is live binds them), with an arbiter.
class Join : public ::testing::Test {
 protected:
  /// One vmft process, and the port of its logging channel: backups connect to or join it there.
  struct Side {
    std::unique_ptr<VmftProcess> process;
    uint16_t log_port = 0;
    VmftProcess* operator->() { return process.get(); }
  };

  std::vector<std::string> common_options(const std::string& pair = kPair) const {
    return {"--name",
            pair,
            "--tcp",
            "127.0.0.1:" + std::to_string(tcp_port_),  //
            "--udp",
            "127.0.0.1:" + std::to_string(udp_port_),  //
            "--arbiter",
            arbiter_.address(),
            "--peer-timeout",
            "2000",
            "--status-interval",
            "0"};
  }

  Side& start_primary() {
    Side& side = sides_.emplace_back();
    side.log_port = unused_port(SOCK_STREAM);
    auto options = common_options();
    options.insert(options.end(), {"--log-listen", "127.0.0.1:" + std::to_string(side.log_port)});
    side.process = std::make_unique<VmftProcess>("primary", "counter", options);
    return side;
  }

  /// A backup of `of`, joining it or from boot, with `options` instead of the usual ones; its
  /// channel goes to `connect_port` instead of `of`'s (a relay to it, say).
  Side& start_backup(const Side& of, bool join, std::vector<std::string> options = {},
                     const std::string& guest = "counter", uint16_t connect_port = 0) {
    Side& side = sides_.emplace_back();
    side.log_port = unused_port(SOCK_STREAM);
    if (options.empty()) options = common_options();
    if (connect_port == 0) connect_port = of.log_port;
    options.insert(options.end(), {"--log-connect", "127.0.0.1:" + std::to_string(connect_port),
                                   "--log-listen", "127.0.0.1:" + std::to_string(side.log_port)});
    if (join) options.push_back("--join");
    side.process = std::make_unique<VmftProcess>("backup", guest, options);
    return side;
  }

  /// A primary and a backup from boot, registered and serving.
  std::pair<Side*, Side*> start_pair() {
    Side& primary = start_primary();
    Side& backup = start_backup(primary, false);
    EXPECT_TRUE(primary->wait_for_event("registered", at_epoch(1), kTimeout)) << diagnostics();
    EXPECT_TRUE(primary->wait_for_console("counter: ready\n", kTimeout)) << diagnostics();
    return {&primary, &backup};
  }

  /// Kills `backup` and waits until `primary` runs alone at `epoch`.
  void lose_the_backup(Side& primary, Side& backup, uint64_t epoch) {
    backup->kill();
    ASSERT_TRUE(primary->wait_for_event("alone", at_epoch(epoch), kTimeout)) << diagnostics();
  }

  /// Starts a backup (with `options`) joining `primary` through `relay`, and stalls `relay` once
  /// the joiner runs in step and `primary` is trying to register it: the arbiter is stopped
  /// until then and resumed after, so the epoch `primary` registers never reaches the joiner.
  Side& join_and_stall_before_the_epoch(Side& primary, TcpRelay& relay,
                                        std::vector<std::string> options = {}) {
    const size_t from = primary->log().size();
    EXPECT_TRUE(arbiter_.process().freeze(kTimeout));
    Side& joiner = start_backup(primary, true, std::move(options), "counter", relay.port());
    EXPECT_TRUE(primary->wait_for_log("cannot get a decision from the arbiter", from, kTimeout))
        << diagnostics();
    relay.stall();
    arbiter_.process().thaw();
    return joiner;
  }

  /// `joiner`, a backup joining `live`, is in step with it at `epoch`.
  void expect_joined(Side& live, Side& joiner, uint64_t epoch) {
    ASSERT_TRUE(live->wait_for_event("joined", at_epoch(epoch), kTimeout)) << diagnostics();
    const auto paired = joiner->wait_for_event("paired", Duration(0));
    ASSERT_TRUE(paired) << diagnostics();
    EXPECT_TRUE(paired->contains("joined_at")) << paired->dump();
    EXPECT_TRUE(live->wait_for_log("the guest paused", Duration(0))) << diagnostics();
    EXPECT_EQ(arbiter_.read(kPair).epoch, epoch);
    EXPECT_EQ(arbiter_.read(kPair).mode, arbiter::Mode::kPaired);
  }

  /// A backup started with `options` (and `guest`) to join `live` exits 1 with `reason`,
  /// which `live` logs too.
  void expect_join_refused(Side& live, const std::vector<std::string>& options,
                           const std::string& reason, const std::string& guest = "counter",
                           bool join = true) {
    Side& refused = start_backup(live, join, options, guest);
    EXPECT_EQ(refused->wait_for_exit(kTimeout), std::optional<int>(ft::kStartFailedExitCode))
        << diagnostics();
    EXPECT_TRUE(refused->wait_for_log("refused this backup: " + reason, Duration(0)))
        << diagnostics();
    EXPECT_TRUE(live->wait_for_log(reason, kTimeout)) << diagnostics();
  }

  std::string diagnostics() const {
    std::string text;
    int i = 0;
    for (const Side& side : sides_) {
      text += "--- vmft process " + std::to_string(i++) + " ---\n" + side.process->log();
    }
    return text + "--- arbiter ---\n" + arbiter_.log() + "---\n";
  }

  const uint16_t tcp_port_ = unused_port(SOCK_STREAM);
  const uint16_t udp_port_ = unused_port(SOCK_DGRAM);
  ArbiterProcess arbiter_;
  std::list<Side> sides_;  ///< every process started, in order; a list keeps references valid
};

// A new backup joins a primary whose backup died while 24 clients INCR over TCP and UDP; then
// the primary dies and the joined backup takes over with every acknowledged INCR.
TEST_F(Join, AJoinedBackupTakesOverWithEverythingAcknowledgedUnderHeavyTraffic) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  IncrLoad tcp(Transport::kTcp, tcp_port_, "tcp", 16);
  IncrLoad udp(Transport::kUdp, udp_port_, "udp", 8);
  ASSERT_TRUE(tcp.wait_for_acknowledged(500, kTimeout)) << diagnostics();
  ASSERT_NO_FATAL_FAILURE(lose_the_backup(*primary, *backup, 1));

  Side& joiner = start_backup(*primary, true);
  ASSERT_NO_FATAL_FAILURE(expect_joined(*primary, joiner, 2));
  const size_t joined_at = tcp.acknowledged() + udp.acknowledged();
  ASSERT_TRUE(tcp.wait_for_acknowledged(tcp.acknowledged() + 500, kTimeout)) << diagnostics();

  (*primary)->kill();
  ASSERT_TRUE(joiner->wait_for_event("went_live", at_epoch(2), kTimeout)) << diagnostics();
  ASSERT_TRUE(tcp.wait_for_acknowledged(tcp.acknowledged() + 500, kTimeout)) << diagnostics();
  ASSERT_TRUE(udp.wait_for_acknowledged(udp.acknowledged() + 100, kTimeout)) << diagnostics();
  const auto tcp_clients = tcp.stop();
  const auto udp_clients = udp.stop();
  EXPECT_GT(tcp.acknowledged() + udp.acknowledged(), joined_at);
  expect_no_acknowledged_incr_lost(tcp_clients, counter_value(tcp_port_, "tcp"));
  expect_no_acknowledged_incr_lost(udp_clients, counter_value(tcp_port_, "udp"));
  EXPECT_EQ(joiner->wait_for_exit(Duration(0)), std::nullopt) << diagnostics();
}

// Kill the live side, let a new backup join the survivor, five times over, with clients
// running throughout: each survivor was itself a joined backup that went live.
TEST_F(Join, FiveCyclesOfKillAndRejoinLoseNothing) {
  constexpr int kCycles = 5;
  auto [live, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  IncrLoad load(Transport::kTcp, tcp_port_, "hits", 8);
  ASSERT_TRUE(load.wait_for_acknowledged(200, kTimeout)) << diagnostics();
  for (int cycle = 1; cycle <= kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    (*live)->kill();
    ASSERT_TRUE((*backup)->wait_for_event("went_live", at_epoch(cycle), kTimeout)) << diagnostics();
    ASSERT_TRUE(load.wait_for_acknowledged(load.acknowledged() + 200, kTimeout)) << diagnostics();
    Side& joiner = start_backup(*backup, true);
    ASSERT_NO_FATAL_FAILURE(expect_joined(*backup, joiner, cycle + 1));
    ASSERT_TRUE(load.wait_for_acknowledged(load.acknowledged() + 200, kTimeout)) << diagnostics();
    live = backup;
    backup = &joiner;
  }
  const auto clients = load.stop();
  expect_no_acknowledged_incr_lost(clients, counter_value(tcp_port_, "hits"));
}

// A joiner killed while it joins: the primary goes on serving (alone again, or, if the pair
// was already being registered with it, after the arbiter says so), and another joins.
TEST_F(Join, AJoinerThatDiesIsForgottenAndAnotherJoins) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(lose_the_backup(*primary, *backup, 1));
  IncrLoad load(Transport::kTcp, tcp_port_, "hits", 4);
  ASSERT_TRUE(load.wait_for_acknowledged(100, kTimeout)) << diagnostics();

  Side& doomed = start_backup(*primary, true);
  const size_t from = (*primary)->events().size();
  ASSERT_TRUE((*primary)->wait_for_event("join_started", {}, from, kTimeout)) << diagnostics();
  doomed->kill();
  // Alone again at once, or after the arbiter said so if the joiner was being registered.
  ASSERT_TRUE((*primary)->wait_for_event("alone", {}, from, kTimeout)) << diagnostics();
  // Its outputs no longer wait for the dead joiner.
  ASSERT_TRUE(load.wait_for_acknowledged(load.acknowledged() + 200, kTimeout)) << diagnostics();

  const uint64_t epoch = arbiter_.read(kPair).epoch;
  Side& joiner = start_backup(*primary, true);
  ASSERT_NO_FATAL_FAILURE(expect_joined(*primary, joiner, epoch + 1));
  ASSERT_TRUE(load.wait_for_acknowledged(load.acknowledged() + 200, kTimeout)) << diagnostics();
  const auto clients = load.stop();
  expect_no_acknowledged_incr_lost(clients, counter_value(tcp_port_, "hits"));
}

// Found by the seeded fault soak: the side a backup joined logged the pair fault tolerant as
// soon as it had registered the new epoch and sent it, and died a moment later; the joiner,
// which never got the epoch, could not claim it and did not take over. Here the epoch is
// registered (the arbiter, stopped while the joiner got in step, resumes) after the channel
// to the joiner has gone silent: the primary must not say the pair is fault tolerant.
TEST_F(Join, ThePairIsFaultTolerantOnlyOnceTheJoinerHasTheEpoch) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(lose_the_backup(*primary, *backup, 1));
  TcpRelay relay(primary->log_port);
  Side& joiner = join_and_stall_before_the_epoch(*primary, relay);
  ASSERT_FALSE(HasFailure());
  // The joiner never hears of epoch 2; the primary, hearing nothing from it, wins epoch 2 back.
  ASSERT_TRUE((*primary)->wait_for_event("alone", at_epoch(2), kTimeout)) << diagnostics();
  EXPECT_EQ(joiner->wait_for_exit(kTimeout), std::optional<int>(ft::kPairBrokenExitCode))
      << diagnostics();
  EXPECT_TRUE(joiner->has_event("broken")) << diagnostics();
  EXPECT_TRUE(joiner->wait_for_log("no epoch the primary registered with this backup reached it",
                                   Duration(0)));
  EXPECT_FALSE((*primary)->has_event("joined", at_epoch(2)))
      << "the primary said the pair was fault tolerant, but the joiner could not take over\n"
      << diagnostics();
}

// A joiner that never got its epoch must not claim the next one, registered for another
// joiner, though the arbiter has the pair paired then. (Claiming whatever epoch the pair is
// paired at would close the window above, where the joiner cannot take over, but it would let
// this stale joiner go live beside the primary and its new backup.) Here the first joiner's
// epoch is registered after its channel stalled, the primary wins it back and takes a second
// joiner at the next epoch, and only then does the first hear its channel is gone.
TEST_F(Join, AJoinerThatNeverGotItsEpochDoesNotClaimTheNextJoinersEpoch) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(lose_the_backup(*primary, *backup, 1));
  TcpRelay relay(primary->log_port);
  auto patient = common_options();
  *(std::find(patient.begin(), patient.end(), "--peer-timeout") + 1) = "600000";
  Side& stale = join_and_stall_before_the_epoch(*primary, relay, patient);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE((*primary)->wait_for_event("alone", at_epoch(2), kTimeout)) << diagnostics();
  Side& joiner = start_backup(*primary, true);
  ASSERT_NO_FATAL_FAILURE(expect_joined(*primary, joiner, 3));

  relay.reset();
  EXPECT_EQ(stale->wait_for_exit(kTimeout), std::optional<int>(ft::kPairBrokenExitCode))
      << diagnostics();
  EXPECT_TRUE(stale->has_event("broken")) << diagnostics();
  EXPECT_TRUE(stale->wait_for_log("no epoch the primary registered with this backup reached it",
                                  Duration(0)));
  // It never asked the arbiter for the pair.
  EXPECT_FALSE(stale->has_event("went_live") || stale->has_event("lost")) << diagnostics();
  const arbiter::ArbiterState state = arbiter_.read(kPair);
  EXPECT_EQ(state.epoch, 3u);
  EXPECT_EQ(state.mode, arbiter::Mode::kPaired);
  TcpClient client(tcp_port_);
  EXPECT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();
}

TEST_F(Join, RefusesAJoinOfAnotherGuestOrPairAndThenTakesARightOne) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(lose_the_backup(*primary, *backup, 1));
  expect_join_refused(*primary, common_options(), "the primary runs guest", "echo");
  expect_join_refused(*primary, common_options("other"),
                      "the primary serves pair 'join-pair', the backup asked for pair 'other'");
  // A backup started without --join (a service manager's restart) is refused as one from
  // boot, and joins instead.
  Side& joiner = start_backup(*primary, false);
  ASSERT_NO_FATAL_FAILURE(expect_joined(*primary, joiner, 2));
  EXPECT_TRUE(joiner->wait_for_log("runs already: this backup joins it", Duration(0)))
      << diagnostics();
}

TEST_F(Join, RefusesAJoinToAPrimaryThatHasABackupOrToAMereBackup) {
  auto [primary, backup] = start_pair();
  ASSERT_FALSE(HasFailure());
  expect_join_refused(*primary, {}, "pair 'join-pair' already has a backup");
  expect_join_refused(*backup, {}, "this side of pair 'join-pair' takes no backup now");
  TcpClient client(tcp_port_);
  EXPECT_EQ(counter_command(client, "INCR k"), ":1\r\n") << diagnostics();
}

TEST_F(Join, RefusesAJoinToAPrimaryThatHasNotStarted) {
  Side& primary = start_primary();
  expect_join_refused(primary, {},
                      "the primary of pair 'join-pair' has not started its guest: start the "
                      "backup without --join");
}

TEST_F(Join, NeedsAnArbiter) {
  Side& primary = start_primary();
  auto options = common_options();
  options.erase(std::find(options.begin(), options.end(), "--arbiter"),
                std::find(options.begin(), options.end(), "--arbiter") + 2);
  Side& joiner = start_backup(primary, true, options);
  EXPECT_EQ(joiner->wait_for_exit(kTimeout), std::optional<int>(ft::kUsageExitCode));
  EXPECT_TRUE(joiner->wait_for_log("--join needs --arbiter", Duration(0))) << diagnostics();
}

}  // namespace
}  // namespace vmft::integration
