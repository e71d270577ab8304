#pragma once
// The simulation's one source of chance. Every choice a simulated run makes (a latency, a lost
// message, which fault comes next) is drawn from here, so that a seed fixes the whole run and a
// failing seed fails again, bit for bit. The generator is xoshiro256** seeded through
// SplitMix64, written out rather than taken from <random>: the standard fixes its engines'
// output but not its distributions', which differ between standard libraries.
#include <cstdint>

namespace vmft::sim {

class Random {
 public:
  explicit Random(uint64_t seed);

  /// The next 64 random bits.
  uint64_t next();
  /// Uniform in [0, n); n must be above 0. Unbiased: draws that would favour the low values
  /// are drawn again.
  uint64_t below(uint64_t n);
  /// Uniform in [lo, hi], both included; lo <= hi.
  uint64_t between(uint64_t lo, uint64_t hi);
  /// True with probability p (0 never, 1 always).
  bool chance(double p);
  /// A generator of its own, seeded from this one: a part of the simulation that draws from
  /// it does not shift what the others draw.
  Random fork();

 private:
  uint64_t s_[4];
};

}  // namespace vmft::sim
