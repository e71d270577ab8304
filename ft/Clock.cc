#include "vmft/ft/Clock.h"

#include <thread>

namespace vmft::ft {

Clock::TimePoint SteadyClock::now() { return std::chrono::steady_clock::now(); }

void SteadyClock::sleep_for(Duration d) { std::this_thread::sleep_for(d); }

double ms_since(Clock& clock, Clock::TimePoint since) {
  return std::chrono::duration<double, std::milli>(clock.now() - since).count();
}

}  // namespace vmft::ft
