#pragma once
// The time the pair's logic reads and waits on: how long a join took, when to say again that
// the arbiter does not answer, how long to wait between attempts. Only SteadyClock reads the
// host's clock; tests (and a simulation) pass one they drive.

#include <chrono>

namespace vmft::ft {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  /// Any thread.
  virtual TimePoint now() = 0;
  /// Blocks the calling thread for `d` of this clock's time.
  virtual void sleep_for(Duration d) = 0;
};

/// The host's monotonic clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() override;
  void sleep_for(Duration d) override;
};

/// Milliseconds from `since` to clock.now(), for messages.
double ms_since(Clock& clock, Clock::TimePoint since);

}  // namespace vmft::ft
