// vmft primary / vmft backup: the two halves of a fault-tolerant pair. The primary runs the
// guest against the real host and streams its log to the backup, holding every output until
// the backup has the log up to it; the backup replays that log as it arrives.
#include "PairCommand.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "ConsoleWriter.h"
#include "HostNetwork.h"
#include "LiveRun.h"
#include "Logging.h"
#include "Options.h"
#include "Redundancy.h"
#include "vmft/arbiter/Arbiter.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/auth/Secret.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/logchannel/Channel.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

namespace {

using Clock = std::chrono::steady_clock;

// How often the primary tells its backup how far it got when nothing else does: about a
// millisecond of a CPU-bound guest.
constexpr uint64_t kProgressInterval = 1 << 20;
// Between attempts to bind an address the old primary still holds.
constexpr auto kBindRetry = std::chrono::milliseconds(20);

struct PairOptions {
  LiveOptions live;
  std::string name;
  std::string channel;  ///< --log-listen (primary) or --log-connect (backup)
  uint32_t heartbeat_ms = 25;
  uint32_t peer_timeout_ms = 200;
  std::string log_buffer = "8M";
  std::string max_lag = "16M";    ///< primary only
  uint32_t max_lag_time_ms = 10;  ///< primary only
  double status_interval = 10;    ///< seconds
  std::string arbiter;            ///< the arbiter's address (ConnectArbiter.h); empty: none
  std::string listen;             ///< backup: --log-listen, where backups join it once live
  bool join = false;              ///< backup: join a running primary
  std::string secret_file;        ///< --secret-file; empty: none
};

asio::ip::tcp::endpoint tcp_endpoint(const std::string& text) {
  const devices::Endpoint ep = parse_endpoint(text);
  return {asio::ip::address_v4(ep.ip), ep.port};
}

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
  cmd.add_option("--status-interval", options.status_interval,
                 "Seconds between status lines (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
}

// Everything a side needs before its guest starts: the checked options, the guest image, and
// the channel's configuration. Throws std::invalid_argument or ElfError for bad input.
struct Prepared {
  uint64_t ram_size = 0;
  hypervisor::GuestImage image;
  logchannel::ChannelConfig channel;
  devices::NetLimits limits;  ///< for the guest's sockets, whenever this side binds them
  asio::ip::tcp::endpoint channel_endpoint;
  std::optional<asio::ip::tcp::endpoint> listen_endpoint;  ///< a backup's --log-listen
};

Prepared prepare(const PairOptions& options) {
  Prepared p;
  p.ram_size = parse_ram_size(options.live.mem);
  if (!options.live.udp.empty()) parse_endpoint(options.live.udp);
  if (!options.live.tcp.empty()) parse_endpoint(options.live.tcp);
  const auto frames = frame_nic(options.live);
  p.limits = net_limits(options.live);
  p.channel_endpoint = tcp_endpoint(options.channel);
  if (!options.listen.empty()) p.listen_endpoint = tcp_endpoint(options.listen);
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
  if (!options.arbiter.empty()) arbiter::parse_arbiter_address(options.arbiter);
  if (options.peer_timeout_ms <= options.heartbeat_ms) {
    throw std::invalid_argument("--peer-timeout must be longer than --heartbeat-interval");
  }
  p.image = hypervisor::load_elf_file(options.live.guest, VMFT_RAM_BASE, p.ram_size);
  p.channel.pair = options.name;
  if (!options.secret_file.empty()) p.channel.secret = auth::read_secret_file(options.secret_file);
  p.channel.header = logchannel::guest_log_header(
      options.live.guest, p.ram_size, !options.live.udp.empty(), !options.live.tcp.empty(),
      hypervisor::kDigestInterval, hypervisor::emulator_name(), hypervisor::to_log(frames));
  p.channel.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_ms);
  p.channel.peer_timeout = std::chrono::milliseconds(options.peer_timeout_ms);
  p.channel.handshake_timeout =
      std::max(logchannel::kMinHandshakeTimeout, 4 * p.channel.peer_timeout);
  p.channel.buffer_bytes = buffer;
  p.channel.max_lag = parse_size(options.max_lag);
  if (p.channel.max_lag != 0 && p.channel.max_lag < 4 * logchannel::kExecutedReportStep) {
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
  return p;
}

// asio on its own thread, SIGINT/SIGTERM as a stop request, and a status line at a steady
// interval.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), signals_(io_, SIGINT, SIGTERM), status_(io_) {}
  ~IoThread() { stop(); }

