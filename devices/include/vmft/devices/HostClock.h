#pragma once

#include <chrono>
#include <cstdint>

namespace vmft::devices {

/// The host's clocks as the guest sees them. Every value read is a nondeterministic input.
class HostClock {
 public:
  virtual ~HostClock() = default;
  /// Nanoseconds since the Unix epoch.
  virtual uint64_t wall_ns() = 0;
  /// Nanoseconds since the VM booted; never goes backwards.
  virtual uint64_t mono_ns() = 0;
};

/// The real clocks. The only place in vmft that reads the host time for the guest.
class SystemClock final : public HostClock {
 public:
  SystemClock() : boot_(std::chrono::steady_clock::now()) {}
  uint64_t wall_ns() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
  uint64_t mono_ns() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now() - boot_)
                                     .count());
  }

 private:
  std::chrono::steady_clock::time_point boot_;
};

}  // namespace vmft::devices
