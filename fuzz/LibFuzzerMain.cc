// libFuzzer's entry points for one target, chosen at compile time: fuzz/CMakeLists.txt builds
// this file once per target with VMFT_FUZZ_ENTRY naming its function.
#include <cstddef>
#include <cstdint>

#include "FuzzTargets.h"

#ifndef VMFT_FUZZ_ENTRY
#error "VMFT_FUZZ_ENTRY must name a function of FuzzTargets.h"
#endif

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vmft::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmft::fuzz::VMFT_FUZZ_ENTRY(vmft::fuzz::Bytes(data, size));
  return 0;
}
