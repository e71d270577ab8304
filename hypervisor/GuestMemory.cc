#include "vmft/hypervisor/GuestMemory.h"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>

namespace vmft::hypervisor {

GuestMemory::GuestMemory(uint64_t base, uint64_t size) : base_(base), size_(size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), "cannot allocate guest RAM");
  }
  data_ = static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() { munmap(data_, size_); }

}  // namespace vmft::hypervisor
