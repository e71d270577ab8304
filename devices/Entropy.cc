#include "vmft/devices/Entropy.h"

#include <sys/random.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "vmft/guest/abi.h"

namespace vmft::devices {

uint64_t SystemEntropy::next() {
  uint64_t value = 0;
  auto* out = reinterpret_cast<uint8_t*>(&value);
  size_t got = 0;
  while (got < sizeof value) {
    const ssize_t n = getrandom(out + got, sizeof value - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<size_t>(n);
  }
  return value;
}

uint64_t Entropy::read(uint64_t offset) {
  return offset == VMFT_ENTROPY_VALUE ? source_.next() : 0;
}

}  // namespace vmft::devices
