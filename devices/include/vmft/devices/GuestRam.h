#pragma once

#include <cstdint>
#include <span>

namespace vmft::devices {

/// A view of guest RAM, which the host owns. Only the vCPU thread may touch the bytes.
class GuestRam {
 public:
  GuestRam() = default;
  GuestRam(uint8_t* host, uint64_t base, uint64_t size) : host_(host), base_(base), size_(size) {}

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint8_t* data() const { return host_; }

  /// The bytes [addr, addr+len) of guest memory, or an empty span when any of them lies
  /// outside RAM (and for len == 0).
  std::span<uint8_t> slice(uint64_t addr, uint64_t len) const {
    if (len == 0 || addr < base_ || addr - base_ > size_ || len > size_ - (addr - base_)) {
      return {};
    }
    return {host_ + (addr - base_), static_cast<size_t>(len)};
  }

 private:
  uint8_t* host_ = nullptr;
  uint64_t base_ = 0;
  uint64_t size_ = 0;
};

}  // namespace vmft::devices
