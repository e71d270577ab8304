// The guest SDK's word-at-a-time memcpy, memmove and memset (guest/sdk/string.c) against the
// host's, for every length up to a few words past the unrolled loop and every alignment of
// source and destination, overlapping both ways for memmove.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

extern "C" {
void* vmft_test_memcpy(void* dst, const void* src, size_t n);
void* vmft_test_memmove(void* dst, const void* src, size_t n);
void* vmft_test_memset(void* dst, int c, size_t n);
}

namespace {

// Bytes that differ everywhere, so that a byte out of place shows.
std::vector<unsigned char> pattern(size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<unsigned char>(i * 131 + seed * 7 + 1);
  return v;
}

// Buffers with room around what is copied: the word loads of a misaligned copy read the rest
// of the aligned words the source starts and ends in.
constexpr size_t kPad = 16, kMaxLen = 200;

TEST(GuestString, MemcpyCopiesEveryLengthAtEveryAlignment) {
  for (size_t so = 0; so < 8; so++) {
    for (size_t d = 0; d < 8; d++) {
      for (size_t n = 0; n <= kMaxLen; n++) {
        auto src = pattern(kPad + kMaxLen + kPad, unsigned(so + n));
        auto ours = pattern(kPad + kMaxLen + kPad, 99), theirs = ours;
        EXPECT_EQ(vmft_test_memcpy(ours.data() + kPad + d, src.data() + kPad + so, n),
                  ours.data() + kPad + d);
        std::memcpy(theirs.data() + kPad + d, src.data() + kPad + so, n);
        ASSERT_EQ(ours, theirs) << "source +" << so << ", destination +" << d << ", " << n;
      }
    }
  }
}

TEST(GuestString, MemmoveCopiesOverlappingRangesBothWays) {
  for (size_t from = 0; from < 24; from++) {
    for (size_t to = 0; to < 24; to++) {
      for (size_t n = 0; n <= kMaxLen; n += (n < 40 ? 1 : 13)) {
        auto ours = pattern(kPad + 24 + kMaxLen + kPad, unsigned(n));
        auto theirs = ours;
        EXPECT_EQ(vmft_test_memmove(ours.data() + kPad + to, ours.data() + kPad + from, n),
                  ours.data() + kPad + to);
        std::memmove(theirs.data() + kPad + to, theirs.data() + kPad + from, n);
        ASSERT_EQ(ours, theirs) << "from +" << from << " to +" << to << ", " << n;
      }
    }
  }
}

TEST(GuestString, MemsetFillsEveryLengthAtEveryAlignment) {
  for (size_t d = 0; d < 8; d++) {
    for (size_t n = 0; n <= kMaxLen; n++) {
      auto ours = pattern(kPad + kMaxLen + kPad, 5), theirs = ours;
      EXPECT_EQ(vmft_test_memset(ours.data() + kPad + d, 0x1a5, n), ours.data() + kPad + d);
      std::memset(theirs.data() + kPad + d, 0x1a5, n);
      ASSERT_EQ(ours, theirs) << "destination +" << d << ", " << n;
    }
  }
}

}  // namespace