  asio::io_context& io() { return io_; }

  void on_signal(std::function<void()> f) {
    signals_.async_wait([f = std::move(f)](const asio::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
      f();
    });
  }

  void every(double seconds, std::function<void(double)> f) {
    if (seconds <= 0) return;
    status_fn_ = std::move(f);
    interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    asio::post(io_, [this] { schedule(); });
  }

  void start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void schedule() {
    status_.expires_after(interval_);
    status_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      status_fn_(std::chrono::duration<double>(interval_).count());
      schedule();
    });
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::signal_set signals_;
  asio::steady_timer status_;
  Clock::duration interval_{};
  std::function<void(double)> status_fn_;
  std::thread thread_;
};

double kb_per_s(uint64_t bytes, double seconds) { return bytes / 1024.0 / seconds; }

// The output rule on the live side of a pair: what the guest sends or writes to its console
// leaves once the backup has acknowledged the log through it, and the backup then hears how
// far it has left (so that, taking over, it writes again only console output the primary may
// not have written).
void release_on_ack(logchannel::ChannelPrimary& channel, hypervisor::OutputGate& gate,
                    const ConsoleWriter& console) {
  channel.on_ack([&channel, &gate, &console](uint64_t seq) {
    gate.acknowledged(seq);
    channel.released(console.released_through(gate.left_through()));
  });
}

// The live side's console: the gate releases it to a writer of its own.
hypervisor::OutputGate::Console to(ConsoleWriter& console) {
  return [&console](uint64_t seq, std::span<const uint8_t> bytes) { console.write(seq, bytes); };
}

// Console output a backup executed while the primary may not yet have written it: the backup
// writes it when it goes on (live, or stopping with the pair broken), so that none is lost.
void write_unreleased_console(const hypervisor::Takeover& t) {
  if (t.unreleased_console.empty()) return;
  spdlog::info("writing {} console write(s) of the guest that the primary may not have written",
               t.unreleased_console.size());
  for (const auto& [seq, bytes] : t.unreleased_console) write_console(bytes);
}

// Who this process is, to the arbiter.
std::string process_id(const char* role) {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return fmt::format("{}@{}:{}", role, host, getpid());
}

std::unique_ptr<arbiter::Arbiter> connect_arbiter(const PairOptions& options,
                                                  const std::string& secret) {
  if (options.arbiter.empty()) return nullptr;
  return arbiter::connect_arbiter(options.arbiter, secret);
}

const char* state_name(Redundancy::State state) {
  switch (state) {
    case Redundancy::State::kPaired: return "paired";
    case Redundancy::State::kDeciding: return "asking the arbiter";
    case Redundancy::State::kAlone: return "alone";
    case Redundancy::State::kJoining: return "a backup joins";
    case Redundancy::State::kBroken:
    case Redundancy::State::kLost: return "stopping";
  }
  return "?";
}

