// The Internet checksum the stack computes eight bytes at a time (checksum.c) against the
// tests' own byte-by-byte one (FrameBuilders.h), on every length and alignment.
#include <gtest/gtest.h>

#include <random>

#include "FrameBuilders.h"

extern "C" {
#include "vnet_internal.h"
}

namespace vmft::net_test {
namespace {

TEST(VnetChecksum, AgreesWithTheByteByByteSumOnEveryLengthAndAlignment) {
  std::mt19937 random(1071);
  Frame buffer(1600);
  for (auto& b : buffer) b = uint8_t(random());
  for (size_t offset = 0; offset < 8; offset++) {
    for (size_t len = 0; len <= 1514; len += (len < 80 ? 1 : 37)) {
      const Frame data(buffer.begin() + long(offset), buffer.begin() + long(offset + len));
      EXPECT_EQ(vnet_csum_finish(vnet_csum_add(0, buffer.data() + offset, len)),
                internet_checksum(data))
          << "length " << len << ", offset " << offset;
    }
  }
}

TEST(VnetChecksum, ChainsAfterAnEvenPrefixAsOneSum) {
  Frame all(100);
  for (size_t i = 0; i < all.size(); i++) all[i] = uint8_t(0xf0 + i * 7);
  for (size_t split = 0; split < all.size(); split += 2) {
    const uint32_t prefix = vnet_csum_add(0, all.data(), split);
    EXPECT_EQ(vnet_csum_finish(vnet_csum_add(prefix, all.data() + split, all.size() - split - 1)),
              internet_checksum(Frame(all.begin(), all.end() - 1)))
        << "split at " << split;
  }
}

TEST(VnetChecksum, AllOnesStaysAllOnes) {
  const Frame ones(1500, 0xff);
  EXPECT_EQ(vnet_csum_finish(vnet_csum_add(0xffffffffu, ones.data(), ones.size())),
            internet_checksum(ones, 0xffffffffu));
}

}  // namespace
}  // namespace vmft::net_test
