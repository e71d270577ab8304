// The seeded fault soak (issue 7): from one seed, a pair of the counter guest, with clients
// INCRing over TCP and UDP throughout, meets one random fault per step: kill -9 of either
// side, a logging channel that stalls, hiccups or is reset, SIGSTOP of either side, the
// arbiter killed or stopped (alone, while a side dies, while a backup joins), joining backups
// killed or cut off, the live side killed the moment a backup has joined. After each step,
// once a new backup has joined and the pair is fault tolerant again, it checks that no
// acknowledged INCR was lost, that no client saw a value go backwards, that each epoch was won
// by one side at most, and that only the side the arbiter chose holds the client-facing
// sockets. VMFT_SOAK_SEED and VMFT_SOAK_STEPS choose the run; a failure names the seed.
// docs/soak.md describes it; scripts/soak runs it for as long as you like.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ArbiterProcess.h"
#include "CounterChecks.h"
#include "FreePort.h"
#include "IncrLoad.h"
#include "SoakPlan.h"
#include "SocketHolders.h"
#include "TcpRelay.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

using Clock = std::chrono::steady_clock;

/// How long the soak waits for anything that should happen; a passing run never waits this
/// long, whatever else the machine is doing.
constexpr Duration kTimeout{30000};
/// Steps when VMFT_SOAK_STEPS is not set: what ./scripts/test runs, well under a minute.
constexpr int kDefaultSteps = 8;
/// The sides' --peer-timeout: a stalled channel or a frozen side costs this much per step.
/// Long enough that a loaded machine does not look like a dead peer.
constexpr int kPeerTimeoutMs = 1000;
constexpr int kTcpClients = 4;
constexpr int kUdpClients = 2;
/// The INCRs each protocol must get answered after every step: the pair serves again.
constexpr size_t kTcpProgress = 40;
constexpr size_t kUdpProgress = 20;

constexpr int kKilled = 128 + SIGKILL;
constexpr int kPairBroken = vmft::ft::kPairBrokenExitCode;
constexpr int kLostThePair = vmft::ft::kLostPairExitCode;

const std::string kPair = "soak-pair";
// What a side logs while the arbiter does not answer: not a change of its lifecycle, so no event.
const std::string kNoDecision = "cannot get a decision from the arbiter";
/// Backups that try to join after one step, when joins break by themselves.
constexpr int kJoinAttempts = 3;

nlohmann::json at_epoch(uint64_t epoch) { return {{"epoch", epoch}}; }

/// How far a side's events and its log are: what it does after a mark is news.
struct Mark {
  size_t events = 0;
  size_t log = 0;
};

