#pragma once

#include <cstdint>

namespace vmft::devices {

/// A device behind one MMIO page. Registers are 64-bit at 8-byte aligned offsets (see
/// guest/include/vmft/guest/abi.h); the hypervisor's MMIO bus turns Unicorn's 32-bit halves
/// into whole-register reads and writes. Called on the vCPU thread only.
class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual const char* name() const = 0;
  /// Reads the register at `offset`; unknown registers read as zero.
  virtual uint64_t read(uint64_t offset) = 0;
  /// Writes the register at `offset`; writes to unknown or read-only registers are ignored.
  virtual void write(uint64_t offset, uint64_t value) = 0;
};

}  // namespace vmft::devices
