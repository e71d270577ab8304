// The simulation's parts on their own: a seed fixes every draw, the scheduler's order and the
// trace; the network keeps each connection's order through latency, partitions, pauses and
// crashes, as TCP does.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "Fakes.h"
#include "vmft/arbiter/ArbiterServer.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/sim/ArbiterLink.h"
#include "vmft/sim/Fiber.h"
#include "vmft/sim/IncrClients.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/Network.h"
#include "vmft/sim/PairScenario.h"
#include "vmft/sim/Random.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/SimArbiter.h"
#include "vmft/sim/SimArbiterServer.h"
#include "vmft/sim/SimWorker.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(SimRandom, OneSeedDrawsTheSameNumbersAndAnotherSeedOthers) {
  Random a(42), b(42), c(43);
  std::vector<uint64_t> from_a, from_b, from_c;
  for (int i = 0; i < 100; i++) {
    from_a.push_back(a.next());
    from_b.push_back(b.next());
    from_c.push_back(c.next());
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

// Pinned: a change to the generator would make every recorded failing seed mean another run.
TEST(SimRandom, TheGeneratorIsXoshiro256StarStarSeededThroughSplitMix64) {
  Random r(0);
  EXPECT_EQ(r.next(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(r.next(), 0xbf6e1f784956452aULL);
}

TEST(SimRandom, BelowStaysInRangeAndReachesEveryValue) {
  Random r(7);
  std::map<uint64_t, int> seen;
  for (int i = 0; i < 6000; i++) seen[r.below(6)]++;
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& [value, count] : seen) {
    EXPECT_LT(value, 6u);
    EXPECT_GT(count, 800) << value;  // 1000 expected; 800 is far out in the tail
    EXPECT_LT(count, 1200) << value;
  }
  for (int i = 0; i < 1000; i++) {
    const uint64_t x = r.between(10, 12);
    EXPECT_GE(x, 10u);
    EXPECT_LE(x, 12u);
  }
  EXPECT_EQ(r.between(5, 5), 5u);
}

TEST(SimRandom, ChanceOfNothingNeverHappensAndOfCertaintyAlways) {
  Random r(1);
  int some = 0;
  for (int i = 0; i < 1000; i++) {
    EXPECT_FALSE(r.chance(0.0));
    EXPECT_TRUE(r.chance(1.0));
    some += r.chance(0.5);
  }
  EXPECT_GT(some, 400);
  EXPECT_LT(some, 600);
}

TEST(SimScheduler, RunsTasksInTimeOrderAndTiesInTheOrderScheduled) {
  Scheduler s(1);
  std::vector<std::string> ran;
  s.after(milliseconds(2), "late", [&] { ran.push_back("late"); });
  s.after(milliseconds(1), "first tie", [&] { ran.push_back("first tie"); });
  s.after(milliseconds(1), "second tie", [&] { ran.push_back("second tie"); });
  s.after(milliseconds(0), "now", [&] {
    ran.push_back("now");
    s.after(milliseconds(1), "third tie", [&] { ran.push_back("third tie"); });
  });
  while (s.step()) {
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"now", "first tie", "second tie", "third tie", "late"}));
  EXPECT_EQ(s.now(), milliseconds(2));
}

TEST(SimScheduler, ACancelledTaskNeverRuns) {
  Scheduler s(1);
  bool ran = false;
  const auto id = s.after(milliseconds(1), "cancelled", [&] { ran = true; });
  s.cancel(id);
  s.cancel(id);  // twice: ignored
  EXPECT_FALSE(s.step());
  EXPECT_FALSE(ran);
}

TEST(SimScheduler, RunUntilRunsWhatIsDueAndMovesTimeToTheDeadline) {
  Scheduler s(1);
  int ran = 0;
  s.after(milliseconds(1), "due", [&] { ran++; });
  s.after(milliseconds(3), "not yet", [&] { ran++; });
  s.run_until(milliseconds(2));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(s.now(), milliseconds(2));
  EXPECT_EQ(s.pending(), 1u);
}

// The trace of a run that draws latencies from its seed: the same seed, the same trace.
uint64_t digest_of_a_run(uint64_t seed) {
  Scheduler s(seed);
  for (int i = 0; i < 50; i++) {
    s.after(Time(s.random().below(1000000)), "task " + std::to_string(i), [] {});
  }
  while (s.step()) {
  }
  return s.trace().digest();
}

TEST(SimScheduler, TheSameSeedGivesTheSameTraceAndAnotherSeedAnother) {
  EXPECT_EQ(digest_of_a_run(5), digest_of_a_run(5));
  EXPECT_NE(digest_of_a_run(5), digest_of_a_run(6));
}

TEST(SimScheduler, TheTraceKeepsItsLastLinesAndCountsTheRest) {
  Trace trace;
  for (size_t i = 0; i < Trace::kKeptLines + 5; i++)
    trace.add(Time(i), "line " + std::to_string(i));
  const std::string tail = trace.tail();
  EXPECT_EQ(tail.rfind("(5 earlier entries not kept)\n", 0), 0u) << tail.substr(0, 80);
  EXPECT_EQ(tail.find("line 4\n"), std::string::npos);
  EXPECT_NE(tail.find("line 5\n"), std::string::npos);
}

