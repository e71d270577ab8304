#include "LiveOptions.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "Options.h"
#include "vmft/devices/FrameFaults.h"

namespace vmft::cli {

std::optional<devices::Endpoint> optional_endpoint(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_endpoint(text);
}

namespace {

// Far more than one process serves well; above it a typo more likely than a plan.
constexpr uint32_t kMaxConnectionsLimit = 1000000;
// 30 days: a longer idle timeout is no timeout.
constexpr double kMaxIdleTimeoutSeconds = 30 * 86400;

}  // namespace

void add_live_options(CLI::App& cmd, LiveOptions& options) {
  cmd.add_option("guest", options.guest, "Guest program: a RISC-V RV64IM ELF executable")
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_option("--exit-code-file", options.exit_code_file,
                 "When the guest exits, write its whole exit code here (vmft's own exit status "
                 "has only its low 8 bits, and vmft's own codes share them); removed at start, "
                 "so no file means the guest did not exit");
  cmd.add_option("--udp", options.udp,
                 "Give the guest a UDP socket bound to HOST:PORT (port 0: any free port)");
  cmd.add_option("--tcp", options.tcp,
                 "Give the guest a TCP listener on HOST:PORT (port 0: any free port)");
  cmd.add_option("--tap", options.tap,
                 "Give the guest a frame NIC on this TAP device instead of --udp and --tcp: it "
                 "gets Ethernet frames and runs its own TCP/IP stack (needs CAP_NET_ADMIN; "
                 "scripts/netlab makes a lab)");
  cmd.add_option("--guest-ip", options.guest_ip,
                 "With --tap: the guest's IPv4 address and prefix length, e.g. 198.18.0.10/24");
  cmd.add_option("--guest-mac", options.guest_mac,
                 "With --tap: the guest's MAC address (default: 02:00 and the four bytes of "
                 "--guest-ip)");
  cmd.add_option("--gateway", options.gateway,
                 "With --tap: the guest's IPv4 gateway (default: none)");
  cmd.add_option("--mtu", options.mtu, "With --tap: the largest IP packet a frame carries")
      ->capture_default_str();
  cmd.add_option("--tap-faults", options.tap_faults,
                 "With --tap, for tests of a guest's stack: drop, duplicate or reorder frames both "
                 "ways at these rates, e.g. loss=0.05,duplicate=0.01,reorder=0.02,seed=7");
  cmd.add_option("--mem", options.mem, "Guest RAM size, e.g. 64M or 1G")->capture_default_str();
  cmd.add_option("--max-connections", options.max_connections,
                 "TCP connections the host keeps open at once; the next is sent \"-ERR vmft: too "
                 "many connections\" and closed, unseen by the guest")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxConnectionsLimit));
  cmd.add_option("--max-unread-bytes", options.max_unread_bytes,
                 "Replies a TCP client may leave unread (64K to 4G); a client further behind is "
                 "disconnected and the guest told it closed")
      ->capture_default_str();
  cmd.add_option("--idle-timeout", options.idle_timeout,
                 "Seconds after which a TCP connection that moved no byte either way is closed "
                 "and the guest told so, e.g. a client that vanished without closing (0: never; at "
                 "most 30 days)")
      ->capture_default_str();
}

std::optional<devices::FrameConfig> frame_nic(const LiveOptions& options) {
  if (options.tap.empty()) {
    for (const auto& [flag, value] : {std::pair{"--guest-ip", &options.guest_ip},
                                      {"--guest-mac", &options.guest_mac},
                                      {"--gateway", &options.gateway},
                                      {"--tap-faults", &options.tap_faults}}) {
      if (!value->empty()) throw std::invalid_argument(std::string(flag) + " needs --tap");
    }
    if (options.mtu != kDefaultMtu) throw std::invalid_argument("--mtu needs --tap");
    return std::nullopt;
  }
  if (!options.udp.empty() || !options.tcp.empty()) {
    throw std::invalid_argument(
        "--tap gives the guest a frame NIC, which replaces --udp and --tcp: use one or the "
        "other");
  }
  if (!options.tap_faults.empty()) devices::parse_frame_faults(options.tap_faults);
  return parse_frame_nic(options.guest_ip, options.guest_mac, options.gateway, options.mtu);
}

devices::NetLimits net_limits(const LiveOptions& options) {
  devices::NetLimits limits;
  if (options.max_connections < 1 || options.max_connections > kMaxConnectionsLimit) {
    throw std::invalid_argument("--max-connections must be from 1 to " +
                                std::to_string(kMaxConnectionsLimit));
  }
  limits.max_connections = options.max_connections;
  const uint64_t unread = parse_size(options.max_unread_bytes);
  // Below one largest send (64 KiB) a single reply would disconnect its client.
  if (unread < (64u << 10) || unread > (4ULL << 30)) {
    throw std::invalid_argument("--max-unread-bytes must be from 64K to 4G, not " +
                                options.max_unread_bytes);
  }
  limits.max_unread_bytes = unread;
  if (!(options.idle_timeout >= 0 && options.idle_timeout <= kMaxIdleTimeoutSeconds)) {
    throw std::invalid_argument("--idle-timeout must be from 0 to " +
                                std::to_string(static_cast<int>(kMaxIdleTimeoutSeconds)) +
                                " seconds");
  }
  limits.idle_timeout = std::chrono::milliseconds(std::llround(options.idle_timeout * 1000));
  if (options.idle_timeout > 0 && limits.idle_timeout.count() == 0) {
    throw std::invalid_argument("--idle-timeout must be 0 (never) or at least 0.001 seconds");
  }
  return limits;
}

host::GuestConfig guest_config(const LiveOptions& options) {
  host::GuestConfig config;
  config.guest = options.guest;
  config.ram_size = parse_ram_size(options.mem);
  config.udp = optional_endpoint(options.udp);  // bad flags are refused before the guest loads
  config.tcp = optional_endpoint(options.tcp);
  config.frames = frame_nic(options);
  config.limits = net_limits(options);
  config.tap = options.tap;
  if (!options.tap_faults.empty())
    config.tap_faults = devices::parse_frame_faults(options.tap_faults);
  config.digest_interval = options.digest_interval;
  config.exit_code_file = options.exit_code_file;
  return config;
}

}  // namespace vmft::cli
