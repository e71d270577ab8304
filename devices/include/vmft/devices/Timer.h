#pragma once

#include <cstdint>

#include "vmft/devices/MmioDevice.h"

namespace vmft::devices {

/// Host side of the timer: arranges for Timer::expire(generation) to be called (through the
/// VM's input queue) once the monotonic clock reaches the deadline.
class TimerBackend {
 public:
  virtual ~TimerBackend() = default;
  virtual void arm(uint64_t deadline_mono_ns, uint64_t generation) = 0;
  virtual void disarm() = 0;
};

/// The timer: one compare register in monotonic nanoseconds; its interrupt stays pending
/// until the guest writes the compare register again.
class Timer final : public MmioDevice {
 public:
  explicit Timer(TimerBackend& backend) : backend_(backend) {}
  const char* name() const override { return "timer"; }
  uint64_t read(uint64_t offset) override;
  void write(uint64_t offset, uint64_t value) override;
  uint64_t state_hash() const override;

  /// The host timer armed for `generation` went off. Stale generations are ignored.
  void expire(uint64_t generation);
  bool interrupt_pending() const { return pending_; }

 private:
  TimerBackend& backend_;
  uint64_t compare_ = UINT64_MAX;
  uint64_t generation_ = 0;
  bool pending_ = false;
};

}  // namespace vmft::devices
