#include "vmft/devices/Timer.h"

#include "vmft/guest/abi.h"

namespace vmft::devices {

uint64_t Timer::read(uint64_t offset) {
  switch (offset) {
    case VMFT_TIMER_COMPARE: return compare_;
    case VMFT_TIMER_PENDING: return pending_ ? 1 : 0;
    default: return 0;
  }
}

void Timer::write(uint64_t offset, uint64_t value) {
  if (offset != VMFT_TIMER_COMPARE) return;
  compare_ = value;
  pending_ = false;
  ++generation_;
  if (compare_ == VMFT_TIMER_DISARMED) {
    backend_.disarm();
  } else {
    backend_.arm(compare_, generation_);
  }
}

uint64_t Timer::state_hash() const {
  return hash_combine(hash_combine(hash_combine(0, compare_), generation_), pending_);
}

void Timer::expire(uint64_t generation) {
  if (generation == generation_ && compare_ != VMFT_TIMER_DISARMED) pending_ = true;
}

void Timer::restore(const TimerState& state) {
  compare_ = state.compare;
  generation_ = state.generation;
  pending_ = state.pending;
  if (compare_ != VMFT_TIMER_DISARMED && !pending_) backend_.arm(compare_, generation_);
}

}  // namespace vmft::devices
