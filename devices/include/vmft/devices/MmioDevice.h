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
  /// A hash of the device's guest-visible state, for state digests. Stateless devices: 0.
  virtual uint64_t state_hash() const { return 0; }
};

/// Folds `value` into the running hash `h` (splitmix64's finaliser): for state_hash().
inline uint64_t hash_combine(uint64_t h, uint64_t value) {
  uint64_t z = h + 0x9e3779b97f4a7c15ULL + value;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace vmft::devices
