// A primary's start at the arbiter, with a fake arbiter: whether the pair's name is free for
// it, and registering the pair's epoch once its backup is in sync.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "Fakes.h"
#include "FtFakes.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/PrimaryStart.h"

namespace vmft::testing {
namespace {

class PrimaryStart : public ::testing::Test {
 protected:
  std::optional<int> check() {
    return ft::check_name_is_free(arbiter, "arbiter:1", "demo", "primary-1");
  }
  ft::LiveSide& live_side() {
    spdlog::default_logger();  // before the live side's thread logs (see LiveSideTest)
    side = std::make_unique<ft::LiveSide>(ft::LiveSide::Setup{
        "demo", "primary", "primary-1", &client, end, gate, inputs, clock, &events});
    return *side;
  }

  FakeArbiter arbiter;
  FakeClock clock;
  RecordingEvents events;
  FakePrimaryEnd end;
  RecordingNet net;
  hypervisor::OutputGate gate{net};
  hypervisor::InputQueue inputs;
  ft::ArbiterClient client{arbiter, "arbiter:1", clock};
  std::unique_ptr<ft::LiveSide> side;
};

TEST_F(PrimaryStart, StartsWhenTheArbiterHasNeverHeardOfThePair) {
  EXPECT_EQ(check(), std::nullopt);
}

TEST_F(PrimaryStart, StartsAgainWhenTheArbiterHoldsThePairForThisSide) {
  arbiter.state = {3, arbiter::Mode::kAlone, "primary-1"};
  EXPECT_EQ(check(), std::nullopt);
}

TEST_F(PrimaryStart, StartsWhenThePairWasReleased) {
  arbiter.state = {3, arbiter::Mode::kReleased, ""};
  EXPECT_EQ(check(), std::nullopt);
}

TEST_F(PrimaryStart, DoesNotStartWhenTheArbiterHoldsThePairForAnotherSide) {
  arbiter.state = {3, arbiter::Mode::kPaired, "backup-1"};
  EXPECT_EQ(check(), std::optional<int>(ft::kNameHeldExitCode));
}

TEST_F(PrimaryStart, DoesNotStartWhileTheArbiterDoesNotAnswer) {
  arbiter.unavailable = 1;
  EXPECT_EQ(check(), std::optional<int>(ft::kStartFailedExitCode));
}

TEST_F(PrimaryStart, RegistersTheNextEpochAndSendsItToTheBackup) {
  arbiter.state = {2, arbiter::Mode::kReleased, ""};
  ft::LiveSide& live = live_side();
  EXPECT_EQ(ft::register_pair(client, live, "demo", "primary-1", inputs), std::nullopt);
  EXPECT_EQ(live.epoch(), 3u);
  EXPECT_EQ(end.sent_epochs(), std::vector<uint64_t>{3});
}

TEST_F(PrimaryStart, ExitsAsNameHeldWhenTheArbiterWillNotRegisterThePair) {
  arbiter.register_ok = false;
  arbiter.state = {5, arbiter::Mode::kAlone, "backup-1"};
  ft::LiveSide& live = live_side();
  EXPECT_EQ(ft::register_pair(client, live, "demo", "primary-1", inputs),
            std::optional<int>(ft::kNameHeldExitCode));
  EXPECT_TRUE(end.sent_epochs().empty());
}

TEST_F(PrimaryStart, RegistersNothingOnceAStopWasRequested) {
  arbiter.unavailable = 1;  // so that it would ask again, and sees the stop instead
  inputs.request_stop();
  ft::LiveSide& live = live_side();
  EXPECT_EQ(ft::register_pair(client, live, "demo", "primary-1", inputs),
            std::optional<int>(ft::kOkExitCode));
  EXPECT_EQ(arbiter.registers, 0);
  EXPECT_TRUE(end.sent_epochs().empty());
}

}  // namespace
}  // namespace vmft::testing
