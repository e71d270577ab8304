#pragma once

#include <cstdint>

#include "vmft/devices/GuestRam.h"

namespace vmft::hypervisor {

/// Guest RAM owned by the host: an anonymous mapping, zeroed, so nothing uninitialised ever
/// reaches the guest. Unicorn maps it with uc_mem_map_ptr.
class GuestMemory {
 public:
  GuestMemory(uint64_t base, uint64_t size);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  devices::GuestRam view() const { return {data_, base_, size_}; }
  uint8_t* data() const { return data_; }
  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  uint64_t base_;
  uint64_t size_;
};

}  // namespace vmft::hypervisor