// Two nodes, "a" listening on 1 and "b" connected to it; what each end received, in order.
struct TwoNodes : ::testing::Test {
  Scheduler s{11};
  Network net{s, {microseconds(10), microseconds(500)}};
  std::shared_ptr<Connection> at_a, at_b;
  std::vector<std::string> a_got, b_got;
  std::string a_closed, b_closed;

  void SetUp() override {
    net.listen("a", 1, [this](std::shared_ptr<Connection> c) {
      at_a = c;
      c->on_message([this](Message m) { a_got.emplace_back(m.begin(), m.end()); });
      c->on_closed([this](const std::string& why) { a_closed = why; });
    });
    net.connect("b", "a", 1, milliseconds(100), [this](auto c, const std::string& error) {
      ASSERT_TRUE(c) << error;
      at_b = c;
      c->on_message([this](Message m) { b_got.emplace_back(m.begin(), m.end()); });
      c->on_closed([this](const std::string& why) { b_closed = why; });
    });
    s.run_until(milliseconds(5));
    ASSERT_TRUE(at_a && at_b);
  }
  static Message text(const std::string& t) { return Message(t.begin(), t.end()); }
  std::vector<std::string> numbers(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; i++) v.push_back(std::to_string(i));
    return v;
  }
};

TEST_F(TwoNodes, MessagesArriveInOrderAfterALatencyWithinTheBounds) {
  const Time sent = s.now();
  for (const auto& m : numbers(100)) at_b->send(text(m));
  s.run_until(sent + microseconds(9));
  EXPECT_TRUE(a_got.empty());
  s.run_until(sent + milliseconds(100));
  EXPECT_EQ(a_got, numbers(100));
}

TEST_F(TwoNodes, APartitionHoldsMessagesAndHealingDeliversThemInOrder) {
  net.partition("a", "b");
  for (const auto& m : numbers(10)) at_b->send(text(m));
  s.run_until(s.now() + milliseconds(100));
  EXPECT_TRUE(a_got.empty());
  net.heal("b", "a");
  for (int i = 10; i < 20; i++) at_b->send(text(std::to_string(i)));
  s.run_until(s.now() + milliseconds(100));
  EXPECT_EQ(a_got, numbers(20));
}

TEST_F(TwoNodes, APausedNodeGetsWhatWasSentToItOnceItResumes) {
  net.pause("a");
  at_b->send(text("0"));
  at_a->send(text("to b"));  // what a sent before it stopped still goes
  s.run_until(s.now() + milliseconds(100));
  EXPECT_TRUE(a_got.empty());
  EXPECT_EQ(b_got, std::vector<std::string>{"to b"});
  net.resume("a");
  at_b->send(text("1"));
  s.run_until(s.now() + milliseconds(100));
  EXPECT_EQ(a_got, numbers(2));
}

TEST_F(TwoNodes, ACrashedNodesPeerHearsAResetAfterWhatWasSentBefore) {
  at_a->send(text("last words"));
  net.crash("a");
  s.run_until(s.now() + milliseconds(100));
  EXPECT_EQ(b_got, std::vector<std::string>{"last words"});
  EXPECT_EQ(b_closed, "connection reset by peer");
  EXPECT_FALSE(at_a->open());
  at_b->send(text("into the void"));
  s.run_until(s.now() + milliseconds(100));
  EXPECT_TRUE(a_got.empty());
}

TEST_F(TwoNodes, ClosingAnEndTellsThePeerAfterTheDataBeforeIt) {
  at_b->send(text("0"));
  at_b->close();
  s.run_until(s.now() + milliseconds(100));
  EXPECT_EQ(a_got, numbers(1));
  EXPECT_EQ(a_closed, "closed by the peer");
  EXPECT_EQ(b_closed, "");  // the end that closed hears nothing of its own close
}

TEST_F(TwoNodes, AResetIsHeardAtBothEnds) {
  net.reset(*at_b, "reset by the test");
  s.run_until(s.now() + milliseconds(100));
  EXPECT_EQ(a_closed, "reset by the test");
  EXPECT_EQ(b_closed, "reset by the test");
}

TEST(SimNetwork, ConnectingWhereNobodyListensIsRefusedAndAcrossAPartitionTimesOut) {
  Scheduler s(3);
  Network net(s, {});
  std::string refused, timed_out;
  net.connect("b", "a", 1, milliseconds(50), [&](auto c, const std::string& e) {
    EXPECT_FALSE(c);
    refused = e;
  });
  net.listen("c", 1, [](auto) { ADD_FAILURE() << "accepted across a partition"; });
  net.partition("b", "c");
  net.connect("b", "c", 1, milliseconds(50), [&](auto c, const std::string& e) {
    EXPECT_FALSE(c);
    timed_out = e;
  });
  s.run_until(milliseconds(49));
  EXPECT_EQ(refused, "connection refused");
  EXPECT_EQ(timed_out, "");
  s.run_until(milliseconds(50));
  EXPECT_EQ(timed_out, "timed out");
}

