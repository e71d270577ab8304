#include "PairOptions.h"

#include <algorithm>
#include <stdexcept>

#include "Options.h"
#include "vmft/arbiter/Arbiter.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/auth/Secret.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

namespace {

asio::ip::tcp::endpoint tcp_endpoint(const std::string& text) {
  const devices::Endpoint ep = parse_endpoint(text);
  return {asio::ip::address_v4(ep.ip), ep.port};
}

}  // namespace

void add_pair_options(CLI::App& cmd, PairOptions& options) {
  add_live_options(cmd, options.live);
  cmd.add_option("--name", options.name, "The pair's name: primary and backup must agree")
      ->required();
  cmd.add_option("--heartbeat-interval", options.heartbeat_ms,
                 "Milliseconds between heartbeats on the logging channel when nothing else flows")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  cmd.add_option("--peer-timeout", options.peer_timeout_ms,
                 "Milliseconds of silence after which the other side counts as gone")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  cmd.add_option("--log-buffer", options.log_buffer,
                 "Log the backup may lag behind by (primary: unacknowledged; backup: received, "
                 "not yet executed) before the primary's guest is slowed down, 64K to 8M")
      ->capture_default_str();
  cmd.add_option("--arbiter", options.arbiter,
                 "The test-and-set arbiter that decides which side goes on when they lose each "
                 "other: HOST:PORT of `vmft arbiter`, or etcd://HOST:PORT[,HOST:PORT...] of the "
                 "members of an etcd cluster; without one, neither does");
  cmd.add_option("--secret-file", options.secret_file,
                 "A file holding the pair's pre-shared secret (at least 16 bytes; a trailing "
                 "newline is ignored): the logging channel then takes only a peer that proves it "
                 "knows it, and it authenticates to a `vmft arbiter` given the same file (not to "
                 "etcd://, which has its own access control)");
  cmd.add_option("--id", options.id,
                 "This side's id at the arbiter, the same each time it starts (default: "
                 "ROLE@HOST:PORT, PORT that of its --log-listen, or ROLE@HOST for a backup "
                 "without one); the two sides of a pair need different ids");
  cmd.add_option("--events", options.events,
                 "Write lifecycle events (paired, registered, went_live, alone, lost, joined, "
                 "released, exited, ...) to FILE (appended) or fd:N as JSON lines, for programs");
  cmd.add_option("--on-live", options.on_live,
                 "A shell command run when this side goes live (a primary once its guest starts, "
                 "a backup when it takes over), with VMFT_PAIR, VMFT_ID, VMFT_ROLE and VMFT_EPOCH "
                 "set: to move a floating address, say. vmft does not wait for it");
  cmd.add_option("--status-listen", options.status_listen,
                 "Serve GET /metrics (Prometheus) and GET /status (JSON) on HOST:PORT; `vmft "
                 "status HOST:PORT` prints it");
  cmd.add_option("--status-interval", options.status_interval,
                 "Seconds between status lines (0: none; SIGUSR1 asks for one at any time)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
}

host::PairConfig pair_config(const PairOptions& options) {
  host::PairConfig p;
  p.guest = guest_config(options.live);
  p.channel_address = options.channel;
  p.channel_endpoint = tcp_endpoint(options.channel);
  if (!options.listen.empty()) p.listen_endpoint = tcp_endpoint(options.listen);
  if (!options.status_listen.empty()) p.status_endpoint = tcp_endpoint(options.status_listen);
  if (options.join && options.arbiter.empty()) {
    throw std::invalid_argument(
        "--join needs --arbiter: a joined backup becomes part of the pair through a new epoch "
        "there");
  }
  const uint64_t buffer = parse_size(options.log_buffer);
  if (buffer < (64u << 10) || buffer > (8u << 20)) {
    throw std::invalid_argument("--log-buffer must be from 64K to 8M, not " + options.log_buffer);
  }
  arbiter::check_pair_name(options.name);  // it names the pair at the arbiter, and a file there
  if (!options.id.empty()) arbiter::check_holder_id(options.id);
  if (!options.arbiter.empty()) arbiter::parse_arbiter_address(options.arbiter);
  if (options.peer_timeout_ms <= options.heartbeat_ms) {
    throw std::invalid_argument("--peer-timeout must be longer than --heartbeat-interval");
  }
  p.image = hypervisor::load_elf_file(options.live.guest, VMFT_RAM_BASE, p.guest.ram_size);
  p.channel.pair = options.name;
  if (!options.secret_file.empty()) p.channel.secret = auth::read_secret_file(options.secret_file);
  p.channel.header = logchannel::guest_log_header(
      options.live.guest, p.guest.ram_size, p.guest.udp.has_value(), p.guest.tcp.has_value(),
      hypervisor::kDigestInterval, hypervisor::emulator_name(), hypervisor::to_log(p.guest.frames));
  p.channel.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_ms);
  p.channel.peer_timeout = std::chrono::milliseconds(options.peer_timeout_ms);
  p.channel.handshake_timeout = std::max(channel::kMinHandshakeTimeout, 4 * p.channel.peer_timeout);
  p.channel.buffer_bytes = buffer;
  p.channel.max_lag = parse_size(options.max_lag);
  if (p.channel.max_lag != 0 && p.channel.max_lag < 4 * channel::kExecutedReportStep) {
    throw std::invalid_argument("--max-lag must be 0 (no bound) or at least 4M, not " +
                                options.max_lag);
  }
  // The backup says where it is about every millisecond: a tighter bound would hold the guest
  // for the report's own delay.
  if (options.max_lag_time_ms != 0 && options.max_lag_time_ms < 5) {
    throw std::invalid_argument("--max-lag-time must be 0 (no bound) or at least 5 ms, not " +
                                std::to_string(options.max_lag_time_ms));
  }
  p.channel.max_lag_time = std::chrono::milliseconds(options.max_lag_time_ms);
  host::clear_exit_code_file(options.live.exit_code_file);
  p.name = options.name;
  p.id = options.id;
  p.arbiter = options.arbiter;
  p.status_interval = options.status_interval;
  p.on_live = options.on_live;
  p.join = options.join;
  p.wait_for_primary = options.wait_for_primary;
  return p;
}

}  // namespace vmft::cli
