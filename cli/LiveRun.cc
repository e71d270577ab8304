#include "LiveRun.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <asio.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "HostNetwork.h"
#include "Logging.h"
#include "Options.h"
#include "vmft/devices/AsioNetwork.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/FrameFaults.h"
#include "vmft/devices/HostClock.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

void clear_exit_code_file(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) throw std::runtime_error("cannot remove --exit-code-file " + path + ": " + ec.message());
}

int report_run(const hypervisor::RunResult& result, double seconds,
               const std::string& exit_code_file) {
  using Outcome = hypervisor::RunResult::Outcome;
  switch (result.outcome) {
    case Outcome::kExited:
      spdlog::info("guest exited with code {} after {} instructions in {:.3f} s", result.exit_code,
                   result.instructions, seconds);
      if (!exit_code_file.empty()) {
        std::ofstream out(exit_code_file);
        out << result.exit_code << "\n";
        out.close();
        if (!out) spdlog::error("cannot write --exit-code-file {}", exit_code_file);
      }
      return result.exit_code & 0xff;
    case Outcome::kFaulted: spdlog::error("{}", result.report); return ft::kFaultExitCode;
    case Outcome::kStopped:
      spdlog::info("stopped after {} instructions in {:.3f} s", result.instructions, seconds);
      return 0;
    case Outcome::kDiverged: spdlog::error("{}", result.report); return ft::kDivergedExitCode;
    case Outcome::kUntil: break;  // a live run is never given --until
  }
  return ft::kFaultExitCode;
}

std::optional<devices::Endpoint> optional_endpoint(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_endpoint(text);
}

namespace {

// Far more than one process serves well; above it a typo more likely than a plan.
constexpr uint32_t kMaxConnectionsLimit = 1000000;
// 30 days: a longer idle timeout is no timeout.
constexpr double kMaxIdleTimeoutSeconds = 30 * 86400;

std::unique_ptr<logchannel::LogWriter> open_log(const std::string& path, const LiveOptions& options,
                                                uint64_t ram_size) {
  if (path.empty()) return nullptr;
  return std::make_unique<logchannel::LogWriter>(
      path, logchannel::guest_log_header(options.guest, ram_size, !options.udp.empty(),
                                         !options.tcp.empty(), options.digest_interval,
                                         hypervisor::emulator_name(),
                                         hypervisor::to_log(frame_nic(options))));
}

}  // namespace

void write_console(std::span<const uint8_t> bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

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

void make_room_for_connections(const devices::NetLimits& limits) {
  // vmft's own descriptors: the listeners, the logging channel, the arbiter, logs, epoll.
  constexpr rlim_t kOwnDescriptors = 64;
  const rlim_t needed = limits.max_connections + kOwnDescriptors;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  rlimit raised = limit;
  raised.rlim_cur = std::min(needed, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  if (limit.rlim_cur >= needed) return;
  spdlog::warn(
      "--max-connections {} needs about {} file descriptors, but this process may open only {} "
      "(ulimit -n): a connection beyond that waits to be accepted until another closes",
      limits.max_connections, needed, limit.rlim_cur);
}

int run_live(const LiveOptions& options, const std::string& log_path) {
  const uint64_t ram_size = parse_ram_size(options.mem);
  optional_endpoint(options.udp);  // bad flags are refused before the guest loads
  optional_endpoint(options.tcp);
  const auto frames = frame_nic(options);
  const devices::NetLimits limits = net_limits(options);
  clear_exit_code_file(options.exit_code_file);
  hypervisor::GuestImage image;
  try {
    image = hypervisor::load_elf_file(options.guest, VMFT_RAM_BASE, ram_size);
  } catch (const hypervisor::ElfError& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  hypervisor::InputQueue inputs;
  // Before anything is announced: from the first "listening" line on, SIGTERM stops cleanly.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&inputs](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signal_name(signo));
    inputs.request_stop();
  });

  devices::SystemClock clock;
  devices::SystemEntropy entropy;
  devices::AsioTimer timer(io, clock,
                           [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
  std::unique_ptr<HostNetwork> net;
  try {
    net = std::make_unique<HostNetwork>(io, options, limits, inputs);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  if (!frames) make_room_for_connections(limits);
  const auto log = open_log(log_path, options, ram_size);
  net->log_addresses();

  hypervisor::LiveRole role({clock, entropy, timer, net->backend()}, inputs, log.get());
  hypervisor::Machine machine(std::move(image), {ram_size, write_console, options.digest_interval},
                              role);
  net->start();
  std::thread io_thread([&io] { io.run(); });

  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  io.stop();
  io_thread.join();
  if (role.log_error()) {
    spdlog::error("recording failed, so the guest was stopped after {} instructions: {}",
                  result.instructions, *role.log_error());
    return ft::kStartFailedExitCode;
  }
  if (log) {
    spdlog::info("log {}: {} bytes, {:.0f} bytes/s", log_path, log->bytes_written(),
                 static_cast<double>(log->bytes_written()) / std::max(seconds, 1e-9));
  }
  return report_run(result, seconds, options.exit_code_file);
}

}  // namespace vmft::cli
