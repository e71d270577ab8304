#include "vmft/devices/AsioTimer.h"

#include <chrono>

namespace vmft::devices {

void AsioTimer::arm(uint64_t deadline_mono_ns, uint64_t generation) {
  const uint64_t now = clock_.mono_ns();
  const auto delay = std::chrono::nanoseconds(deadline_mono_ns > now ? deadline_mono_ns - now : 0);
  asio::post(timer_.get_executor(), [this, delay, generation] {
    timer_.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(delay));
    timer_.async_wait([this, generation](const asio::error_code& ec) {
      if (!ec) fire_(generation);
    });
  });
}

void AsioTimer::disarm() {
  asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
}

}  // namespace vmft::devices
