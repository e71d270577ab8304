#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "Options.h"
#include "vmft/devices/AsioNetwork.h"
#include "vmft/host/LiveRun.h"
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

/// parse_endpoint, or nullopt for an empty text (an option not given).
std::optional<devices::Endpoint> optional_endpoint(const std::string& text);

/// The guest's settings from its flags, checked in the order a user meets them: --mem, --udp,
/// --tcp, the frame NIC's, the limits on clients. Throws std::invalid_argument naming the flag.
host::GuestConfig guest_config(const LiveOptions& options);

}  // namespace vmft::cli
