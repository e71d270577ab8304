// Where a primary's log ended among the frames its backup's TAP device heard
// (devices::after_last_logged): the frames after it are those a failover hands the guest.
#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "vmft/devices/TapNetwork.h"

namespace vmft::testing {
namespace {

using Frames = std::deque<std::vector<uint8_t>>;

std::vector<uint8_t> f(uint8_t n) { return {0x02, n, n}; }

TEST(HeardFrames, TheFramesAfterTheLastLoggedOneAreTheMissedOnes) {
  const Frames heard = {f(1), f(2), f(3), f(4), f(5)};
  EXPECT_EQ(devices::after_last_logged(heard, {f(2), f(3)}), 3u);
  EXPECT_EQ(devices::after_last_logged(heard, {f(4), f(5)}), 5u);  // none missed
}

TEST(HeardFrames, AnEqualFrameIsToldApartByTheOneBeforeIt) {
  // f(7) twice: the log's last two frames, f(1) then f(7), end at the first.
  const Frames heard = {f(1), f(7), f(2), f(7), f(3)};
  EXPECT_EQ(devices::after_last_logged(heard, {f(1), f(7)}), 2u);
  EXPECT_EQ(devices::after_last_logged(heard, {f(2), f(7)}), 4u);
  // With one frame logged, the latest: what it may wrongly skip, TCP resends.
  EXPECT_EQ(devices::after_last_logged(heard, {f(7)}), 4u);
}

TEST(HeardFrames, AFrameNeverHeardOrANewLogFindsNoPlace) {
  const Frames heard = {f(1), f(2)};
  EXPECT_EQ(devices::after_last_logged(heard, {f(9)}), std::nullopt);
  EXPECT_EQ(devices::after_last_logged(heard, {f(9), f(2)}), std::nullopt);  // not after f(9)
  EXPECT_EQ(devices::after_last_logged(heard, {}), std::nullopt);
  EXPECT_EQ(devices::after_last_logged({}, {f(1)}), std::nullopt);
}

TEST(HeardFrames, TheFirstHeardFrameMayBeTheLastLoggedOne) {
  // Heard from the log's last frame on: its predecessor was not heard, and need not be.
  EXPECT_EQ(devices::after_last_logged({f(5), f(6)}, {f(4), f(5)}), 1u);
}

}  // namespace
}  // namespace vmft::testing