TEST(SimFiber, RunsItsBodyOnlyBetweenResumeAndYield) {
  std::vector<std::string> steps;
  Fiber fiber([&](Fiber& self) {
    steps.push_back("body 1");
    self.yield();
    steps.push_back("body 2");
  });
  steps.push_back("before");
  EXPECT_TRUE(fiber.resume());
  steps.push_back("between");
  EXPECT_FALSE(fiber.resume());
  EXPECT_TRUE(fiber.done());
  EXPECT_EQ(steps, (std::vector<std::string>{"before", "body 1", "between", "body 2"}));
}

TEST(SimFiber, WhatTheBodyThrowsReachesResume) {
  Fiber fiber([](Fiber&) { throw std::runtime_error("from the body"); });
  EXPECT_THROW(fiber.resume(), std::runtime_error);
  EXPECT_TRUE(fiber.done());
}

TEST(SimFiber, ABodyCanResumeAnotherFiber) {
  std::vector<std::string> steps;
  Fiber inner([&](Fiber& self) {
    steps.push_back("inner 1");
    self.yield();
    steps.push_back("inner 2");
  });
  Fiber outer([&](Fiber& self) {
    steps.push_back("outer 1");
    EXPECT_TRUE(inner.resume());
    self.yield();
    steps.push_back("outer 2");
    EXPECT_FALSE(inner.resume());
  });
  EXPECT_TRUE(outer.resume());
  steps.push_back("between");
  EXPECT_FALSE(outer.resume());
  EXPECT_EQ(steps,
            (std::vector<std::string>{"outer 1", "inner 1", "between", "outer 2", "inner 2"}));
}

// Deep enough for Unicorn's translator and the roles' calls, whose frames a sanitizer enlarges.
int depth_on_the_fiber_stack(Fiber& self, int depth) {
  volatile char frame[4096];
  frame[0] = 1;
  if (depth == 0) {
    self.yield();
    return 0;
  }
  return depth_on_the_fiber_stack(self, depth - 1) + frame[0];  // each frame still there
}

TEST(SimFiber, TheBodyHasAStackOfItsOwnThatHoldsAMebibyteOfFrames) {
  int result = -1;
  Fiber fiber([&](Fiber& self) { result = depth_on_the_fiber_stack(self, 256); });
  EXPECT_TRUE(fiber.resume());  // parked at the bottom, its frames kept
  EXPECT_FALSE(fiber.resume());
  EXPECT_EQ(result, 256);
}

TEST(SimFiber, YieldOutsideTheBodyIsRefused) {
  Fiber fiber([](Fiber&) {});
  EXPECT_THROW(fiber.yield(), std::logic_error);
  EXPECT_FALSE(fiber.resume());
  EXPECT_THROW(fiber.resume(), std::logic_error);
}

// The log's ends hear of each other as the channel's do: heartbeats every 25 ms, a peer given up
// after 200 ms of silence.
struct LinkEnds {
  Scheduler s{3};
  LogLink link{s, logchannel::LogHeader{}, {}};
  std::vector<std::string> primary_heard;  // why its end gave the backup up
  LinkEnds() {
    link.listen({.peer_lost = [this](const std::string& why) { primary_heard.push_back(why); },
                 .epoch_acked = {}});
    link.start();
  }
};

TEST(SimLogLink, BothEndsGiveTheOtherUpAPeerTimeoutIntoAPartition) {
  LinkEnds ends;
  ends.s.at(milliseconds(50), "partition", [&] { ends.link.partition(); });
  ends.s.run_until(milliseconds(240));
  EXPECT_FALSE(ends.link.backup_gave_up_at());
  EXPECT_FALSE(ends.link.primary_gave_up_at());
  ends.s.run_until(milliseconds(500));
  // Silence counts from the last heartbeat heard, up to 25 ms before the partition, and is
  // looked at every 25 ms.
  ASSERT_TRUE(ends.link.backup_gave_up_at());
  ASSERT_TRUE(ends.link.primary_gave_up_at());
  for (const Time at : {*ends.link.backup_gave_up_at(), *ends.link.primary_gave_up_at()}) {
    EXPECT_GT(at, milliseconds(250) - milliseconds(25)) << format_time(at);
    EXPECT_LE(at, milliseconds(250) + milliseconds(25)) << format_time(at);
  }
  ASSERT_EQ(ends.primary_heard.size(), 1u);
  EXPECT_EQ(ends.primary_heard[0].rfind("the backup sent nothing for 2", 0), 0u)
      << ends.primary_heard[0];
}

TEST(SimLogLink, APartitionOrAPauseShorterThanThePeerTimeoutGoesUnnoticed) {
  LinkEnds ends;
  ends.s.at(milliseconds(50), "partition", [&] { ends.link.partition(); });
  ends.s.at(milliseconds(200), "heal", [&] { ends.link.heal(); });
  ends.s.at(milliseconds(300), "pause", [&] { ends.link.pause_primary(); });
  ends.s.at(milliseconds(450), "resume", [&] { ends.link.resume_primary(); });
  ends.s.at(milliseconds(500), "pause the backup", [&] { ends.link.pause_backup(); });
  ends.s.at(milliseconds(650), "resume the backup", [&] { ends.link.resume_backup(); });
  ends.s.run_until(milliseconds(1000));
  EXPECT_FALSE(ends.link.backup_gave_up_at());
  EXPECT_FALSE(ends.link.primary_gave_up_at());
  EXPECT_TRUE(ends.primary_heard.empty());
}

