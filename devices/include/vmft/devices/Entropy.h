#pragma once

#include <cstdint>

#include "vmft/devices/MmioDevice.h"

namespace vmft::devices {

/// A source of random bits for the guest: a nondeterministic input.
class EntropySource {
 public:
  virtual ~EntropySource() = default;
  virtual uint64_t next() = 0;
};

/// Host randomness from getrandom(2).
class SystemEntropy final : public EntropySource {
 public:
  uint64_t next() override;
};

/// The entropy device: each read of VALUE returns 64 fresh bits. Stateless: nothing to
/// snapshot.
class Entropy final : public MmioDevice {
 public:
  explicit Entropy(EntropySource& source) : source_(source) {}
  const char* name() const override { return "entropy"; }
  uint64_t read(uint64_t offset) override;
  void write(uint64_t, uint64_t) override {}

 private:
  EntropySource& source_;
};

}  // namespace vmft::devices
