// How a side of a pair ends once its guest stopped, with fakes for its channel ends: what
// stops in which order, and the exit code of a stop the side decided itself.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "Fakes.h"
#include "FtFakes.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/SideStop.h"

namespace vmft::testing {
namespace {

using Order = std::vector<std::string>;

class SideStop : public ::testing::Test {
 protected:
  SideStop() { backup.steps = &steps; }

  ft::SideStop stop(bool live, ft::BackupEnd* to_primary) {
    return {nullptr,
            &backup,
            live,
            to_primary,
            [this] { steps.add("stop io"); },
            [this] { steps.add("release the pair"); }};
  }

  Steps steps;
  FakePrimaryEnd backup;
};

TEST_F(SideStop, PrimaryLetsItsLastOutputsLeaveBeforeClosingItsChannelAndReleasingThePair) {
  ft::stop_side(stop(/*live=*/true, nullptr));
  EXPECT_EQ(steps.all(), (Order{"wait for the backup's ack", "close the channel to the backup",
                                "stop io", "release the pair"}));
}

TEST_F(SideStop, SideWhoseBackupIsLostDoesNotWaitForItsAcknowledgement) {
  backup.listen({.peer_lost = [](const std::string&) {}});
  backup.backup_lost("the backup fell silent", /*left=*/false);
  ft::stop_side(stop(/*live=*/true, nullptr));
  EXPECT_EQ(steps.all(), (Order{"close the channel to the backup", "stop io", "release the pair"}));
}

TEST_F(SideStop, LiveBackupSaysGoodbyeToItsPrimaryBeforeClosingTheChannelOfItsOwnBackups) {
  FakeBackupEnd primary(steps);
  ft::stop_side(stop(/*live=*/true, &primary));
  EXPECT_EQ(steps.all(), (Order{"wait for the backup's ack", "wait for the goodbye",
                                "close the channel to the primary",
                                "close the channel to the backup", "stop io", "release the pair"}));
}

TEST_F(SideStop, BackupThatNeverWentLiveHasNoOutputsToWaitFor) {
  FakeBackupEnd primary(steps);
  ft::stop_side(stop(/*live=*/false, &primary));
  EXPECT_EQ(steps.all(), (Order{"wait for the goodbye", "close the channel to the primary",
                                "close the channel to the backup", "stop io", "release the pair"}));
}

TEST_F(SideStop, BackupWithoutListenerClosesOnlyItsChannelToThePrimary) {
  FakeBackupEnd primary(steps);
  ft::stop_side({nullptr, nullptr, false, &primary, [this] { steps.add("stop io"); }, {}});
  EXPECT_EQ(steps.all(),
            (Order{"wait for the goodbye", "close the channel to the primary", "stop io"}));
}

class DecidedExitCode : public ::testing::Test {
 protected:
  ft::LiveSide& start() {
    spdlog::default_logger();  // before the live side's thread logs (see LiveSideTest)
    side = std::make_unique<ft::LiveSide>(ft::LiveSide::Setup{
        "demo", "primary", "primary-1", nullptr, end, gate, inputs, clock, &events});
    return *side;
  }

  FakePrimaryEnd end;
  FakeClock clock;
  RecordingEvents events;
  RecordingNet net;
  hypervisor::OutputGate gate{net};
  hypervisor::InputQueue inputs;
  std::unique_ptr<ft::LiveSide> side;
};

TEST_F(DecidedExitCode, RunThatWasNotStoppedEndsWithItsOwnOutcome) {
  EXPECT_EQ(ft::decided_exit_code(/*stopped=*/false, ft::kLostPairExitCode, nullptr, &gate),
            std::nullopt);
}

TEST_F(DecidedExitCode, BackupThatDeclinedToGoLiveExitsWithTheCodeItDeclinedWith) {
  EXPECT_EQ(ft::decided_exit_code(true, ft::kLostPairExitCode, nullptr, nullptr),
            std::optional<int>(ft::kLostPairExitCode));
}

TEST_F(DecidedExitCode, StopNobodyDecidedEndsWithTheRunsOwnOutcome) {
  ft::LiveSide& live = start();
  live.paired(1);
  EXPECT_EQ(ft::decided_exit_code(true, 0, &live, &gate), std::nullopt);
}

TEST_F(DecidedExitCode, BrokenPairLetsTheHeldOutputsLeaveAsNoSideGoesOn) {
  ft::LiveSide& live = start();
  live.paired(1);
  gate.hold_until(1);
  gate.send_udp(1, 2, {'h', 'i'});
  ASSERT_EQ(gate.held(), 1u);
  end.backup_lost("the backup fell silent", /*left=*/false);  // no arbiter: broken
  ASSERT_TRUE(eventually([&] { return inputs.stop_requested(); }));
  live.stop();
  EXPECT_EQ(ft::decided_exit_code(true, 0, &live, &gate),
            std::optional<int>(ft::kPairBrokenExitCode));
  EXPECT_EQ(gate.held(), 0u);
  EXPECT_EQ(net.sent.size(), 1u);
}

}  // namespace
}  // namespace vmft::testing
