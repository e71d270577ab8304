#pragma once

#include "vmft/devices/HostClock.h"
#include "vmft/devices/MmioDevice.h"

namespace vmft::devices {

/// The clock device: wall and monotonic time, read from the injected HostClock. Stateless:
/// nothing to snapshot.
class Clock final : public MmioDevice {
 public:
  explicit Clock(HostClock& clock) : clock_(clock) {}
  const char* name() const override { return "clock"; }
  uint64_t read(uint64_t offset) override;
  void write(uint64_t, uint64_t) override {}

 private:
  HostClock& clock_;
};

}  // namespace vmft::devices
