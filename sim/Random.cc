#include "vmft/sim/Random.h"

namespace vmft::sim {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Random::Random(uint64_t seed) {
  for (uint64_t& word : s_) word = splitmix64(seed);
}

uint64_t Random::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Random::below(uint64_t n) {
  // The largest multiple of n that fits: values at or above it would make the low residues
  // more likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t x = next();
    if (x < limit) return x % n;
  }
}

uint64_t Random::between(uint64_t lo, uint64_t hi) {
  if (hi - lo == UINT64_MAX) return next();
  return lo + below(hi - lo + 1);
}

bool Random::chance(double p) {
  // 53 random bits: every double in [0, 1) with that spacing is equally likely.
  return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
}

Random Random::fork() { return Random(next()); }

}  // namespace vmft::sim
