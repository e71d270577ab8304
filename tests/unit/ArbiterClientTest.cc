// How a side asks its arbiter: again until it answers, unless a stop comes first; a release
// only for a while.
#include <gtest/gtest.h>

#include "FtFakes.h"
#include "vmft/ft/ArbiterClient.h"

namespace vmft::ft {
namespace {

TEST(ArbiterClient, AsksAgainUntilTheArbiterAnswers) {
  testing::FakeArbiter arbiter;
  testing::FakeClock clock;
  hypervisor::InputQueue inputs;
  arbiter.unavailable = 5;
  ArbiterClient client(arbiter, "arbiter:1", clock);
  const auto result = client.test_and_set("demo", 1, "backup-1", inputs);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->won);
  EXPECT_EQ(arbiter.test_and_sets, 6);
  EXPECT_EQ(clock.slept(), 5 * kArbiterRetry);
}

TEST(ArbiterClient, StopsAskingWhenAStopIsRequested) {
  testing::FakeArbiter arbiter;
  testing::FakeClock clock;
  hypervisor::InputQueue inputs;
  arbiter.unavailable = 1000;
  inputs.request_stop();
  ArbiterClient client(arbiter, "arbiter:1", clock);
  EXPECT_FALSE(client.register_epoch("demo", 0, "primary-1", inputs));
  EXPECT_EQ(arbiter.registers, 1);
}

TEST(ArbiterClient, RegistersTheEpochAfterTheOneTheArbiterHas) {
  testing::FakeArbiter arbiter;
  testing::FakeClock clock;
  hypervisor::InputQueue inputs;
  arbiter.state = {4, arbiter::Mode::kReleased, ""};
  ArbiterClient client(arbiter, "arbiter:1", clock);
  const auto result = client.register_next("demo", "primary-1", inputs);
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->ok);
  EXPECT_EQ(result->state.epoch, 5u);
}

TEST(ArbiterClient, GivesUpAReleaseTheArbiterDoesNotAnswerAfterItsDeadline) {
  testing::FakeArbiter arbiter;
  testing::FakeClock clock;
  arbiter.unavailable = 1000;
  ArbiterClient client(arbiter, "arbiter:1", clock);
  EXPECT_FALSE(client.release("demo", 3, "primary-1"));
  EXPECT_GE(clock.slept(), kReleaseDeadline);
  EXPECT_LT(clock.slept(), kReleaseDeadline + 2 * kArbiterRetry);
}

}  // namespace
}  // namespace vmft::ft
