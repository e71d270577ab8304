#include "vmft/devices/Console.h"

#include "vmft/guest/abi.h"

namespace vmft::devices {

void Console::write(uint64_t offset, uint64_t value) {
  if (offset != VMFT_CONSOLE_TX) return;
  const uint8_t byte = static_cast<uint8_t>(value);
  sink_({&byte, 1});
}

}  // namespace vmft::devices