TEST(SimLogLink, APrimaryPausedPastThePeerTimeoutHearsTheBackupClosedAsItResumes) {
  LinkEnds ends;
  ends.s.at(milliseconds(50), "pause", [&] { ends.link.pause_primary(); });
  ends.s.at(milliseconds(350), "resume", [&] { ends.link.resume_primary(); });
  ends.s.run_until(milliseconds(349));
  ASSERT_TRUE(ends.link.backup_gave_up_at());  // it heard nothing: the primary sent nothing
  EXPECT_TRUE(ends.primary_heard.empty());
  ends.s.run_until(milliseconds(400));
  EXPECT_EQ(ends.link.primary_gave_up_at(), std::optional<Time>(milliseconds(350)));
  EXPECT_EQ(ends.primary_heard, std::vector<std::string>{"the backup is gone: closed by the peer"});
}

TEST(SimLogLink, ABackupPausedPastThePeerTimeoutHearsThePrimaryClosedAsItResumes) {
  LinkEnds ends;
  ends.s.at(milliseconds(50), "pause the backup", [&] { ends.link.pause_backup(); });
  ends.s.at(milliseconds(350), "resume the backup", [&] { ends.link.resume_backup(); });
  ends.s.run_until(milliseconds(349));
  ASSERT_TRUE(ends.link.primary_gave_up_at());  // the backup sent nothing
  ASSERT_EQ(ends.primary_heard.size(), 1u);
  EXPECT_EQ(ends.primary_heard[0].rfind("the backup sent nothing for 2", 0), 0u)
      << ends.primary_heard[0];
  EXPECT_FALSE(ends.link.backup_gave_up_at());
  ends.s.run_until(milliseconds(400));
  EXPECT_EQ(ends.link.backup_gave_up_at(), std::optional<Time>(milliseconds(350)));
}

TEST(SimLogLink, ABackupKilledIsHeardAtOnceAndOneWhoseHostDiedAPeerTimeoutLater) {
  LinkEnds killed;
  killed.s.at(milliseconds(50), "kill the backup", [&] { killed.link.backup_died(false); });
  killed.s.run_until(milliseconds(51));
  ASSERT_TRUE(killed.link.primary_gave_up_at());  // its close came after a latency
  EXPECT_EQ(killed.primary_heard,
            std::vector<std::string>{"the backup is gone: closed by the peer"});

  LinkEnds lost;
  lost.s.at(milliseconds(50), "the backup's host dies", [&] { lost.link.backup_died(true); });
  lost.s.run_until(milliseconds(224));
  EXPECT_FALSE(lost.link.primary_gave_up_at());
  lost.s.run_until(milliseconds(300));
  ASSERT_TRUE(lost.link.primary_gave_up_at());
  EXPECT_GT(*lost.link.primary_gave_up_at(), milliseconds(250) - milliseconds(25));
  ASSERT_EQ(lost.primary_heard.size(), 1u);
  EXPECT_EQ(lost.primary_heard[0].rfind("the backup sent nothing for 2", 0), 0u)
      << lost.primary_heard[0];
}

// The arbiter with a full disk decides nothing that changes the pair, as `vmft arbiter` does
// (its server answers `ERR cannot persist ...`); a side asking through ft::ArbiterClient asks
// again until the disk has room, and only then wins.
TEST(SimArbiter, WithItsDiskFullItDecidesNothingButStillTellsALoserWhoWon) {
  SimArbiter arbiter;
  arbiter.register_epoch("sim", 0, "primary");
  arbiter.set_disk_full(true);
  EXPECT_EQ(arbiter::answer_request(arbiter, "TAS sim 1 backup"),
            "ERR cannot persist the decision for pair 'sim', so none was made: No space left on "
            "device");
  EXPECT_EQ(arbiter.read("sim").mode, arbiter::Mode::kPaired);
  EXPECT_TRUE(arbiter.winners("sim").empty());
  arbiter.set_disk_full(false);
  EXPECT_TRUE(arbiter.test_and_set("sim", 1, "primary").won);
  arbiter.set_disk_full(true);
  EXPECT_EQ(arbiter::answer_request(arbiter, "TAS sim 1 backup"), "LOST 1 alone primary");
  EXPECT_EQ(arbiter::answer_request(arbiter, "TAS sim 1 primary"), "WON 1");
}

// A clock whose every sleep is a step of a disk being cleaned up: it has room after `sleeps`.
class CleanupClock final : public ft::Clock {
 public:
  CleanupClock(SimArbiter& arbiter, int sleeps) : arbiter_(arbiter), left_(sleeps) {}
  TimePoint now() override { return now_; }
  void sleep_for(Duration d) override {
    now_ += d;
    if (--left_ == 0) arbiter_.set_disk_full(false);
  }

