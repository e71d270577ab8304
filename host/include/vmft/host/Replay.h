#pragma once

#include <cstdint>
#include <string>

namespace vmft::host {

/// What `vmft replay` re-executes, and where it stops.
struct ReplayConfig {
  std::string guest;            ///< the guest the log was recorded with
  std::string log;              ///< the log `vmft record` wrote
  uint64_t until = UINT64_MAX;  ///< stop before this instruction and show the registers
  std::string dump_ram;         ///< with `until`: where guest RAM is written; empty: nowhere
};

/// Re-executes the recorded run of `config.log`, feeding the guest every input from it and
/// checking every output, interrupt and state digest; stops at SIGINT or SIGTERM. Returns
/// vmft's exit code.
int replay(const ReplayConfig& config);

}  // namespace vmft::host