/// Polls `done` until it holds or the timeout passes; returns whether it held.
bool wait_until(const std::function<bool()>& done, Duration timeout = kTimeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class Soak : public ::testing::Test {
 protected:
  /// One vmft process of the pair, in the order they were started.
  struct Side {
    int number = 0;
    std::string command;    ///< "primary" (the first one) or "backup" (all the others)
    uint16_t log_port = 0;  ///< its --log-listen: where its backups connect
    /// A backup's channel to its primary goes through this relay, which breaks on demand.
    std::unique_ptr<TcpRelay> relay;
    std::unique_ptr<VmftProcess> process;
    bool killed = false;  ///< by the soak, with SIGKILL

    VmftProcess* operator->() const { return process.get(); }
    std::string name() const {
      return "side " + std::to_string(number) + " (" + command + ", pid " +
             std::to_string(process->pid()) + ")";
    }
    /// Its id at the arbiter: vmft's default, ROLE@HOST:PORT of its --log-listen.
    std::string id() const {
      char host[256] = "host";
      gethostname(host, sizeof host - 1);
      return command + "@" + host + ":" + std::to_string(log_port);
    }
    Mark mark() const { return {process->events().size(), process->log().size()}; }
    /// Whether, since `from`, it lost its peer (and asked the arbiter, or stopped).
    bool lost_its_peer(const Mark& from) const {
      return process->has_event("peer_lost", nlohmann::json::object(), from.events);
    }
  };

  void SetUp() override {
    seed_ = soak_seed();
    steps_ = soak_steps(kDefaultSteps);
    reproduce_ = "reproduce with VMFT_SOAK_SEED=" + std::to_string(seed_) +
                 " VMFT_SOAK_STEPS=" + std::to_string(steps_);
    RecordProperty("seed", std::to_string(seed_));
    RecordProperty("steps", steps_);
    std::cout << "soak: seed " << seed_ << ", " << steps_ << " steps (" << reproduce_ << ")"
              << std::endl;
  }

  void TearDown() override {
    if (!HasFailure()) return;
    std::cout << diagnostics() << "soak: FAILED with seed " << seed_ << ": " << reproduce_
              << std::endl;
  }

  std::vector<std::string> common_options() const {
    // 16M is the least the counter takes: joins have less to copy.
    return {"--name",
            kPair,
            "--tcp",
            "127.0.0.1:" + std::to_string(tcp_port_),
            "--udp",
            "127.0.0.1:" + std::to_string(udp_port_),
            "--mem",
            "16M",
            "--arbiter",
            arbiter_.address(),
            "--peer-timeout",
            std::to_string(kPeerTimeoutMs),
            "--status-interval",
            "0"};
  }

  /// Starts `vmft <command>`: a primary, or a backup of `of` (joining it if `join`) whose
  /// channel goes through a relay of its own.
  Side& start_side(const std::string& command, Side* of = nullptr, bool join = false) {
    Side& side = sides_.emplace_back();
    side.number = static_cast<int>(sides_.size());
    side.command = command;
    side.log_port = unused_port(SOCK_STREAM);
    auto options = common_options();
    options.insert(options.end(), {"--log-listen", "127.0.0.1:" + std::to_string(side.log_port)});
    if (of) {
      side.relay = std::make_unique<TcpRelay>(of->log_port);
      options.insert(options.end(),
                     {"--log-connect", "127.0.0.1:" + std::to_string(side.relay->port())});
      if (join) options.push_back("--join");
    }
    side.process = std::make_unique<VmftProcess>(command, "counter", options);
    return side;
  }

  void kill(Side& side) {
    side->kill();
    side.killed = true;
  }

  arbiter::ArbiterState arbiter_state() const { return arbiter_.read(kPair); }

  /// The sides whose processes still run.
  std::vector<pid_t> running_pids() {
    std::vector<pid_t> pids;
    for (Side& side : sides_) {
      if (side->wait_for_exit(Duration(0)) == std::nullopt) pids.push_back(side->pid());
    }
    return pids;
  }

  void start_pair() {
    Side& primary = start_side("primary");
    // A relay whose target does not listen yet closes what it accepted: the backup would
    // take that for a primary that hung up.
    ASSERT_TRUE(primary->wait_for_event("waiting", kTimeout));
    Side& backup = start_side("backup", &primary);
    ASSERT_TRUE(primary->wait_for_event("registered", at_epoch(1), kTimeout));
    ASSERT_TRUE(primary->wait_for_console("counter: ready\n", kTimeout));
    ASSERT_TRUE(backup->wait_for_event("paired", kTimeout));
    live_ = &primary;
    backup_ = &backup;
    steady_marks_ = {primary.mark(), backup.mark()};
  }

  // ---------------------------------------------------------------- the steps

  void run_step(const SoakStep& step) {
    ASSERT_NO_FATAL_FAILURE(settle_a_split_the_soak_did_not_cause());
    Side& live = *live_;
    Side& backup = *backup_;
    const uint64_t epoch = arbiter_state().epoch;
    const Mark live_from = live.mark();
    const Mark backup_from = backup.mark();
    auto settle = [&](Side* expected_winner) {
      settle_failover(epoch, live, live_from, backup, backup_from, expected_winner);
    };
    // A brief fault may pass unnoticed; if a side noticed it, the arbiter decides as ever.
    auto settle_if_noticed = [&] {
      ASSERT_NO_FATAL_FAILURE(expect_clients_answered());
      if (live.lost_its_peer(live_from) || backup.lost_its_peer(backup_from)) {
        settle(nullptr);
      } else {
        std::cout << "soak:   the pair went on, in step" << std::endl;
      }
    };
    const auto pause = Duration(step.pause_ms);
    switch (step.fault) {
      case SoakFault::kKillLive:
        kill(live);
        ASSERT_NO_FATAL_FAILURE(settle(&backup));
        break;
      case SoakFault::kKillBackup:
        kill(backup);
        ASSERT_NO_FATAL_FAILURE(settle(&live));
        break;
      case SoakFault::kStallChannel:
        backup.relay->stall();
        ASSERT_NO_FATAL_FAILURE(settle(nullptr));
        break;
      case SoakFault::kResetChannel:
        backup.relay->reset();
        ASSERT_NO_FATAL_FAILURE(settle(nullptr));
        break;
      case SoakFault::kHiccupChannel:
        backup.relay->stall();
        std::this_thread::sleep_for(pause);  // the fault itself lasts this long
        backup.relay->resume();
        ASSERT_NO_FATAL_FAILURE(settle_if_noticed());
        break;
      case SoakFault::kFreezeLive:
        ASSERT_TRUE(live->freeze(kTimeout)) << live.name() << " did not stop";
        // The frozen side cannot ask: the backup wins, then waits for the addresses it holds.
        ASSERT_TRUE(wait_until([&] { return arbiter_state().mode == arbiter::Mode::kAlone; }))
            << "the backup did not win the pair from the frozen live side";
        live->thaw();
        ASSERT_NO_FATAL_FAILURE(settle(&backup));
        break;
      case SoakFault::kFreezeBackup:
        ASSERT_TRUE(backup->freeze(kTimeout)) << backup.name() << " did not stop";
        ASSERT_TRUE(live->wait_for_event("alone", at_epoch(epoch), live_from.events, kTimeout))
            << live.name() << " did not go on without its frozen backup";
        backup->thaw();
        ASSERT_NO_FATAL_FAILURE(settle(&live));
        break;
      case SoakFault::kPauseLive:
      case SoakFault::kPauseBackup: {
        Side& paused = step.fault == SoakFault::kPauseLive ? live : backup;
        ASSERT_TRUE(paused->freeze(kTimeout)) << paused.name() << " did not stop";
        std::this_thread::sleep_for(pause);
        paused->thaw();
        ASSERT_NO_FATAL_FAILURE(settle_if_noticed());
        break;
      }
      case SoakFault::kFreezeBoth:
        // Neither hears the other meanwhile: once thawed, both may count the other as gone.
        ASSERT_TRUE(live->freeze(kTimeout)) << live.name() << " did not stop";
        ASSERT_TRUE(backup->freeze(kTimeout)) << backup.name() << " did not stop";
        std::this_thread::sleep_for(Duration(kPeerTimeoutMs) + pause);
        live->thaw();
        backup->thaw();
        ASSERT_NO_FATAL_FAILURE(settle_if_noticed());
        break;
      case SoakFault::kArbiterOutage: {
        const std::string before = arbiter::describe(arbiter_state());
        ASSERT_NO_FATAL_FAILURE(arbiter_down(step));
        // A pair needs no decision while both sides run: it serves on.
        ASSERT_NO_FATAL_FAILURE(expect_clients_answered());
        ASSERT_NO_FATAL_FAILURE(arbiter_back(step));
        EXPECT_EQ(arbiter::describe(arbiter_state()), before) << "the arbiter forgot its state";
        std::cout << "soak:   the pair served on while the arbiter was down" << std::endl;
        break;
      }
      case SoakFault::kKillLiveNoArbiter:
        ASSERT_NO_FATAL_FAILURE(arbiter_down(step));
        kill(live);
        ASSERT_NO_FATAL_FAILURE(expect_no_decision_yet(backup, backup_from, live));
        ASSERT_NO_FATAL_FAILURE(arbiter_back(step));
        ASSERT_NO_FATAL_FAILURE(settle(&backup));
        break;
      case SoakFault::kKillBackupNoArbiter:
        ASSERT_NO_FATAL_FAILURE(arbiter_down(step));
        kill(backup);
        ASSERT_NO_FATAL_FAILURE(expect_no_decision_yet(live, live_from, backup));
        ASSERT_NO_FATAL_FAILURE(arbiter_back(step));
        ASSERT_NO_FATAL_FAILURE(settle(&live));
        break;
    }
    if (backup_ == nullptr) {
      ASSERT_NO_FATAL_FAILURE(restore_redundancy(step));
    }
  }

  /// The arbiter goes down as `step` says: SIGKILL (restarted later on its data) or SIGSTOP.
  void arbiter_down(const SoakStep& step) {
    if (step.arbiter_frozen) {
      ASSERT_TRUE(arbiter_.process().freeze(kTimeout)) << "the arbiter did not stop";
    } else {
      ASSERT_NO_THROW(arbiter_.kill());
    }
  }
  void arbiter_back(const SoakStep& step) {
    if (step.arbiter_frozen) {
      arbiter_.process().thaw();
    } else {
      ASSERT_NO_THROW(arbiter_.restart());
    }
  }

  /// After a fault that parted `live` and `backup` (paired at `epoch`; what they did up to
  /// *_from came before it): exactly one of them wins `epoch` (`expected_winner`, if the
  /// fault left no choice), the other is dead (killed) or lost and halted (exit 5), and the
  /// winner runs alone, held by it at the arbiter.
  void settle_failover(uint64_t epoch, Side& live, const Mark& live_from, Side& backup,
                       const Mark& backup_from, Side* expected_winner) {
    Side* winner = nullptr;
    ASSERT_TRUE(wait_until([&] {
      if (live->has_event("alone", at_epoch(epoch), live_from.events)) winner = &live;
      if (backup->has_event("went_live", at_epoch(epoch), backup_from.events)) winner = &backup;
      return winner != nullptr;
    })) << "neither side won epoch "
        << epoch;
    if (expected_winner) {
      ASSERT_EQ(winner, expected_winner) << winner->name() << " won epoch " << epoch;
    }
    Side& loser = winner == &live ? backup : live;
    ASSERT_NO_FATAL_FAILURE(
        expect_stopped(loser, winner == &live ? backup_from : live_from, *winner));
    ASSERT_NO_FATAL_FAILURE(expect_alone(*winner));
    std::cout << "soak:   " << winner->name() << " won epoch " << epoch << "; " << loser.name()
              << (loser.killed ? " was killed" : " lost and stopped") << std::endl;
  }

  /// `loser` (what it did from `from` on) is dead: killed, or it lost the pair to `winner` and
  /// halted with its outputs held (exit 5), sending nothing more.
  void expect_stopped(Side& loser, const Mark& from, Side& winner) {
    if (loser.killed) {
      EXPECT_EQ(loser->wait_for_exit(kTimeout), std::optional<int>(kKilled)) << loser.name();
      return;
    }
    EXPECT_EQ(loser->wait_for_exit(kTimeout), std::optional<int>(kLostThePair))
        << loser.name() << " did not stop after " << winner.name() << " won";
    EXPECT_TRUE(loser->has_event("lost", nlohmann::json::object(), from.events)) << loser.name();
  }

  /// `winner` runs alone, the pair held by it at the arbiter: it is the live side now.
  void expect_alone(Side& winner) {
    const arbiter::ArbiterState state = arbiter_state();
    EXPECT_EQ(state.mode, arbiter::Mode::kAlone) << arbiter::describe(state);
    EXPECT_EQ(state.holder, winner.id()) << "the arbiter says " << arbiter::describe(state)
                                         << ", but " << winner.name() << " went on";
    live_ = &winner;
    backup_ = nullptr;
  }

  /// With the arbiter down, `survivor` (what it did from `from` on) of a pair whose other side
  /// `dead` was killed asks and gets no answer: it does not go live, and while it is the
  /// backup nobody holds the client-facing sockets.
  void expect_no_decision_yet(Side& survivor, const Mark& from, Side& dead) {
    ASSERT_NE(dead->wait_for_exit(kTimeout), std::nullopt) << dead.name() << " did not die";
    ASSERT_TRUE(survivor->wait_for_log(kNoDecision, from.log, kTimeout))
        << survivor.name() << " did not ask the arbiter";
    EXPECT_EQ(
        survivor->wait_for_any_event({"alone", "went_live", "lost"}, from.events, Duration(0)),
        std::nullopt)
        << survivor.name() << " had a decision with the arbiter down";
    if (&survivor == backup_) {
      EXPECT_EQ(socket_holders("tcp", tcp_port_, running_pids()), std::set<pid_t>{});
      EXPECT_EQ(socket_holders("udp", udp_port_, running_pids()), std::set<pid_t>{});
    }
  }

  /// New backups join the live side that runs alone, the first meeting the step's join
  /// fault; returns once the pair is fault tolerant again. A join that breaks by itself (a
  /// side heard nothing for the peer timeout: a stalled machine) is settled like one the soak
  /// broke, and another backup joins, kJoinAttempts times at most.
  void restore_redundancy(const SoakStep& step) {
    if (step.join_fault == SoakJoinFault::kKillJoiner ||
        step.join_fault == SoakJoinFault::kStallJoiner) {
      ASSERT_NO_FATAL_FAILURE(break_a_join(step));
    }
    for (int attempt = 1;; attempt++) {
      Side& live = *live_;
      const Mark from = live.mark();
      const bool arbiter_down_as_it_registers =
          attempt == 1 && step.join_fault == SoakJoinFault::kArbiterDown;
      if (arbiter_down_as_it_registers) {
        ASSERT_NO_FATAL_FAILURE(arbiter_down(step));
      }
      Side& joiner = start_side("backup", &live, true);
      if (arbiter_down_as_it_registers) {
        ASSERT_TRUE(live->wait_for_log(kNoDecision, from.log, kTimeout))
            << live.name() << " did not try to register the joiner";
        EXPECT_FALSE(live->has_event("joined", nlohmann::json::object(), from.events))
            << "a new epoch with the arbiter down";
        ASSERT_NO_FATAL_FAILURE(arbiter_back(step));
      }
      // Woken by the live side's event itself, for the kill that may follow at once; looking
      // every 50 ms whether the join broke instead.
      const auto deadline = Clock::now() + kTimeout;
      bool again = false;
      while (!(again = live->wait_for_event("joined", nlohmann::json::object(), from.events,
                                            Duration(50))
                           .has_value()) &&
             !join_broke(live, from, joiner)) {
        ASSERT_TRUE(Clock::now() < deadline) << joiner.name() << " did not join " << live.name();
      }
      if (again && step.join_fault == SoakJoinFault::kKillLiveOnceJoined) kill(live);
      if (!again) {
        ASSERT_LT(attempt, kJoinAttempts) << "no backup could join " << live.name();
        std::cout << "soak:   the join of " << joiner.name()
                  << " broke by itself; another backup joins" << std::endl;
        spontaneous_++;
        ASSERT_NO_FATAL_FAILURE(settle_broken_join(live, from, joiner));
        continue;
      }
      ASSERT_NO_FATAL_FAILURE(joined(live, from, joiner));
      if (step.join_fault == SoakJoinFault::kKillLiveOnceJoined) {
        // The pair said it was fault tolerant: the joiner, in step, must take over.
        ASSERT_NO_FATAL_FAILURE(
            settle_failover(arbiter_state().epoch, live, from, joiner, Mark{}, &joiner));
        ASSERT_NO_FATAL_FAILURE(restore_redundancy(SoakStep{}));
      }
      return;
    }
  }

  /// `joiner` has joined `live` (whose events from `from` on say so): they are the pair now,
  /// and anything either does after this about losing the other is news.
  void joined(Side& live, const Mark& from, Side& joiner) {
    const auto events = live->events();
    size_t again = from.events;
    while (again < events.size() && events[again].at("event") != "joined") again++;
    ASSERT_LT(again, events.size()) << live.name() << " did not say it was joined";
    // From the joined event on, and the live side's whole log: what it logs while it registers
    // the joiner is no news, and the log is only searched for what no event says.
    steady_marks_ = {Mark{again + 1, live->log().size()}, joiner.mark()};
    const auto paired = joiner->wait_for_event("paired", Duration(0));
    EXPECT_TRUE(paired && paired->contains("joined_at")) << joiner.name();
    backup_ = &joiner;
    std::cout << "soak:   " << joiner.name() << " joined " << live.name() << " at epoch "
              << events[again].at("epoch") << std::endl;
  }

  /// Whether the join of `joiner` to `live` (what it did from `from` on) has broken: the live
  /// side went on alone, or the joiner went live or exited.
  static bool join_broke(Side& live, const Mark& from, Side& joiner) {
    return live->has_event("alone", nlohmann::json::object(), from.events) ||
           joiner->has_event("went_live") || joiner->wait_for_exit(Duration(0)) != std::nullopt;
  }

  /// A backup joins the live side and is killed, or its channel stalls, as the step says.
  void break_a_join(const SoakStep& step) {
    Side& live = *live_;
    const Mark from = live.mark();
    Side& joiner = start_side("backup", &live, true);
    // Late: once the guest paused for the joiner's snapshot (a figure of the log, no event).
    const bool far_enough =
        step.join_fault_late
            ? live->wait_for_log("the guest paused", from.log, kTimeout)
            : live->wait_for_event("join_started", nlohmann::json::object(), from.events, kTimeout)
                  .has_value();
    ASSERT_TRUE(far_enough) << joiner.name() << " did not get that far joining " << live.name();
    if (step.join_fault == SoakJoinFault::kKillJoiner) {
      kill(joiner);
    } else {
      joiner.relay->stall();
    }
    ASSERT_NO_FATAL_FAILURE(settle_broken_join(live, from, joiner));
  }

  /// After the join of `joiner` to `live` (what it did from `from` on) broke: the live side
  /// goes on alone (it forgets a joiner it had not begun to register, or wins at the arbiter)
  /// and the joiner dies without going live; or, had the joiner the new epoch, it may win and
  /// take over, and the live side stops.
  void settle_broken_join(Side& live, const Mark& from, Side& joiner) {
    Side* winner = nullptr;
    ASSERT_TRUE(wait_until([&] {
      if (live->has_event("alone", nlohmann::json::object(), from.events)) {
        winner = &live;
      } else if (joiner->has_event("went_live")) {
        winner = &joiner;
      }
      return winner != nullptr;
    })) << "neither "
        << live.name() << " nor " << joiner.name() << " went on";
    if (winner == &joiner) {
      ASSERT_NO_FATAL_FAILURE(expect_stopped(live, from, joiner));
    } else if (joiner.killed) {
      EXPECT_EQ(joiner->wait_for_exit(kTimeout), std::optional<int>(kKilled)) << joiner.name();
    } else {
      // Without the new epoch it cannot ask (exit 4); with it, it asks and loses (exit 5).
      const auto code = joiner->wait_for_exit(kTimeout);
      EXPECT_TRUE(code == kPairBroken || code == kLostThePair)
          << joiner.name() << " exited " << (code ? std::to_string(*code) : "not at all");
    }
    ASSERT_NO_FATAL_FAILURE(expect_alone(*winner));
    std::cout << "soak:   " << winner->name() << " went on after the join broke; "
              << (winner == &live ? joiner.name() : live.name()) << " stopped" << std::endl;
  }

  /// A pair the soak left fault tolerant may have split by itself since: the machine stalled
  /// both sides past the peer timeout, say. That is a fault like any other: the arbiter
  /// decides, the loser stops, a new backup joins. Counted, and reported at the end.
  void settle_a_split_the_soak_did_not_cause() {
    Side& live = *live_;
    Side& backup = *backup_;
    const auto [live_mark, backup_mark] = steady_marks_;
    if (!live.lost_its_peer(live_mark) && !backup.lost_its_peer(backup_mark)) return;
    spontaneous_++;
    std::cout << "soak:   the pair split by itself (a side heard nothing for the peer timeout)"
              << std::endl;
    ASSERT_NO_FATAL_FAILURE(
        settle_failover(arbiter_state().epoch, live, live_mark, backup, backup_mark, nullptr));
    ASSERT_NO_FATAL_FAILURE(restore_redundancy(SoakStep{}));
  }

  // ---------------------------------------------------------------- the checks

  /// The pair is fault tolerant and whole, only its live side can reach clients, and the
  /// clients lost nothing.
  void check_fault_tolerant() {
    ASSERT_NO_FATAL_FAILURE(settle_a_split_the_soak_did_not_cause());
    for (Side& side : sides_) {
      const bool running = side->wait_for_exit(Duration(0)) == std::nullopt;
      const bool member = &side == live_ || &side == backup_;
      EXPECT_EQ(running, member) << side.name() << (member ? " has exited" : " still runs");
    }
    const arbiter::ArbiterState state = arbiter_state();
    EXPECT_EQ(state.mode, arbiter::Mode::kPaired) << arbiter::describe(state);
    EXPECT_EQ(state.holder, live_->id()) << "the arbiter says " << arbiter::describe(state)
                                         << ", but " << live_->name() << " is live";
    // Only the side the arbiter chose can send to clients.
    const std::set<pid_t> live_only = {(*live_)->pid()};
    EXPECT_EQ(socket_holders("tcp", tcp_port_, running_pids()), live_only)
        << "the processes holding the client-facing TCP port";
    EXPECT_EQ(socket_holders("udp", udp_port_, running_pids()), live_only)
        << "the processes holding the client-facing UDP port";
    expect_one_winner_per_epoch();
    ASSERT_NO_FATAL_FAILURE(expect_clients_answered());
    expect_nothing_acknowledged_lost();
  }

  /// From every side's events: each epoch was registered by one side at most, and won by one
  /// at most (a side that goes on alone again at an epoch it won counts once).
  void expect_one_winner_per_epoch() {
    std::map<uint64_t, std::set<int>> winners, registrars;
    for (Side& side : sides_) {
      for (const Event& e : side->events()) {
        const std::string name = e.at("event");
        if (name == "went_live" || name == "alone") winners[e.at("epoch")].insert(side.number);
        if (name == "registered" || name == "joined") registrars[e.at("epoch")].insert(side.number);
      }
    }
    for (const auto& [epoch, sides] : winners) {
      EXPECT_EQ(sides.size(), 1u) << "epoch " << epoch << " was won by " << sides.size()
                                  << " sides";
    }
    for (const auto& [epoch, sides] : registrars) {
      EXPECT_EQ(sides.size(), 1u) << "epoch " << epoch << " was registered by " << sides.size()
                                  << " sides";
    }
  }

  /// Both protocols' clients get INCRs answered.
  void expect_clients_answered() {
    ASSERT_TRUE(
        tcp_load_->wait_for_acknowledged(tcp_load_->acknowledged() + kTcpProgress, kTimeout))
        << "the TCP clients are not answered";
    ASSERT_TRUE(
        udp_load_->wait_for_acknowledged(udp_load_->acknowledged() + kUdpProgress, kTimeout))
        << "the UDP clients are not answered";
  }

  /// Every value a client was answered is in the counter, no client's values went back, no
  /// value was handed out twice, and a key never reads lower than it did before.
  void expect_nothing_acknowledged_lost() {
    for (auto [load, key] :
         {std::pair{tcp_load_.get(), "tcp"}, std::pair{udp_load_.get(), "udp"}}) {
      // Taken before the GET is sent: every value in it was acknowledged before it.
      const auto records = load->records();
      long long value = -1;
      try {
        value = counter_value(tcp_port_, key);
      } catch (const std::runtime_error& e) {
        ADD_FAILURE() << "GET " << key << ": " << e.what();
        continue;
      }
      SCOPED_TRACE(std::string("key ") + key);
      expect_no_acknowledged_incr_lost(records, value);
      EXPECT_GE(value, last_value_[key]) << "GET " << key << " went back";
      last_value_[key] = value;
    }
  }

  std::string diagnostics() const {
    std::string text;
    for (const Side& side : sides_) {
      text += "--- " + side.name() + (side.killed ? ", killed" : "") + " ---\n" + side->log();
    }
    return text + "--- arbiter ---\n" + arbiter_.log() + "---\n";
  }

  uint64_t seed_ = 0;
  int steps_ = 0;
  std::string reproduce_;
  const uint16_t tcp_port_ = unused_port(SOCK_STREAM);
  const uint16_t udp_port_ = unused_port(SOCK_DGRAM);
  ArbiterProcess arbiter_;
  std::list<Side> sides_;  ///< every process started; a list keeps references valid
  Side* live_ = nullptr;
  Side* backup_ = nullptr;  ///< null while the live side runs alone
  std::map<std::string, long long> last_value_;
  /// Where the live side and the backup stood when they last became a pair: a peer lost after
  /// these, that no fault of the soak explains, is a split.
  std::pair<Mark, Mark> steady_marks_;
  int spontaneous_ = 0;  ///< splits and broken joins the soak did not cause
  // Declared last, so they stop before the processes they talk to.
  std::unique_ptr<IncrLoad> tcp_load_;
  std::unique_ptr<IncrLoad> udp_load_;
};

// The plan depends on the seed alone: a printed seed replays the same faults.
TEST(SoakPlan, TheSameSeedPlansTheSameFaults) {
  EXPECT_EQ(plan_soak(42, 50), plan_soak(42, 50));
  EXPECT_NE(plan_soak(42, 50), plan_soak(43, 50));
  // Every fault comes up in a long enough plan.
  std::set<SoakFault> faults;
  std::set<SoakJoinFault> join_faults;
  for (const SoakStep& step : plan_soak(7, 500)) {
    faults.insert(step.fault);
    join_faults.insert(step.join_fault);
  }
  EXPECT_EQ(faults.size(), static_cast<size_t>(kSoakFaults));
  EXPECT_EQ(join_faults.size(), static_cast<size_t>(kSoakJoinFaults));
}

TEST_F(Soak, SeededFaultsLoseNothing) {
  SCOPED_TRACE(reproduce_);
  const std::vector<SoakStep> plan = plan_soak(seed_, steps_);
  ASSERT_NO_FATAL_FAILURE(start_pair());
  tcp_load_ = std::make_unique<IncrLoad>(Transport::kTcp, tcp_port_, "tcp", kTcpClients);
  udp_load_ = std::make_unique<IncrLoad>(Transport::kUdp, udp_port_, "udp", kUdpClients);
  ASSERT_NO_FATAL_FAILURE(check_fault_tolerant());
  for (int i = 0; i < steps_; i++) {
    const std::string label =
        "step " + std::to_string(i + 1) + "/" + std::to_string(steps_) + ": " + describe(plan[i]);
    std::cout << "soak: " << label << std::endl;
    SCOPED_TRACE(label);
    const auto started = Clock::now();
    ASSERT_NO_FATAL_FAILURE(run_step(plan[i]));
    ASSERT_NO_FATAL_FAILURE(check_fault_tolerant());
    ASSERT_FALSE(HasFailure()) << "the soak stops at the first step that failed";
    std::cout << "soak:   fault tolerant again, nothing lost ("
              << std::chrono::duration_cast<Duration>(Clock::now() - started).count() << " ms, "
              << tcp_load_->acknowledged() << " TCP and " << udp_load_->acknowledged()
              << " UDP INCRs answered so far)" << std::endl;
  }
  const auto tcp_clients = tcp_load_->stop();
  const auto udp_clients = udp_load_->stop();
  expect_no_acknowledged_incr_lost(tcp_clients, counter_value(tcp_port_, "tcp"));
  expect_no_acknowledged_incr_lost(udp_clients, counter_value(tcp_port_, "udp"));
  RecordProperty("splits_not_caused", spontaneous_);
  std::cout << "soak: " << steps_ << " steps passed; " << spontaneous_
            << " split(s) or broken join(s) the soak did not cause" << std::endl;
  // Now and then a loaded machine stalls a side past the peer timeout; a pair that splits
  // all the time has a bug (a heartbeat that does not go, a timeout that fires early).
  EXPECT_LE(spontaneous_, std::max(2, steps_ / 4))
      << "the pair split by itself too often: see the logs for who heard nothing, and why";
}

}  // namespace
}  // namespace vmft::integration