 private:
  SimArbiter& arbiter_;
  int left_;
  TimePoint now_{};
};

TEST(SimArbiter, AClientAsksAgainWhileTheDiskIsFullAndWinsOnceItHasRoom) {
  SimArbiter arbiter;
  arbiter.register_epoch("sim", 0, "primary");
  arbiter.set_disk_full(true);
  CleanupClock clock(arbiter, 3);
  ft::ArbiterClient client(arbiter, "the simulated arbiter", clock);
  hypervisor::InputQueue inputs;
  const auto result = client.test_and_set("sim", 1, "backup", inputs);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->won);
  EXPECT_EQ(clock.now(), ft::Clock::TimePoint(3 * ft::kArbiterRetry));
  EXPECT_EQ(arbiter.winners("sim").at(1), std::set<std::string>{"backup"});
}

// A side's real arbiter::ArbiterClient, on a worker of node "side", and the arbiter serving on
// node "arbiter", over the simulated network.
struct ArbiterOnTheNetwork {
  Scheduler s{1};
  Network network{s, {}};
  SimArbiter arbiter;
  SimArbiterServer server{network, "arbiter", arbiter};
  SimWorker worker{s, "side"};
  ArbiterLink link{network, "side", worker.parker(), server.address()};
  std::vector<std::string> heard;  // what each test-and-set came to, and when

  ArbiterOnTheNetwork() { arbiter.register_epoch("sim", 0, "primary"); }
  ~ArbiterOnTheNetwork() { worker.finish(); }
  void ask_at(Time when, const std::string& id) {
    s.at(when, "ask", [this, id] {
      worker.post([this, id] {
        try {
          const bool won = link.test_and_set("sim", 1, id).won;
          heard.push_back((won ? "won at " : "lost at ") + format_time(s.now()));
        } catch (const arbiter::ArbiterUnavailable& e) {
          heard.push_back(std::string(e.what()) + " at " + format_time(s.now()));
        }
      });
    });
  }
};

TEST(SimArbiterServer, AnswersTheRealClientARoundTripOfTheNetworkLater) {
  ArbiterOnTheNetwork world;
  world.ask_at(milliseconds(1), "backup");
  world.ask_at(milliseconds(5), "primary");
  world.s.run_until(milliseconds(10));
  ASSERT_EQ(world.heard.size(), 2u);
  EXPECT_TRUE(world.heard[0].starts_with("won at 1.")) << world.heard[0];
  EXPECT_NE(world.heard[0], "won at 1.000000 ms");
  EXPECT_TRUE(world.heard[1].starts_with("lost at 5.")) << world.heard[1];
  EXPECT_EQ(world.arbiter.winners("sim").at(1), std::set<std::string>{"backup"});
}

// The disk full: the server's `ERR cannot persist ...` line reaches the side as the real client
// parses it.
TEST(SimArbiterServer, ItsErrReachesTheSideAsALineTheRealClientParses) {
  ArbiterOnTheNetwork world;
  world.arbiter.set_disk_full(true);
  world.ask_at(milliseconds(1), "backup");
  world.s.run_until(milliseconds(10));
  ASSERT_EQ(world.heard.size(), 1u);
  EXPECT_TRUE(world.heard[0].starts_with(
      "arbiter arbiter:7000 answered: cannot persist the decision for pair 'sim', so none was "
      "made"))
      << world.heard[0];
  EXPECT_TRUE(world.arbiter.winners("sim").empty());
}

// Cut off the arbiter, a side's call times out at the client's timeout, on the simulated clock;
// once the partition heals it is answered.
TEST(SimArbiterServer, ASideCutOffItTimesOutOnTheSimulatedClock) {
  ArbiterOnTheNetwork world;
  world.network.partition("side", "arbiter");
  world.ask_at(milliseconds(1), "backup");
  world.s.at(milliseconds(20), "heal", [&] { world.network.heal("side", "arbiter"); });
  world.ask_at(milliseconds(30), "backup");
  world.s.run_until(milliseconds(40));
  EXPECT_EQ(world.heard.front(), "arbiter arbiter:7000: no connection within 5 ms at " +
                                     format_time(milliseconds(1) + ArbiterLink::kTimeout));
  ASSERT_EQ(world.heard.size(), 2u);
  EXPECT_TRUE(world.heard[1].starts_with("won at 30.")) << world.heard[1];
}

// Down, it refuses connections and resets the one a side kept; restarted, it serves the
// decisions it made before.
TEST(SimArbiterServer, DownItRefusesAndRestartedItKeepsItsDecisions) {
  ArbiterOnTheNetwork world;
  world.ask_at(milliseconds(1), "backup");
  world.s.at(milliseconds(5), "down", [&] { world.server.crash(); });
  world.ask_at(milliseconds(10), "backup");
  world.s.at(milliseconds(20), "back", [&] { world.server.restart(); });
  world.ask_at(milliseconds(30), "primary");
  world.s.run_until(milliseconds(40));
  ASSERT_EQ(world.heard.size(), 3u);
  EXPECT_TRUE(world.heard[0].starts_with("won at 1.")) << world.heard[0];
  EXPECT_TRUE(
      world.heard[1].starts_with("arbiter arbiter:7000: cannot connect: connection refused"))
      << world.heard[1];
  EXPECT_TRUE(world.heard[2].starts_with("lost at 30.")) << world.heard[2];
}

