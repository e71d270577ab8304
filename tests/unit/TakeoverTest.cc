// A backup whose primary is gone: whether it goes live, and what going live changes for its
// guest.
#include <gtest/gtest.h>

#include "FtFakes.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/Takeover.h"

namespace vmft::testing {
namespace {

using ft::Claim;
using ft::EventKind;

class ClaimPair : public ::testing::Test {
 protected:
  Claim claim(std::optional<uint64_t> epoch, bool with_arbiter = true) {
    return ft::claim_pair("demo", "backup-1", with_arbiter ? &client : nullptr, epoch, 1234, inputs,
                          &events);
  }

  FakeArbiter arbiter;
  FakeClock clock;
  RecordingEvents events;
  hypervisor::InputQueue inputs;
  ft::ArbiterClient client{arbiter, "arbiter:1", clock};
};

TEST_F(ClaimPair, GoesLiveAtTheEpochItWonAtTheArbiter) {
  const Claim c = claim(3);
  EXPECT_EQ(c.result, Claim::Result::kWon);
  EXPECT_EQ(c.epoch, 3u);
  EXPECT_EQ(arbiter.tas_epochs, std::vector<uint64_t>{3});
  // It says it lost its primary; went_live comes once the guest's host is ready.
  ASSERT_EQ(events.kinds(), std::vector<EventKind>{EventKind::kPeerLost});
  EXPECT_EQ(std::get<ft::PeerLost>(events.events()[0]).instruction, 1234u);
}

TEST_F(ClaimPair, ExitsAsLostWhenTheArbiterGaveThePairToItsPrimary) {
  arbiter.tas_wins = false;
  arbiter.state = {3, arbiter::Mode::kAlone, "primary-1"};
  const Claim c = claim(3);
  EXPECT_EQ(c.result, Claim::Result::kDeclined);
  EXPECT_EQ(c.exit_code, ft::kLostPairExitCode);
  ASSERT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kLost}));
  EXPECT_EQ(std::get<ft::Lost>(events.events()[1]).holder, "primary-1");
}

TEST_F(ClaimPair, DeclinesAsBrokenWithNoArbiterToAsk) {
  const Claim c = claim(3, /*with_arbiter=*/false);
  EXPECT_EQ(c.result, Claim::Result::kDeclined);
  EXPECT_EQ(c.exit_code, ft::kPairBrokenExitCode);
  ASSERT_EQ(events.kinds(), (std::vector<EventKind>{EventKind::kPeerLost, EventKind::kBroken}));
  EXPECT_EQ(std::get<ft::Broken>(events.events()[1]).instruction, 1234u);
}

TEST_F(ClaimPair, DeclinesAsBrokenWithoutAnEpochFromItsPrimary) {
  const Claim c = claim(std::nullopt);
  EXPECT_EQ(c.result, Claim::Result::kDeclined);
  EXPECT_EQ(c.exit_code, ft::kPairBrokenExitCode);
  EXPECT_EQ(arbiter.asked(), 0);
}

TEST_F(ClaimPair, DoesNotClaimOnceAStopWasRequested) {
  inputs.request_stop();
  EXPECT_EQ(claim(3).result, Claim::Result::kStopped);
  EXPECT_EQ(arbiter.asked(), 0);
  EXPECT_TRUE(events.events().empty());
}

TEST(Takeover, ContinuesEachClockFromTheLastValueTheGuestReadOfIt) {
  using logchannel::ClockSource;
  hypervisor::Takeover t;
  t.last_clock = {{ClockSource::kWall, 500},
                  {ClockSource::kMono, 100},
                  {ClockSource::kCsrCycle, 300},
                  {ClockSource::kCsrTime, 200}};
  const auto time = ft::continued_time(t);
  EXPECT_EQ(time.wall_ns, 500u);
  EXPECT_EQ(time.mono_ns, 300u);
}

TEST(Takeover, TellsTheGuestThatEachOfItsTcpConnectionsClosed) {
  hypervisor::Takeover t;
  t.open_connections = {3, 9};
  hypervisor::InputQueue inputs;
  ft::reset_connections(t, inputs);
  const auto taken = inputs.take_all();
  ASSERT_EQ(taken.size(), 2u);
  for (size_t i = 0; i < taken.size(); ++i) {
    const auto& event = std::get<devices::NetEvent>(taken[i]);
    EXPECT_EQ(event.kind, VMFT_NIC_KIND_TCP_CLOSE);
    EXPECT_EQ(event.conn, i == 0 ? 3u : 9u);
  }
}

TEST(Takeover, BindsAgainUntilTheOldPrimaryFreesTheGuestsAddresses) {
  FakeClock clock;
  hypervisor::InputQueue inputs;
  int attempts = 0;
  const auto bound = ft::bind_when_free<int>(
      [&] {
        if (++attempts < 3) {
          throw std::system_error(std::make_error_code(std::errc::address_in_use), "bind");
        }
        return std::make_unique<int>(7);
      },
      clock, inputs);
  ASSERT_TRUE(bound);
  EXPECT_EQ(*bound, 7);
  EXPECT_EQ(clock.slept(), 2 * ft::kBindRetry);
}

TEST(Takeover, StopsBindingWhenAStopIsRequested) {
  FakeClock clock;
  hypervisor::InputQueue inputs;
  inputs.request_stop();
  int attempts = 0;
  const auto bound = ft::bind_when_free<int>(
      [&]() -> std::unique_ptr<int> {
        ++attempts;
        throw std::system_error(std::make_error_code(std::errc::address_in_use), "bind");
      },
      clock, inputs);
  EXPECT_FALSE(bound);
  EXPECT_EQ(attempts, 1);
}

}  // namespace
}  // namespace vmft::testing
