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

/// The real clocks for a guest that already read other clocks (a backup that goes live after
/// its primary's): they go on from at least the last values the guest saw, so that its time
/// never runs backwards on a new host, and run at the host's rate from there.
class ContinuedClock final : public HostClock {
 public:
  ContinuedClock(uint64_t last_wall_ns, uint64_t last_mono_ns)
      : wall_offset_(offset(last_wall_ns, system_.wall_ns())),
        mono_offset_(offset(last_mono_ns, system_.mono_ns())) {}
  uint64_t wall_ns() override { return system_.wall_ns() + wall_offset_; }
  uint64_t mono_ns() override { return system_.mono_ns() + mono_offset_; }

 private:
  static uint64_t offset(uint64_t last, uint64_t now) { return last >= now ? last - now + 1 : 0; }

  SystemClock system_;
  uint64_t wall_offset_, mono_offset_;
};

}  // namespace vmft::devices