// A live side's worker in the simulation: its tasks in order, its sleeps on simulated time,
// its waits for another fiber, its stop.
TEST(SimWorker, RunsItsTasksInOrderAndSleepsOnSimulatedTime) {
  Scheduler s(1);
  SimWorker worker(s, "worker");
  std::vector<std::string> steps;
  worker.post([&] {
    steps.push_back("first at " + format_time(s.now()));
    worker.clock().sleep_for(milliseconds(100));
    steps.push_back("slept to " + format_time(s.now()));
  });
  worker.post([&] { steps.push_back("second at " + format_time(s.now())); });
  s.run_until(milliseconds(500));
  EXPECT_EQ(steps, (std::vector<std::string>{"first at 0.000000 ms", "slept to 100.000000 ms",
                                             "second at 100.000000 ms"}));
}

TEST(SimWorker, AWaitParksUntilTheCompletionIsSetAndAStopEndsIt) {
  Scheduler s(1);
  SimWorker worker(s, "worker");
  auto done = std::make_shared<ft::Completion>();
  std::vector<std::string> steps;
  worker.post([&] { steps.push_back(worker.wait(*done) ? "set" : "stopped"); });
  worker.post([&] { steps.push_back("after"); });
  s.after(milliseconds(3), "set it", [&] { done->set(true); });
  s.run_until(milliseconds(10));
  EXPECT_EQ(steps, (std::vector<std::string>{"set", "after"}));

  auto never = std::make_shared<ft::Completion>();
  worker.post([&] { steps.push_back(worker.wait(*never) ? "set" : "stopped"); });
  worker.post([&] { steps.push_back("not run"); });
  s.run_until(milliseconds(20));
  EXPECT_EQ(steps.size(), 2u);
  worker.stop();
  s.run_until(milliseconds(30));
  EXPECT_EQ(steps, (std::vector<std::string>{"set", "after", "stopped"}));
}

// A test guest on a real Machine and LiveRole in the simulation of `seed`, with `noise` tasks
// at times drawn from `noise_seed` (they cut the vCPU's slices at other places, and draw nothing
// from the simulation's own seed); stopped at `stop_at` of simulated time if it has not exited.
struct GuestRun {
  hypervisor::RunResult result;
  std::string console;
  Time ended{0};
  uint64_t digest = 0;
};
GuestRun run_guest(const std::string& guest, uint64_t seed, uint64_t noise_seed, int noise,
                   Time stop_at) {
  Scheduler s(seed);
  GuestRun run;
  hypervisor::InputQueue inputs;
  NoNetwork net;
  Vcpu vcpu(s, guest, inputs);
  hypervisor::MachineConfig config;
  config.ram_size = 16ULL << 20;
  config.console = [&](std::span<const uint8_t> bytes) {
    run.console.append(bytes.begin(), bytes.end());
  };
  vcpu.boot(testing::test_guest(guest), config,
            std::make_unique<hypervisor::LiveRole>(
                hypervisor::HostServices{vcpu.clock(), vcpu.entropy(), vcpu.timer(), net}, inputs,
                nullptr));
  vcpu.start([&](const hypervisor::RunResult& r) {
    run.result = r;
    run.ended = s.now();
  });
  Random noise_times(noise_seed);
  for (int i = 0; i < noise; i++) {
    s.at(Time(noise_times.below(static_cast<uint64_t>(stop_at.count()))), "noise", [] {});
  }
  s.at(stop_at, "stop", [&] { vcpu.request_stop(); });
  while (s.step()) {
  }
  run.digest = s.trace().digest();
  return run;
}

// bench/guests/ticker.c: a 100 Hz timer re-armed from a clock read, 300 ticks, idling between.
TEST(SimVcpu, AGuestRunsInSimulatedTimeIdlingBetweenItsTimerTicks) {
  const GuestRun run = run_guest("ticker", 1, 0, 0, milliseconds(10000));
  EXPECT_EQ(run.result.outcome, hypervisor::RunResult::Outcome::kExited) << run.result.report;
  EXPECT_EQ(run.result.exit_code, 0);
  EXPECT_EQ(run.console, "ticker: 300 ticks\n");
  // 300 ticks of 10 ms: 3 s of simulated time, however long the host took.
  EXPECT_GE(run.ended, milliseconds(3000));
  EXPECT_LT(run.ended, milliseconds(3100));
}

// Where the slices end must not matter: an input due at a time reaches the guest at the
// instruction that time stands for. The busy torture guest's ticks land in the middle of its
// work, and it mixes every clock, counter and the place each tick landed into its console lines.
TEST(SimVcpu, TheGuestRunsTheSameWhateverElseTheSimulationDoes) {
  const GuestRun quiet = run_guest("torture_busy", 1, 0, 0, milliseconds(30));
  EXPECT_EQ(quiet.result.outcome, hypervisor::RunResult::Outcome::kStopped) << quiet.result.report;
  EXPECT_NE(quiet.console.find("torture: line 5 "), std::string::npos) << quiet.console;
  for (uint64_t noise_seed : {2, 3, 4}) {
    const GuestRun busy = run_guest("torture_busy", 1, noise_seed, 3000, milliseconds(30));
    EXPECT_EQ(busy.result.instructions, quiet.result.instructions) << "noise " << noise_seed;
    EXPECT_EQ(busy.console, quiet.console) << "noise " << noise_seed;
  }
}

