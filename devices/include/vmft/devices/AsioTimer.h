#pragma once

#include <asio.hpp>
#include <functional>

#include "vmft/devices/HostClock.h"
#include "vmft/devices/Timer.h"

namespace vmft::devices {

/// The timer's host side: an asio steady_timer on the io_context's thread. `fire` is called
/// there with the generation that was armed.
class AsioTimer final : public TimerBackend {
 public:
  AsioTimer(asio::io_context& io, HostClock& clock, std::function<void(uint64_t)> fire)
      : clock_(clock), timer_(io), fire_(std::move(fire)) {}
  void arm(uint64_t deadline_mono_ns, uint64_t generation) override;
  void disarm() override;

 private:
  HostClock& clock_;
  asio::steady_timer timer_;
  std::function<void(uint64_t)> fire_;
};

}  // namespace vmft::devices
