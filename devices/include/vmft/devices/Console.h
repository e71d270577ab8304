#pragma once

#include <functional>
#include <span>

#include "vmft/devices/MmioDevice.h"

namespace vmft::devices {

/// Where console bytes go (stdout for `vmft run`).
using ConsoleSink = std::function<void(std::span<const uint8_t>)>;

/// The console: one byte per TX write, or whole buffers through the console hypercall.
/// Buffers nothing (each byte goes to the sink at once), so a snapshot has nothing to save.
class Console final : public MmioDevice {
 public:
  explicit Console(ConsoleSink sink) : sink_(std::move(sink)) {}
  const char* name() const override { return "console"; }
  uint64_t read(uint64_t) override { return 0; }
  void write(uint64_t offset, uint64_t value) override;
  /// Writes a buffer (the console hypercall).
  void write_bytes(std::span<const uint8_t> bytes) { sink_(bytes); }

 private:
  ConsoleSink sink_;
};

}  // namespace vmft::devices