TEST(SimVcpu, OneSeedReplaysBitForBit) {
  const GuestRun a = run_guest("torture_busy", 9, 9, 500, milliseconds(20));
  const GuestRun b = run_guest("torture_busy", 9, 9, 500, milliseconds(20));
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.console, b.console);
  const GuestRun c = run_guest("torture_busy", 10, 9, 500, milliseconds(20));
  EXPECT_NE(a.console, c.console) << "the guest's entropy comes from the seed";
}

// The counter guest serving simulated clients for `run_for` of simulated time: every value each
// was answered, in the order answered.
struct CounterRun {
  std::vector<std::vector<long long>> answers;
  uint64_t answered = 0;
  long long highest = 0;
  std::vector<std::string> problems;
  uint64_t digest = 0;
};
CounterRun serve_counter(uint64_t seed, int clients, Time run_for) {
  Scheduler s(seed);
  hypervisor::InputQueue inputs;
  IncrClients incr(s, {.clients = clients});
  Vcpu vcpu(s, "counter", inputs);
  hypervisor::MachineConfig config;
  config.ram_size = 16ULL << 20;
  vcpu.boot(testing::test_guest("counter"), config,
            std::make_unique<hypervisor::LiveRole>(
                hypervisor::HostServices{vcpu.clock(), vcpu.entropy(), vcpu.timer(), incr}, inputs,
                nullptr));
  vcpu.start([](const hypervisor::RunResult&) {});
  incr.start(vcpu);
  s.at(run_for, "stop", [&] { vcpu.request_stop(); });
  while (s.step()) {
  }
  return {incr.answers(), incr.answered(), incr.highest(), incr.problems(), s.trace().digest()};
}

TEST(SimIncrClients, TheCounterGuestAnswersEveryClientEachIncrOnce) {
  const CounterRun run = serve_counter(1, 8, milliseconds(50));
  EXPECT_EQ(run.problems, std::vector<std::string>{});
  EXPECT_GT(run.answered, 1000u);
  // One key: the answers are 1..N, each given to one client once.
  std::set<long long> values;
  for (const auto& client : run.answers) {
    EXPECT_FALSE(client.empty());
    values.insert(client.begin(), client.end());
  }
  EXPECT_EQ(values.size(), run.answered);
  EXPECT_EQ(*values.begin(), 1);
  EXPECT_EQ(run.highest, static_cast<long long>(run.answered));
}

TEST(SimIncrClients, OneSeedAnswersTheSameAndAnotherSeedOtherwise) {
  const CounterRun a = serve_counter(5, 4, milliseconds(20));
  const CounterRun b = serve_counter(5, 4, milliseconds(20));
  EXPECT_EQ(a.answers, b.answers);
  EXPECT_EQ(a.digest, b.digest);
  const CounterRun c = serve_counter(6, 4, milliseconds(20));
  EXPECT_NE(a.answers, c.answers) << "the latencies come from the seed";
}

// Whole pairs (sim/PairScenario.h): the counter guest on a primary and a backup, clients
// throughout, the primary's live side deciding as vmft's does, and the faults the seed picks
// (brief ones first in half the runs; then either side killed, its host lost or paused, or the
// log partitioned), the arbiter down or its disk full around them; the invariants checked after
// every step and after the run.
// The simulation's counter (small tables, for the scenario's small RAM: PairScenario.h).
PairScenario counter_pair() { return {.counter = testing::test_guest("counter_small")}; }

TEST(SimPair, EveryInvariantHoldsWhateverTheSeedPicks) {
  const PairScenario scenario = counter_pair();
  std::set<Fault> faults;
  int outages = 0, disks_full = 0, brief_first = 0, backup_won = 0, primary_won = 0;
  for (uint64_t seed = 1; seed <= 24; seed++) {
    const PairOutcome out = run_pair_scenario(scenario, seed);
    EXPECT_EQ(out.violations, std::vector<std::string>{}) << "seed " << seed << "\n"
                                                          << out.trace_tail;
    EXPECT_GT(out.answered_before, 0u) << "seed " << seed;
    faults.insert(out.fault);
    outages += out.arbiter_outage;
    disks_full += out.disk_full;
    brief_first += out.brief_before > 0;
    backup_won += out.went_live_at > Time(0);
    primary_won += out.alone_at > Time(0);
  }
  // The seeds cover the faults, and each side wins some.
  EXPECT_EQ(faults.size(), static_cast<size_t>(kFaults));
  EXPECT_GT(outages, 0);
  EXPECT_GT(disks_full, 0);
  EXPECT_GT(brief_first, 0);
  EXPECT_GT(backup_won, 0);
  EXPECT_GT(primary_won, 0);
}

