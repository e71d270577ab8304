// The frame NIC's seeded faults for tests (--tap-faults): what the rates do to a stream of
// frames, the same for the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "vmft/devices/FrameFaults.h"

namespace vmft::testing {
namespace {

using devices::FrameFaultRates;

std::vector<uint8_t> frame(int n) { return {uint8_t(n), uint8_t(n >> 8)}; }

// Frames 0..count-1 through the faults; what comes out, in order.
std::vector<int> passed(FrameFaultRates rates, int count) {
  devices::FrameFaults faults(rates);
  std::vector<int> out;
  const auto pass = [&out](std::vector<uint8_t> f) { out.push_back(f[0] | f[1] << 8); };
  for (int i = 0; i < count; i++) faults.apply(frame(i), pass);
  faults.release(pass);
  return out;
}

TEST(FrameFaults, ParsesRatesAndASeed) {
  const auto r = devices::parse_frame_faults("loss=0.05,reorder=0.02,duplicate=0.01,seed=7");
  EXPECT_EQ(r, (FrameFaultRates{7, 0.05, 0.01, 0.02}));
  EXPECT_EQ(devices::parse_frame_faults("loss=1"), (FrameFaultRates{1, 1, 0, 0}));
  EXPECT_THROW(devices::parse_frame_faults("loss=1.5"), std::invalid_argument);
  EXPECT_THROW(devices::parse_frame_faults("jitter=0.1"), std::invalid_argument);
  EXPECT_THROW(devices::parse_frame_faults("loss"), std::invalid_argument);
  EXPECT_THROW(devices::parse_frame_faults("seed=x"), std::invalid_argument);
}

TEST(FrameFaults, NoRatesPassEveryFrameInOrder) {
  const auto out = passed({}, 100);
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; i++) EXPECT_EQ(out[i], i);
}

TEST(FrameFaults, LossDropsAboutItsShareAndDuplicationAddsAboutIts) {
  EXPECT_NEAR(static_cast<double>(passed({3, 0.1, 0, 0}, 10000).size()), 9000, 300);
  EXPECT_NEAR(static_cast<double>(passed({3, 0, 0.1, 0}, 10000).size()), 11000, 300);
  EXPECT_TRUE(passed({3, 1, 0, 0}, 100).empty());
}

TEST(FrameFaults, ReorderingSwapsAFrameWithTheNextAndLosesNone) {
  const auto out = passed({5, 0, 0, 0.2}, 1000);
  ASSERT_EQ(out.size(), 1000u);
  int swapped = 0;
  for (size_t i = 1; i < out.size(); i++) swapped += out[i] < out[i - 1];
  EXPECT_GT(swapped, 100);
  std::vector<int> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; i++) EXPECT_EQ(sorted[i], i);
}

TEST(FrameFaults, TheSameSeedDoesTheSameAndAnotherSeedDoesNot) {
  const FrameFaultRates rates{11, 0.05, 0.05, 0.05};
  EXPECT_EQ(passed(rates, 2000), passed(rates, 2000));
  FrameFaultRates other = rates;
  other.seed = 12;
  EXPECT_NE(passed(rates, 2000), passed(other, 2000));
}

}  // namespace
}  // namespace vmft::testing
