// The live side of a pair with fakes for its channel end, arbiter, clock and events: what it
// does when its backup goes, and when one joins.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "Fakes.h"
#include "FtFakes.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/LiveSide.h"

namespace vmft::testing {
namespace {

using ft::Alone;
using ft::ArbiterClient;
using ft::Broken;
using ft::EventKind;
using ft::Joined;
using ft::kArbiterRetry;
using ft::Lost;
using ft::PeerLost;
using ft::Registered;
using State = ft::LiveSide::State;

class LiveSide : public ::testing::Test {
 protected:
  ft::LiveSide& start(bool with_arbiter) {
    // spdlog makes its registry at its first use; vmft's main does that before any thread
    // starts, and so does this, before the live side's thread logs beside the test's.
    spdlog::default_logger();
    if (with_arbiter) client = std::make_unique<ArbiterClient>(arbiter, "arbiter:1", clock);
    side = std::make_unique<ft::LiveSide>(ft::LiveSide::Setup{
        "demo", "primary", "primary-1", client.get(), end, gate, inputs, clock, &events});
    return *side;
  }
  // The live side decides on its thread: its state changes, then it says so.
  bool emitted(const std::vector<EventKind>& kinds) {
    return eventually([&] { return events.kinds() == kinds; });
  }
  bool stops() {
    return eventually([&] { return inputs.stop_requested(); });
  }

  FakePrimaryEnd end;
  FakeArbiter arbiter;
  FakeClock clock;
  RecordingEvents events;
  RecordingNet net;
  hypervisor::OutputGate gate{net};
  hypervisor::InputQueue inputs;
  std::unique_ptr<ArbiterClient> client;
  std::unique_ptr<ft::LiveSide> side;
};

TEST_F(LiveSide, GoesOnAloneAtOnceWhenItsBackupLeavesWithNoArbiter) {
  ft::LiveSide& live = start(false);
  live.paired(1);
  end.backup_lost("the backup said goodbye", /*left=*/true);
  EXPECT_EQ(live.state(), State::kAlone);
  // With no arbiter to register a new epoch with, a joiner could never make the pair whole.
  EXPECT_EQ(end.accepting_joiners(), 0);
  EXPECT_FALSE(end.accepting());
  ASSERT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kAlone}));
  EXPECT_EQ(std::get<PeerLost>(events.events()[0]).reason, "the backup said goodbye");
  const auto alone = std::get<Alone>(events.events()[1]);
  EXPECT_EQ(alone.epoch, 1u);
  EXPECT_EQ(alone.reason, "the backup left");
}

TEST_F(LiveSide, WinsTheEpochAtTheArbiterBeforeGoingOnAloneWhenItsBackupLeaves) {
  ft::LiveSide& live = start(true);
  live.paired(4);
  end.backup_lost("the backup said goodbye", /*left=*/true);
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kAlone}));
  EXPECT_EQ(live.state(), State::kAlone);
  EXPECT_EQ(arbiter.tas_epochs, std::vector<uint64_t>{4});
  EXPECT_EQ(end.accepting_joiners(), 1);
  EXPECT_EQ(std::get<Alone>(events.events()[1]).reason, "the backup left");
  EXPECT_FALSE(inputs.stop_requested());
}

TEST_F(LiveSide, HaltsWithTheLostEventWhenTheArbiterGaveThePairToItsBackup) {
  arbiter.tas_wins = false;
  arbiter.state = {3, arbiter::Mode::kAlone, "backup-9"};
  ft::LiveSide& live = start(true);
  live.paired(3);
  end.backup_lost("the backup fell silent", /*left=*/false);
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kLost}));
  EXPECT_EQ(live.state(), State::kLost);
  EXPECT_TRUE(stops());
  EXPECT_EQ(end.accepting_joiners(), 0);
  EXPECT_FALSE(end.accepting()) << "a side that lost takes no backup";
  const auto lost = std::get<Lost>(events.events()[1]);
  EXPECT_EQ(lost.epoch, 3u);
  EXPECT_EQ(lost.holder, "backup-9");
  EXPECT_EQ(live.stop_exit_code(), std::optional<int>(ft::kLostPairExitCode));
}

TEST_F(LiveSide, StopsAsBrokenWhenItLosesItsBackupWithNoArbiterToDecide) {
  ft::LiveSide& live = start(false);
  live.paired(0);
  end.backup_lost("the backup fell silent", /*left=*/false);
  EXPECT_EQ(live.state(), State::kBroken);
  EXPECT_TRUE(stops());
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kBroken}));
  EXPECT_EQ(std::get<Broken>(events.events()[1]).reason, "the backup fell silent");
  EXPECT_EQ(live.stop_exit_code(), std::optional<int>(ft::kPairBrokenExitCode));
}

TEST_F(LiveSide, KeepsAskingAnArbiterThatDoesNotAnswerAndActsOnlyOnItsAnswer) {
  arbiter.unavailable = 3;
  ft::LiveSide& live = start(true);
  live.paired(2);
  end.backup_lost("the backup fell silent", /*left=*/false);
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kAlone}));
  EXPECT_EQ(live.state(), State::kAlone);
  EXPECT_EQ(arbiter.test_and_sets, 4);
  EXPECT_EQ(clock.slept(), 3 * kArbiterRetry);
  EXPECT_EQ(std::get<Alone>(events.events()[1]).reason, "the backup was lost");
}

