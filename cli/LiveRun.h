#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "Options.h"
#include "vmft/devices/AsioNetwork.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/hypervisor/Machine.h"

namespace vmft::cli {

/// The flags of a guest that runs against the real host (`vmft run`, `vmft record`, and both
/// sides of a pair).
struct LiveOptions {
  std::string guest;
  std::string udp;
  std::string tcp;
  std::string mem = "64M";
  uint64_t digest_interval = hypervisor::kDigestInterval;  ///< set by `vmft record` only
  // The host's limits on TCP clients (devices::NetLimits):
  uint32_t max_connections = devices::NetLimits::kDefaultMaxConnections;
  std::string max_unread_bytes = "16M";
  double idle_timeout = 0;  ///< seconds; 0: never
  // The frame NIC, instead of --udp and --tcp (parse_frame_nic):
  std::string tap;  ///< the TAP device's name; empty: the socket NIC
  std::string guest_mac;
  std::string guest_ip;  ///< ADDR/PREFIX
  std::string gateway;
  uint32_t mtu = kDefaultMtu;
  std::string tap_faults;      ///< for tests: devices::parse_frame_faults
  std::string exit_code_file;  ///< where the guest's whole exit code goes; empty: nowhere
};

/// Adds the guest argument and --udp, --tcp, --mem, --max-connections, --max-unread-bytes,
/// --idle-timeout, --exit-code-file and the frame NIC's --tap, --guest-mac, --guest-ip,
/// --gateway and --mtu to `cmd`.
void add_live_options(CLI::App& cmd, LiveOptions& options);

/// The frame NIC's settings, or nullopt for the socket NIC. Throws std::invalid_argument for
/// flags that do not go together (--tap with --udp, --guest-ip without --tap, ...) or a bad
/// value.
std::optional<devices::FrameConfig> frame_nic(const LiveOptions& options);

/// The host's limits on TCP clients from `options`. Throws std::invalid_argument naming the
/// flag that is out of range.
devices::NetLimits net_limits(const LiveOptions& options);

/// Raises this process's file descriptor limit (the soft RLIMIT_NOFILE, up to the hard one) so
/// that `limits.max_connections` clients fit beside vmft's own descriptors; warns if they
/// cannot.
void make_room_for_connections(const devices::NetLimits& limits);

/// Runs the guest with real clocks, randomness and sockets until it exits or SIGINT/SIGTERM;
/// when `log_path` is not empty, records every input and check there. Returns the exit code.
int run_live(const LiveOptions& options, const std::string& log_path);

/// Logs how a run ended, and returns vmft's exit code for it. A guest that exited has its
/// whole exit code written to `exit_code_file` (if not empty), in decimal and a newline.
int report_run(const hypervisor::RunResult& result, double seconds,
               const std::string& exit_code_file);

/// Removes `path` (if not empty) before a run, so that only a guest that exits leaves it; a
/// file that cannot be removed is a start failure (std::runtime_error).
void clear_exit_code_file(const std::string& path);

/// parse_endpoint, or nullopt for an empty text (an option not given).
std::optional<devices::Endpoint> optional_endpoint(const std::string& text);

/// Where the guest's console goes: vmft's stdout, unbuffered.
void write_console(std::span<const uint8_t> bytes);

}  // namespace vmft::cli
