#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace vmft::devices {

/// What `vmft --tap-faults` does to frames on their way in and out, for tests of the guest's
/// stack (the kernel's netem is not available everywhere): each frame is dropped with
/// probability `loss`, sent twice with `duplicate`, or held back until the next frame has
/// passed with `reorder`, by a generator seeded with `seed`. Frames dropped or held on the way
/// in are decided before they become inputs, so a replay and a backup see exactly what the
/// guest saw.
struct FrameFaultRates {
  uint64_t seed = 1;
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;
  bool any() const { return loss > 0 || duplicate > 0 || reorder > 0; }
  bool operator==(const FrameFaultRates&) const = default;
};

/// Parses "loss=0.05,reorder=0.02,duplicate=0.01,seed=7" (any subset, in any order; each rate
/// from 0 to 1). Throws std::invalid_argument naming the bad part.
FrameFaultRates parse_frame_faults(const std::string& text);

/// One direction's faults. Not thread-safe: one caller at a time.
class FrameFaults {
 public:
  using Pass = std::function<void(std::vector<uint8_t>)>;
  explicit FrameFaults(FrameFaultRates rates) : rates_(rates), random_(rates.seed) {}

  /// Passes `frame` on through `pass` zero, one or two times, maybe after a held one.
  void apply(std::vector<uint8_t> frame, const Pass& pass);
  /// Passes on a frame held back for reordering, if there is one (when no next frame came).
  void release(const Pass& pass);
  bool holding() const { return held_.has_value(); }

 private:
  bool roll(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(random_) < p; }

  FrameFaultRates rates_;
  std::mt19937_64 random_;
  std::optional<std::vector<uint8_t>> held_;
};

}  // namespace vmft::devices