TEST_F(LiveSide, GoesOnAloneAgainWithoutTheArbiterWhenAJoiningBackupGoesBeforeItIsInStep) {
  ft::LiveSide& live = start(true);
  live.alone(5);
  end.backup_joins(7);
  EXPECT_EQ(live.state(), State::kJoining);
  end.backup_lost("the joining backup hung up", /*left=*/false);
  EXPECT_EQ(live.state(), State::kAlone);
  EXPECT_EQ(end.accepting_joiners(), 2);
  ASSERT_TRUE(emitted({EventKind::kJoinStarted, EventKind::kPeerLost, EventKind::kAlone}));
  const auto alone = std::get<Alone>(events.events()[2]);
  EXPECT_EQ(alone.epoch, 5u);
  EXPECT_EQ(alone.reason, "the joining backup is gone");
  live.stop();
  EXPECT_EQ(arbiter.asked(), 0);
}

TEST_F(LiveSide, RegistersANewEpochOnceAJoinedBackupIsInStepAndSaysJoinedWhenItHasIt) {
  arbiter.state = {5, arbiter::Mode::kAlone, "primary-1"};
  ft::LiveSide& live = start(true);
  live.alone(5);
  end.backup_joins(7);
  end.joiner_in_sync();
  ASSERT_TRUE(eventually([&] { return end.sent_epochs() == std::vector<uint64_t>{6}; }));
  EXPECT_EQ(live.state(), State::kPaired);
  EXPECT_EQ(live.epoch(), 6u);
  EXPECT_EQ(live.joins(), 1u);
  EXPECT_EQ(events.kinds(), std::vector<EventKind>{EventKind::kJoinStarted});
  end.backup_has_epoch(6);
  ASSERT_TRUE(emitted({EventKind::kJoinStarted, EventKind::kJoined}));
  EXPECT_EQ(std::get<Joined>(events.events()[1]).epoch, 6u);
}

TEST_F(LiveSide, HaltsWhenTheArbiterWillNotRegisterTheBackupThatJoined) {
  arbiter.register_ok = false;
  arbiter.state = {8, arbiter::Mode::kAlone, "backup-2"};
  ft::LiveSide& live = start(true);
  live.alone(5);
  end.backup_joins(7);
  end.joiner_in_sync();
  ASSERT_TRUE(emitted({EventKind::kJoinStarted, EventKind::kLost}));
  EXPECT_EQ(live.state(), State::kLost);
  EXPECT_TRUE(stops());
  const auto lost = std::get<Lost>(events.events()[1]);
  EXPECT_EQ(lost.epoch, 8u);
  EXPECT_EQ(lost.holder, "backup-2");
}

TEST_F(LiveSide, AnnouncesARegisteredEpochOnlyOnceTheBackupHasIt) {
  ft::LiveSide& live = start(true);
  live.paired(1);
  live.announce_epoch(1, "pair 'demo' registered at the arbiter at epoch 1", Registered{1});
  EXPECT_EQ(end.sent_epochs(), std::vector<uint64_t>{1});
  end.backup_has_epoch(0);  // not the one announced
  EXPECT_TRUE(events.events().empty());
  end.backup_has_epoch(1);
  ASSERT_TRUE(emitted({EventKind::kRegistered}));
  EXPECT_EQ(std::get<Registered>(events.events()[0]).epoch, 1u);
}

TEST_F(LiveSide, HoldsThePairToReleaseOnlyAtARegisteredEpochItHasNotLost) {
  ft::LiveSide& live = start(false);
  live.paired(0);
  EXPECT_FALSE(live.holds_pair());
  live.paired(2);
  EXPECT_TRUE(live.holds_pair());
  end.backup_lost("the backup fell silent", /*left=*/false);
  EXPECT_FALSE(live.holds_pair());
}

TEST_F(LiveSide, IgnoresALostBackupOnceItRunsAlone) {
  ft::LiveSide& live = start(true);
  live.paired(1);
  end.backup_lost("the backup fell silent", /*left=*/false);
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kAlone}));
  EXPECT_EQ(live.state(), State::kAlone);
  end.backup_lost("the backup fell silent again", /*left=*/false);
  EXPECT_EQ(live.state(), State::kAlone);
  EXPECT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kAlone}));
}

TEST_F(LiveSide, ReleasesThePairItHoldsWhenItStopsAndSaysSo) {
  ft::LiveSide& live = start(true);
  live.paired(2);
  live.stop();
  EXPECT_EQ(live.stop_exit_code(), std::nullopt);
  EXPECT_TRUE(live.release_if_held());
  EXPECT_EQ(arbiter.releases, 1);
  EXPECT_EQ(arbiter.state.mode, arbiter::Mode::kReleased);
  ASSERT_TRUE(emitted({EventKind::kReleased}));
  EXPECT_EQ(std::get<ft::Released>(events.events()[0]).epoch, 2u);
}

TEST_F(LiveSide, LeavesAPairItLostAsItIsWhenItStops) {
  arbiter.tas_wins = false;
  arbiter.state = {3, arbiter::Mode::kAlone, "backup-9"};
  ft::LiveSide& live = start(true);
  live.paired(3);
  end.backup_lost("the backup fell silent", /*left=*/false);
  ASSERT_TRUE(emitted({EventKind::kPeerLost, EventKind::kLost}));
  live.stop();
  EXPECT_FALSE(live.release_if_held());
  EXPECT_EQ(arbiter.releases, 0);
}

}  // namespace
}  // namespace vmft::testing