// The checks can fail: a pair whose replies leave before the backup has the log loses, on some
// seeds, a value a client was answered.
TEST(SimPair, TheInvariantsCatchAPairWithoutTheOutputRule) {
  PairScenario scenario = counter_pair();
  scenario.without_output_rule = true;
  int caught = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    caught += !run_pair_scenario(scenario, seed).violations.empty();
  }
  EXPECT_GT(caught, 0);
}

// A primary that goes on alone without asking the arbiter when it loses its backup: in a
// partition both sides go live at once, and the checks say so.
TEST(SimPair, TheInvariantsCatchAPrimaryThatGoesOnWithoutAskingTheArbiter) {
  PairScenario scenario = counter_pair();
  scenario.primary_goes_on_without_asking = true;
  int caught = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    const PairOutcome out = run_pair_scenario(scenario, seed);
    for (const std::string& v : out.violations) {
      caught += v.rfind("two sides live at epoch 1", 0) == 0;
    }
  }
  EXPECT_GT(caught, 0);
}

// Sides that take the arbiter's `ERR cannot persist ...` for a win: with the backup killed and
// the arbiter's disk full as the primary asks, the primary goes on alone at an epoch nobody won,
// and the checks say so. The first such seed from 1 on (53 when the seeds were last counted);
// without the break, the same seed keeps every invariant.
TEST(SimPair, TheInvariantsCatchSidesThatTakeTheArbitersErrorForAWin) {
  PairScenario scenario = counter_pair();
  scenario.errors_are_wins = true;
  const std::vector<std::string> caught{
      "the primary went on alone at epoch 1 without winning it at the arbiter"};
  for (uint64_t seed = 1; seed <= 200; seed++) {
    const PairOutcome out = run_pair_scenario(scenario, seed);
    if (out.violations != caught) continue;
    EXPECT_EQ(out.fault, Fault::kBackupKill) << "seed " << seed;
    EXPECT_TRUE(out.disk_full) << "seed " << seed;
    EXPECT_EQ(run_pair_scenario(counter_pair(), seed).violations, std::vector<std::string>{})
        << "seed " << seed;
    return;
  }
  ADD_FAILURE() << "no seed in 1-200 took an error for a win";
}

TEST(SimPair, OneSeedFailsOverTheSameWayBitForBit) {
  const PairScenario scenario = counter_pair();
  // 2: the backup paused past the peer timeout after two brief faults; 4: the backup's host
  // lost; 15: a partition after a brief fault that cuts both sides off the arbiter, its disk
  // full.
  for (const uint64_t seed : {2, 4, 15}) {
    const PairOutcome a = run_pair_scenario(scenario, seed);
    const PairOutcome b = run_pair_scenario(scenario, seed);
    EXPECT_EQ(a.trace_digest, b.trace_digest) << "seed " << seed;
    EXPECT_EQ(a.went_live_at, b.went_live_at) << "seed " << seed;
    EXPECT_EQ(a.alone_at, b.alone_at) << "seed " << seed;
    EXPECT_EQ(a.answered_after, b.answered_after) << "seed " << seed;
    EXPECT_NE(run_pair_scenario(scenario, seed + 1).trace_digest, a.trace_digest);
  }
  const PairOutcome partition = run_pair_scenario(scenario, 15);
  EXPECT_EQ(partition.fault, Fault::kPartition);
  EXPECT_TRUE(partition.primary_isolated && partition.backup_isolated && partition.disk_full);
}

// The backup paused past the peer timeout: the primary's live side gives it up, wins its epoch
// and goes on alone, serving; the backup, resumed, replays the rest of its log, claims the pair,
// hears it lost, and its run ends without going live.
TEST(SimPair, ABackupPausedPastThePeerTimeoutFindsItLostAndStops) {
  const PairOutcome out = run_pair_scenario(counter_pair(), 2);
  ASSERT_EQ(out.fault, Fault::kBackupPause);
  EXPECT_EQ(out.brief_before, 2);
  EXPECT_EQ(out.violations, std::vector<std::string>{}) << out.trace_tail;
  EXPECT_GT(out.alone_at, out.fault_at);
  EXPECT_EQ(out.went_live_at, Time(0));
  EXPECT_GT(out.lost_at, out.fault_at + out.fault_length) << "the backup asked once resumed";
  EXPECT_GT(out.answered_after, 0u);
}

// The backup gone with its host: the primary's live side hears nothing for the peer timeout,
// asks, and goes on alone at its epoch.
TEST(SimPair, APrimaryWhoseBackupsHostDiesGoesOnAloneAtItsEpoch) {
  const PairOutcome out = run_pair_scenario(counter_pair(), 4);
  ASSERT_EQ(out.fault, Fault::kBackupHostLost);
  EXPECT_EQ(out.violations, std::vector<std::string>{}) << out.trace_tail;
  EXPECT_GT(out.alone_at, out.fault_at + std::chrono::milliseconds(175));
  EXPECT_EQ(out.went_live_at, Time(0));
  EXPECT_GT(out.answered_after, 0u);
}

}  // namespace
}  // namespace vmft::sim
