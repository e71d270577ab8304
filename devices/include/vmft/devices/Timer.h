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

/// Everything that decides the timer's future, for snapshots.
struct TimerState {
  uint64_t compare = UINT64_MAX;  ///< VMFT_TIMER_DISARMED
  uint64_t generation = 0;
  bool pending = false;
  bool operator==(const TimerState&) const = default;
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

  TimerState save() const { return {compare_, generation_, pending_}; }
  /// Takes `state` from a snapshot. A timer that is armed and has not fired yet is armed on
  /// the host side again, as the guest's last write armed it where the snapshot was taken.
  void restore(const TimerState& state);

 private:
  TimerBackend& backend_;
  uint64_t compare_ = UINT64_MAX;
  uint64_t generation_ = 0;
  bool pending_ = false;
};

}  // namespace vmft::devices
