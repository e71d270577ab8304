#include "vmft/devices/Clock.h"

#include "vmft/guest/abi.h"

namespace vmft::devices {

uint64_t Clock::read(uint64_t offset) {
  switch (offset) {
    case VMFT_CLOCK_WALL_NS: return clock_.wall_ns();
    case VMFT_CLOCK_MONO_NS: return clock_.mono_ns();
    default: return 0;
  }
}

}  // namespace vmft::devices
