#pragma once
// A guest that runs against the real host (`vmft run`, `vmft record`, and both sides of a
// pair): its settings, parsed, and the run of a guest alone.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vmft/devices/AsioNetwork.h"
#include "vmft/devices/FrameFaults.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/hypervisor/Machine.h"

namespace vmft::host {

/// A guest on this host, as the command line asked for it (checked already).
struct GuestConfig {
  std::string guest;  ///< the ELF file
  uint64_t ram_size = 0;
  std::optional<devices::Endpoint> udp;        ///< the socket NIC's UDP socket, if any
  std::optional<devices::Endpoint> tcp;        ///< the socket NIC's TCP listener, if any
  std::optional<devices::FrameConfig> frames;  ///< the frame NIC instead of udp and tcp
  std::string tap;                             ///< the frame NIC's TAP device
  devices::FrameFaultRates tap_faults;         ///< for tests of a guest's stack
  devices::NetLimits limits;                   ///< the host's limits on TCP clients
  uint64_t digest_interval = hypervisor::kDigestInterval;
  std::string exit_code_file;  ///< where the guest's whole exit code goes; empty: nowhere
};

/// Raises this process's file descriptor limit (the soft RLIMIT_NOFILE, up to the hard one) so
/// that `limits.max_connections` clients fit beside vmft's own descriptors; warns if they
/// cannot.
void make_room_for_connections(const devices::NetLimits& limits);

/// Runs the guest with real clocks, randomness and sockets until it exits or SIGINT/SIGTERM;
/// when `log_path` is not empty, records every input and check there. Returns the exit code.
int run_live(const GuestConfig& config, const std::string& log_path);

/// Logs how a run ended, and returns vmft's exit code for it. A guest that exited has its
/// whole exit code written to `exit_code_file` (if not empty), in decimal and a newline.
int report_run(const hypervisor::RunResult& result, double seconds,
               const std::string& exit_code_file);

/// Removes `path` (if not empty) before a run, so that only a guest that exits leaves it; a
/// file that cannot be removed is a start failure (std::runtime_error).
void clear_exit_code_file(const std::string& path);

/// Where the guest's console goes: vmft's stdout, unbuffered.
void write_console(std::span<const uint8_t> bytes);

/// "SIGINT", "SIGTERM", "SIGHUP", ...: for "received SIGTERM, stopping".
std::string signal_name(int signo);

}  // namespace vmft::host