// A status line of the live side of a pair (a primary, or a backup that went live).
void log_live_status(const char* side, const logchannel::ChannelStats& s, Redundancy::State state,
                     const hypervisor::OutputGate& gate, uint64_t& last_bytes, double seconds) {
  if (state != Redundancy::State::kPaired) {
    spdlog::info("{} ({}): instruction {}, outputs held {}", side, state_name(state), s.progress,
                 gate.held());
  } else {
    spdlog::info(
        "{}: instruction {}, log #{} acknowledged #{}, backup at instruction {} "
        "(lag {}), outputs held {}, log {:.1f} KB/s, waited for the backup {} times",
        side, s.progress, s.last_seq, s.acked_seq, s.peer_icount,
        s.progress > s.peer_icount ? s.progress - s.peer_icount : 0, gate.held(),
        kb_per_s(s.bytes_sent - last_bytes, seconds), s.lag_waits);
  }
  last_bytes = s.bytes_sent;
}

int run_primary(const PairOptions& options) {
  Prepared p;
  try {
    p = prepare(options);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }
  IoThread io;
  hypervisor::InputQueue inputs;
  std::unique_ptr<logchannel::ChannelPrimary> channel;
  std::unique_ptr<HostNetwork> net;
  devices::SystemClock clock;
  devices::SystemEntropy entropy;
  devices::AsioTimer timer(io.io(), clock,
                           [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
  try {
    net = std::make_unique<HostNetwork>(io.io(), options.live, p.limits, inputs);
    channel = std::make_unique<logchannel::ChannelPrimary>(io.io(), p.channel_endpoint, p.channel);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }
  // Before the guest runs, a stop ends the wait for a backup; once it runs, the guest stops and
  // the primary sends its backup the end of the log.
  std::atomic<bool> guest_started{false};
  io.on_signal([&] {
    inputs.request_stop();
    if (!guest_started) channel->shutdown();
  });
  const auto arbiter = connect_arbiter(options, p.channel.secret);
  const std::string me = process_id("primary");
  make_room_for_connections(p.limits);
  ConsoleWriter console(write_console);
  hypervisor::OutputGate gate(net->backend(), to(console));
  release_on_ack(*channel, gate, console);
  // When the backup is lost: without an arbiter, stop; with one, test-and-set and go on alone
  // (taking backups that join) or halt.
  Redundancy redundancy(
      {options.name, "primary", me, options.arbiter, arbiter.get(), *channel, gate, inputs});
  // On every way out: no more io callbacks (which post to it), then its thread.
  struct StopThreads {
    IoThread& io;
    Redundancy& redundancy;
    ~StopThreads() {
      io.stop();
      redundancy.stop();
    }
  } stop_threads{io, redundancy};
  net->log_addresses();
  const auto log_ep = channel->local_endpoint();
  spdlog::info("primary of pair '{}': listening on log {}:{}, waiting for the backup", options.name,
               log_ep.address().to_string(), log_ep.port());
  io.start();
  if (!channel->wait_for_backup()) return 0;  // stopped before a backup came
  guest_started = true;
  redundancy.paired(0);
  if (inputs.stop_requested()) return 0;
  if (arbiter) {
    const auto registered = ask_arbiter(options.arbiter, inputs, [&] {
      return arbiter->register_epoch(options.name, arbiter->read(options.name).epoch, me);
    });
    if (!registered) return 0;  // stopped
    if (!registered->ok) {
      spdlog::error(
          "the arbiter will not register pair '{}' for this primary: it is at {}. Use "
          "another --name, or an arbiter that does not know this pair",
          options.name, arbiter::describe(registered->state));
      return kUsageExitCode;
    }
    redundancy.paired(registered->state.epoch);
    redundancy.announce_epoch(registered->state.epoch,
                              fmt::format("pair '{}' registered at the arbiter at epoch {}",
                                          options.name, registered->state.epoch));
  }

  hypervisor::LiveRole role({clock, entropy, timer, net->backend()}, inputs, channel.get(), &gate);
  role.report_progress_every(kProgressInterval);
  hypervisor::Machine machine(
      std::move(p.image),
      {p.ram_size, [&gate](std::span<const uint8_t> bytes) { gate.write_console(bytes); },
       hypervisor::kDigestInterval},
      role);
  redundancy.set_machine(machine, [&role] { return role.last_seq(); });
  uint64_t last_bytes = 0;
  io.every(options.status_interval, [&](double seconds) {
    log_live_status("primary", channel->stats(), redundancy.state(), gate, last_bytes, seconds);
  });
  net->start();
  const auto started = Clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  redundancy.stop();  // before the machine goes: a join works on it
  // So that the last outputs leave: they wait for the backup to have the log's end.
  if (!channel->lost()) channel->wait_acknowledged(std::chrono::seconds(5));
  channel->shutdown();
  io.stop();
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (stopped && redundancy.state() == Redundancy::State::kLost) return kLostPairExitCode;
  if (stopped && redundancy.state() == Redundancy::State::kBroken) {
    gate.open();  // no side goes on without an arbiter: what waited for the backup may leave
    return kPairBrokenExitCode;
  }
  return report_run(result, seconds);
}

// What a backup that won the pair runs on: this host's clocks (continuing the primary's),
// randomness, timer and the client-facing sockets.
struct LiveSide {
  std::unique_ptr<devices::ContinuedClock> clock;
  devices::SystemEntropy entropy;
  std::unique_ptr<devices::AsioTimer> timer;
  std::unique_ptr<HostNetwork> net;
  /// With --log-listen: the outputs wait for a backup that joins, and what decides about it.
  std::unique_ptr<ConsoleWriter> console;
  std::unique_ptr<hypervisor::OutputGate> gate;
  std::unique_ptr<Redundancy> redundancy;
  std::unique_ptr<hypervisor::LiveRole> role;
};

// Binds the guest's sockets (or opens its TAP device), retrying while the old primary still
// holds the addresses; null if a stop was requested first.
std::unique_ptr<HostNetwork> bind_when_free(const PairOptions& options,
                                            const devices::NetLimits& limits, asio::io_context& io,
                                            hypervisor::InputQueue& inputs, uint32_t first_conn) {
  bool said = false;
  for (;;) {
    try {
      return std::make_unique<HostNetwork>(io, options.live, limits, inputs, first_conn);
    } catch (const std::system_error& e) {
      if (!said) spdlog::warn("{}; trying again until it is free", e.what());
      said = true;
    }
    if (inputs.stop_requested()) return nullptr;
    std::this_thread::sleep_for(kBindRetry);
  }
}

uint64_t last_clock(const hypervisor::Takeover& t,
                    std::initializer_list<logchannel::ClockSource> of) {
  uint64_t last = 0;
  for (auto source : of) {
    if (auto it = t.last_clock.find(source); it != t.last_clock.end())
      last = std::max(last, it->second);
  }
  return last;
}

int run_backup(const PairOptions& options) {
  Prepared p;
  try {
    p = prepare(options);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }
  make_room_for_connections(p.limits);  // now: a backup may go live at any time
  IoThread io;
  hypervisor::InputQueue inputs;
  logchannel::ChannelBackup channel(io.io(), p.channel);
  // Where backups join this one once it is live; until then it refuses them.
  std::unique_ptr<logchannel::ChannelPrimary> listener;
  if (p.listen_endpoint) {
    try {
      listener = std::make_unique<logchannel::ChannelPrimary>(
          io.io(), *p.listen_endpoint, p.channel, logchannel::ChannelPrimary::Accepting::kNothing);
    } catch (const std::system_error& e) {
      spdlog::error("{}", e.what());
      return kUsageExitCode;
    }
  }
  io.on_signal([&] {
    inputs.request_stop();
    channel.shutdown();
  });
  channel.on_peer_lost([](const std::string& why) { spdlog::warn("{}", why); });
  const auto arbiter = connect_arbiter(options, p.channel.secret);
  const std::string me = process_id("backup");
  int declined_code = 0;
  LiveSide live;
  // On the frame NIC the TAP device opens now and keeps what it hears: where the switch floods
  // the guest's frames to both sides, those its primary took but never logged are among them,
  // and going live hands them to the guest instead of waiting for the clients to resend.
  if (!options.live.tap.empty()) {
    try {
      live.net = std::make_unique<HostNetwork>(io.io(), options.live, p.limits, inputs);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return kUsageExitCode;
    }
    live.net->standby();
  }
  std::atomic<bool> went_live{false};
  hypervisor::Machine* machine = nullptr;
  // On every way out, the io thread stops before what its handlers use is destroyed, and a
  // join's thread before the machine goes.
  struct StopThreads {
    IoThread& io;
    LiveSide& live;
    ~StopThreads() {
      io.stop();
      if (live.redundancy) live.redundancy->stop();
    }
  } stop_threads{io, live};
  io.start();
  if (listener) {
    const auto ep = listener->local_endpoint();
    spdlog::info("listening on log {}:{} for backups that join this one once it is live",
                 ep.address().to_string(), ep.port());
  }
  spdlog::info("backup of pair '{}': {} the primary at {}", options.name,
               options.join ? "joining" : "connecting to", options.channel);
  std::optional<logchannel::ChannelBackup::JoinStart> joined;
  try {
    if (options.join) {
      joined = channel.join(p.channel_endpoint);
      if (!joined) return 0;  // stopped first
    } else if (!channel.connect(p.channel_endpoint)) {
      return 0;  // stopped first
    }
  } catch (const logchannel::ChannelUnauthenticated& e) {
    spdlog::error("this backup exits: {}", e.what());
    return kUsageExitCode;
  } catch (const logchannel::ChannelRefused& e) {
    spdlog::error("the primary at {} refused this backup: {}", options.channel, e.what());
    return kUsageExitCode;
  } catch (const logchannel::LogError& e) {
    spdlog::error("{}", e.what());
    return kPairBrokenExitCode;
  }
  std::optional<hypervisor::MachineSnapshot> snapshot;
  if (joined) {
    try {
      snapshot = hypervisor::decode_snapshot(joined->snapshot);
    } catch (const hypervisor::SnapshotError& e) {
      spdlog::error("the primary's snapshot is unusable: {}", e.what());
      return kPairBrokenExitCode;
    }
    snapshot->ram = std::move(joined->ram);
    spdlog::info("backup: joined the primary at {} at instruction {}", options.channel,
                 snapshot->icount);
  } else {
    spdlog::info("backup: paired with the primary at {}", options.channel);
  }

  // The primary is gone and every record it sent has run: go live if the arbiter says so.
  auto go_live = [&](const hypervisor::Takeover& t) -> hypervisor::Role* {
    const auto epoch = channel.epoch();
    if (!arbiter || !epoch) {
      spdlog::error("the backup executed every record it received, up to instruction {}; {}",
                    t.icount,
                    arbiter ? "no epoch the primary registered with this backup reached it, so "
                              "it has nothing to claim at the arbiter and does not go live"
                            : "with no arbiter to decide, it does not go live");
      if (!arbiter) write_unreleased_console(t);  // no side goes on: nothing may be lost
      declined_code = kPairBrokenExitCode;
      return nullptr;
    }
    spdlog::warn(
        "the backup executed every record it received, up to instruction {}; asking the "
        "arbiter at {} for pair '{}' at epoch {}",
        t.icount, options.arbiter, options.name, *epoch);
    const auto result = ask_arbiter(
        options.arbiter, inputs, [&] { return arbiter->test_and_set(options.name, *epoch, me); });
    if (!result) return nullptr;  // stopped
    if (!result->won) {
      spdlog::error("the arbiter gave pair '{}' to the other side ({}): this backup exits",
                    options.name, arbiter::describe(result->state));
      declined_code = kLostPairExitCode;
      return nullptr;
    }
    using logchannel::ClockSource;
    live.clock = std::make_unique<devices::ContinuedClock>(
        last_clock(t, {ClockSource::kWall}),
        last_clock(t, {ClockSource::kMono, ClockSource::kCsrTime, ClockSource::kCsrCycle}));
    live.timer = std::make_unique<devices::AsioTimer>(
        io.io(), *live.clock,
        [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
    if (!live.net)
      live.net = bind_when_free(options, p.limits, io.io(), inputs, t.highest_connection + 1);
    if (!live.net) return nullptr;  // stopped
    // Its TCP connections do not exist here: the guest hears that they closed. On the frame
    // NIC the guest holds its connections itself, and hears instead that its link moved, so
    // that it tells the network at once (the first input of its live run, logged for joiners).
    for (uint32_t conn : t.open_connections) {
      inputs.push(devices::NetEvent{VMFT_NIC_KIND_TCP_CLOSE, conn, 0, 0, {}});
    }
    const bool frames = live.net->backend().frames().has_value();
    const size_t heard = frames ? live.net->take_over(t.last_frames) : 0;
    const hypervisor::HostServices host{*live.clock, live.entropy, *live.timer,
                                        live.net->backend()};
    write_unreleased_console(t);
    if (listener) {
      live.console = std::make_unique<ConsoleWriter>(write_console);
      live.gate = std::make_unique<hypervisor::OutputGate>(live.net->backend(), to(*live.console));
      release_on_ack(*listener, *live.gate, *live.console);
      live.redundancy = std::make_unique<Redundancy>(
          Redundancy::Setup{options.name, "live side", me, options.arbiter, arbiter.get(),
                            *listener, *live.gate, inputs});
      live.role =
          std::make_unique<hypervisor::LiveRole>(host, inputs, listener.get(), live.gate.get());
      live.role->report_progress_every(kProgressInterval);
      live.redundancy->set_machine(*machine, [&live] { return live.role->last_seq(); });
      live.redundancy->alone(*epoch);
    } else {
      live.role = std::make_unique<hypervisor::LiveRole>(host, inputs, nullptr);
    }
    live.net->log_addresses();
    live.net->start();
    spdlog::warn(
        "the arbiter gave pair '{}' to this backup at epoch {}: live at instruction {}, {}",
        options.name, *epoch, t.icount,
        frames ? fmt::format("its guest told its link moved and given {} frame(s) heard that the "
                             "primary never logged",
                             heard)
               : fmt::format("{} TCP connection(s) reset", t.open_connections.size()));
    went_live = true;
    return live.role.get();
  };
  hypervisor::BackupRole role(
      channel, inputs, go_live,
      snapshot ? hypervisor::takeover_at(*snapshot) : hypervisor::Takeover{});
  // The backup's console stays quiet until it goes live: the primary's is the one people read.
  // Once live with a backup of its own, its console waits for that backup like any output.
  const hypervisor::MachineConfig config{p.ram_size,
                                         [&went_live, &live](std::span<const uint8_t> bytes) {
                                           if (!went_live) return;
                                           if (live.gate) {
                                             live.gate->write_console(bytes);
                                           } else {
                                             write_console(bytes);
                                           }
                                         },
                                         hypervisor::kDigestInterval};
  std::unique_ptr<hypervisor::Machine> machine_owner;
  try {
    machine_owner =
        snapshot
            ? std::make_unique<hypervisor::Machine>(std::move(p.image), config, role, *snapshot)
            : std::make_unique<hypervisor::Machine>(std::move(p.image), config, role);
  } catch (const hypervisor::SnapshotError& e) {
    spdlog::error("the primary's snapshot does not fit this backup: {}", e.what());
    return kPairBrokenExitCode;
  }
  machine = machine_owner.get();
  if (snapshot) {
    // Everything before the snapshot has run: the primary may count this backup in step now,
    // even if its guest idles until the next input.
    channel.reached(snapshot->icount);
    snapshot.reset();  // its RAM is the machine's now
  }
  uint64_t last_bytes = 0;
  io.every(options.status_interval, [&](double seconds) {
    if (went_live) {
      if (live.redundancy) {
        log_live_status("backup (live)", listener->stats(), live.redundancy->state(), *live.gate,
                        last_bytes, seconds);
      }
      return;
    }
    const auto s = channel.stats();
    spdlog::info(
        "backup: at instruction {}, primary at least at {} (lag {}), log #{} received, "
        "{} bytes queued, log {:.1f} KB/s",
        s.peer_icount, s.progress, s.progress > s.peer_icount ? s.progress - s.peer_icount : 0,
        s.last_seq, s.buffered_bytes, kb_per_s(s.bytes_received - last_bytes, seconds));
    last_bytes = s.bytes_received;
  });
  const auto started = Clock::now();
  const hypervisor::RunResult result = machine->run();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (live.redundancy) live.redundancy->stop();  // before the machine goes: a join works on it
  if (listener && went_live && !listener->lost()) {
    listener->wait_acknowledged(std::chrono::seconds(5));  // so that the last outputs leave
  }
  channel.shutdown();
  if (listener) listener->shutdown();
  io.stop();
  if (role.replay().log_error()) {
    spdlog::error("the log from the primary is damaged: {}", *role.replay().log_error());
    return kDivergedExitCode;
  }
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (stopped && declined_code != 0) return declined_code;
  if (stopped && live.redundancy) {
    const auto state = live.redundancy->state();
    if (state == Redundancy::State::kLost) return kLostPairExitCode;
    if (state == Redundancy::State::kBroken) return kPairBrokenExitCode;
  }
  if (role.replay().stats().complete) {
    const auto& st = role.replay().stats();
    spdlog::info(
        "backup: reproduced the primary's run to its end at instruction {}: {} inputs, "
        "{} interrupts, {} outputs and {} state digests matched",
        result.instructions, st.inputs, st.interrupts, st.outputs, st.digests);
  }
  return report_run(result, seconds);
}

}  // namespace

void add_pair_commands(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto primary = std::make_shared<PairOptions>();
  CLI::App* p = app.add_subcommand(
      "primary",
      "Run a guest as the primary of a fault-tolerant pair: stream its log to the "
      "backup and hold every output until the backup has the log up to it");
  add_pair_options(*p, *primary);
  p->add_option("--log-listen", primary->channel,
                "Where the backup connects, and later backups join: HOST:PORT of the logging "
                "channel")
      ->required();
  p->add_option("--max-lag", primary->max_lag,
                "Instructions the guest may run ahead of where the backup has executed to; "
                "further, it waits until the backup is within half of it (0: no bound)")
      ->capture_default_str();
  p->add_option("--max-lag-time", primary->max_lag_time_ms,
                "Milliseconds of the guest's running time it may run ahead of where the backup "
                "has executed to (about what a backup that takes over must execute first); "
                "further, it waits until the backup is within half of it (0: no bound)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 60000u));
  add_log_level_option(*p, log_level);
  p->callback([&action, primary] { action = [primary] { return run_primary(*primary); }; });

  auto backup = std::make_shared<PairOptions>();
  CLI::App* b = app.add_subcommand(
      "backup",
      "Run a guest as the backup of a fault-tolerant pair: replay the primary's log "
      "as it arrives, sending nothing to clients");
  add_pair_options(*b, *backup);
  b->add_option("--log-connect", backup->channel, "The primary's logging channel: HOST:PORT")
      ->required();
  b->add_option("--log-listen", backup->listen,
                "Where a new backup joins this one once it has gone live: HOST:PORT of its "
                "logging channel (none: it cannot be joined)");
  b->add_flag("--join", backup->join,
              "Join a primary that runs alone: start from a snapshot of its running guest "
              "instead of from boot (needs --arbiter)");
  add_log_level_option(*b, log_level);
  b->callback([&action, backup] { action = [backup] { return run_backup(*backup); }; });
}

}  // namespace vmft::cli
