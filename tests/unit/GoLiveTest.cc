// A backup whose primary is gone going live, with fakes for the arbiter and for its host: the
// claim first, then the host's steps in one order, and nothing of the host for a backup that
// does not go live.
#include <gtest/gtest.h>

#include "Fakes.h"
#include "FtFakes.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/GoLive.h"
#include "vmft/hypervisor/LiveRole.h"

namespace vmft::testing {
namespace {

using ft::EventKind;
using Order = std::vector<std::string>;

class GoLive : public ::testing::Test {
 protected:
  GoLive() {
    arbiter.state = {4, arbiter::Mode::kPaired, "primary-1"};
    takeover.icount = 1234;
    takeover.highest_connection = 7;
  }

  ft::GoLiveOutcome go_live(bool with_arbiter = true) {
    return ft::go_live({"demo", "backup-1", with_arbiter ? &client : nullptr, 4, inputs, &events},
                       takeover, host);
  }
  void console_not_released(const std::string& text) {
    takeover.unreleased_console.emplace_back(takeover.unreleased_console.size() + 1,
                                             std::vector<uint8_t>(text.begin(), text.end()));
  }

  FakeArbiter arbiter;
  FakeClock clock;
  RecordingEvents events;
  hypervisor::InputQueue inputs;
  ft::ArbiterClient client{arbiter, "arbiter:1", clock};
  SteppingClock guest_clock;
  FixedEntropy entropy{7};
  ImmediateTimer timer{inputs, 0};
  RecordingNet net;
  hypervisor::LiveRole live_role{{guest_clock, entropy, timer, net}, inputs, nullptr};
  Steps steps;
  FakeLiveHost host{steps, live_role};
  hypervisor::Takeover takeover;
};

TEST_F(GoLive, WinnerTakesOverItsHostStepByStepThenSaysItWentLive) {
  console_not_released("last line\n");
  const ft::GoLiveOutcome outcome = go_live();
  EXPECT_EQ(outcome.role, &live_role);
  EXPECT_EQ(outcome.epoch, 4u);
  EXPECT_EQ(steps.all(), (Order{"start clocks", "bind network", "take over frames", "write console",
                                "start live role at epoch 4", "start network", "live at epoch 4",
                                "run on-live at epoch 4"}));
  // peer_lost is the claim's (ClaimPair's tests); went_live comes once the host is ready.
  ASSERT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kWentLive}));
  const auto went = std::get<ft::WentLive>(events.events()[1]);
  EXPECT_EQ(went.epoch, 4u);
  EXPECT_EQ(went.instruction, 1234u);
}

TEST_F(GoLive, NewConnectionsOfTheGuestGetIdsAfterThoseItKnew) {
  go_live();
  EXPECT_EQ(host.first_conn, 8u);
}

TEST_F(GoLive, GuestHearsItsConnectionsClosedBeforeItRunsLive) {
  takeover.open_connections = {3};
  go_live();
  const auto taken = inputs.take_all();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(std::get<devices::NetEvent>(taken[0]).kind, VMFT_NIC_KIND_TCP_CLOSE);
}

TEST_F(GoLive, BackupThatLostTheClaimTouchesNothingOfItsHost) {
  arbiter.tas_wins = false;
  console_not_released("last line\n");
  const ft::GoLiveOutcome outcome = go_live();
  EXPECT_EQ(outcome.role, nullptr);
  EXPECT_EQ(outcome.declined_exit_code, ft::kLostPairExitCode);
  EXPECT_TRUE(steps.all().empty());  // the winner writes that console output, not this side
  EXPECT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kLost}));
}

TEST_F(GoLive, BackupWithNoArbiterWritesTheConsoleOutputThePrimaryMayNotHaveWritten) {
  console_not_released("one\n");
  console_not_released("two\n");
  const ft::GoLiveOutcome outcome = go_live(/*with_arbiter=*/false);
  EXPECT_EQ(outcome.role, nullptr);
  EXPECT_EQ(outcome.declined_exit_code, ft::kPairBrokenExitCode);
  EXPECT_EQ(steps.all(), (Order{"write console", "write console"}));
  ASSERT_EQ(host.console.size(), 2u);
  EXPECT_EQ(std::string(host.console[1].begin(), host.console[1].end()), "two\n");
}

TEST_F(GoLive, StopWhileTheOldPrimaryHoldsTheAddressesEndsWithoutGoingLive) {
  host.stopped_while_binding = true;
  const ft::GoLiveOutcome outcome = go_live();
  EXPECT_EQ(outcome.role, nullptr);
  EXPECT_EQ(outcome.declined_exit_code, 0);
  EXPECT_EQ(steps.all(), (Order{"start clocks", "bind network"}));
  EXPECT_EQ(events.kinds(), std::vector<EventKind>{EventKind::kPeerLost});
}

}  // namespace
}  // namespace vmft::testing
