// vmft primary / vmft backup: the two halves of a fault-tolerant pair. The primary runs the
// guest against the real host and streams its log to the backup, holding every output until
// the backup has the log up to it; the backup replays that log as it arrives.
#include "PairCommand.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "ChannelEnds.h"
#include "ConsoleWriter.h"
#include "Events.h"
#include "HostNetwork.h"
#include "LiveRun.h"
#include "Logging.h"
#include "OnLive.h"
#include "Options.h"
#include "Status.h"
#include "vmft/arbiter/Arbiter.h"
#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/auth/Secret.h"
#include "vmft/channel/BackupEnd.h"
#include "vmft/channel/PrimaryEnd.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Clock.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/ft/Takeover.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

namespace {

using Clock = std::chrono::steady_clock;

// How often the primary tells its backup how far it got when nothing else does: about a
// millisecond of a CPU-bound guest.
constexpr uint64_t kProgressInterval = 1 << 20;
// How long a backup that stops waits for its goodbye to be written: a primary that does not
// read for this long hears of it through the peer timeout instead.
constexpr auto kGoodbyeTimeout = std::chrono::milliseconds(500);
// How often a backup still waiting for its primary says so.
constexpr auto kStillWaitingInterval = std::chrono::seconds(10);

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
  std::string id;                 ///< --id; empty: side_id's default
  double wait_for_primary = 0;    ///< backup: seconds to wait for the primary; 0: for ever
  std::string status_listen;      ///< --status-listen HOST:PORT; empty: none
  std::string on_live;            ///< --on-live CMD; empty: none
  std::string events;             ///< --events FILE or fd:N; empty: none
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

// Everything a side needs before its guest starts: the checked options, the guest image, and
// the channel's configuration. Throws std::invalid_argument or ElfError for bad input.
struct Prepared {
  uint64_t ram_size = 0;
  hypervisor::GuestImage image;
  channel::ChannelConfig channel;
  devices::NetLimits limits;  ///< for the guest's sockets, whenever this side binds them
  asio::ip::tcp::endpoint channel_endpoint;
  std::optional<asio::ip::tcp::endpoint> listen_endpoint;  ///< a backup's --log-listen
  std::optional<asio::ip::tcp::endpoint> status_endpoint;  ///< --status-listen
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
  p.image = hypervisor::load_elf_file(options.live.guest, VMFT_RAM_BASE, p.ram_size);
  p.channel.pair = options.name;
  if (!options.secret_file.empty()) p.channel.secret = auth::read_secret_file(options.secret_file);
  p.channel.header = logchannel::guest_log_header(
      options.live.guest, p.ram_size, !options.live.udp.empty(), !options.live.tcp.empty(),
      hypervisor::kDigestInterval, hypervisor::emulator_name(), hypervisor::to_log(frames));
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
  clear_exit_code_file(options.live.exit_code_file);
  return p;
}

// asio on its own thread, SIGINT, SIGTERM and SIGHUP as a clean stop, and a status line at a
// steady interval and on SIGUSR1.
class IoThread {
 public:
  IoThread()
      : work_(asio::make_work_guard(io_)),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        status_signal_(io_, SIGUSR1),
        status_(io_) {}
  ~IoThread() { stop(); }

  asio::io_context& io() { return io_; }

  void on_signal(std::function<void()> f) {
    signals_.async_wait([f = std::move(f)](const asio::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("received {}, stopping", signal_name(signo));
      f();
    });
  }

  /// `f` writes a status line, given the seconds since the last one; every `seconds` (none if
  /// 0) and at each SIGUSR1.
  void every(double seconds, std::function<void(double)> f) {
    status_fn_ = std::move(f);
    last_status_ = Clock::now();
    wait_for_status_signal();
    if (seconds <= 0) return;
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
      write_status();
      schedule();
    });
  }

  void wait_for_status_signal() {
    status_signal_.async_wait([this](const asio::error_code& ec, int) {
      if (ec) return;
      write_status();
      wait_for_status_signal();
    });
  }

  void write_status() {
    const auto now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - last_status_).count();
    last_status_ = now;
    status_fn_(std::max(seconds, 1e-3));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::signal_set signals_;
  asio::signal_set status_signal_;
  asio::steady_timer status_;
  Clock::time_point last_status_;
  Clock::duration interval_{};
  std::function<void(double)> status_fn_;
  std::thread thread_;
};

double kb_per_s(uint64_t bytes, double seconds) { return bytes / 1024.0 / seconds; }

// The output rule on the live side of a pair: what the guest sends or writes to its console
// leaves once the backup has acknowledged the log through it, and the backup then hears how
// far it has left (so that, taking over, it writes again only console output the primary may
// not have written).
void release_on_ack(channel::ChannelPrimary& channel, hypervisor::OutputGate& gate,
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

// Who this side is, to the arbiter: --id, or ROLE@HOST:PORT with the port of its own logging
// channel (0: none), which stays the same when the same command starts it again and differs
// from its peer's (two processes cannot listen on one port of one host).
std::string side_id(const PairOptions& options, const char* role, uint16_t log_port) {
  if (!options.id.empty()) return options.id;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::string id = fmt::format("{}@{}", role, host);
  if (log_port != 0) id += fmt::format(":{}", log_port);
  // Host names are printable and short, but an id has a limit of its own.
  std::replace_if(
      id.begin(), id.end(), [](char c) { return c <= ' ' || c >= 0x7f; }, '_');
  if (id.size() > 128) id.resize(128);
  return id;
}

// A primary starts only if its arbiter answers and does not hold the pair's name for another
// side; nullopt if it may, else the exit code, having said why.
std::optional<int> check_name_is_free(arbiter::Arbiter& arbiter, const PairOptions& options,
                                      const std::string& me) {
  arbiter::ArbiterState state;
  try {
    state = arbiter.read(options.name);
  } catch (const arbiter::ArbiterUnavailable& e) {
    spdlog::error(
        "cannot reach the arbiter at {} ({}): a primary starts only once its arbiter "
        "answers",
        options.arbiter, e.what());
    return ft::kStartFailedExitCode;
  }
  const bool held = state.mode == arbiter::Mode::kPaired || state.mode == arbiter::Mode::kAlone;
  if (!held || state.holder == me) return std::nullopt;
  spdlog::error(
      "the arbiter holds pair '{}' for another side ({}): this primary ({}) does not start. If "
      "that side runs, join it with `vmft backup --join`; if neither side runs, `vmft arbiter "
      "release {} --arbiter {}` frees the name",
      options.name, arbiter::describe(state), me, options.name, options.arbiter);
  return ft::kNameHeldExitCode;
}

std::unique_ptr<arbiter::Arbiter> connect_arbiter(const PairOptions& options,
                                                  const std::string& secret) {
  if (options.arbiter.empty()) return nullptr;
  return arbiter::connect_arbiter(options.arbiter, secret);
}

const char* state_name(ft::LiveSide::State state) {
  switch (state) {
    case ft::LiveSide::State::kPaired: return "paired";
    case ft::LiveSide::State::kDeciding: return "asking the arbiter";
    case ft::LiveSide::State::kAlone: return "alone";
    case ft::LiveSide::State::kJoining: return "a backup joins";
    case ft::LiveSide::State::kBroken:
    case ft::LiveSide::State::kLost: return "stopping";
  }
  return "?";
}

// What a status line starts with: "pair 'demo' at epoch 3, primary".
std::string status_label(const std::string& pair, uint64_t epoch, const char* side) {
  if (epoch == 0) return fmt::format("pair '{}' (no epoch yet), {}", pair, side);
  return fmt::format("pair '{}' at epoch {}, {}", pair, epoch, side);
}

// A status line of the live side of a pair (a primary, or a backup that went live).
void log_live_status(const std::string& side, const channel::ChannelStats& s,
                     ft::LiveSide::State state, const hypervisor::OutputGate& gate,
                     uint64_t& last_bytes, double seconds) {
  if (state != ft::LiveSide::State::kPaired) {
    spdlog::info("{} ({}): instruction {}, outputs held {}", side, state_name(state), s.progress,
                 gate.held());
  } else {
    spdlog::info(
        "{}: instruction {}, log #{} acknowledged #{}, backup at instruction {} "
        "(lag {}), outputs held {}, log {:.1f} KB/s, waited for the backup {} times",
        side, s.progress, s.last_seq, s.acked_seq, s.peer_icount, s.lag(), gate.held(),
        kb_per_s(s.bytes_sent - last_bytes, seconds), s.lag_waits);
  }
  last_bytes = s.bytes_sent;
}

// The state as status reports name it.
const char* state_word(ft::LiveSide::State state) {
  switch (state) {
    case ft::LiveSide::State::kPaired: return "paired";
    case ft::LiveSide::State::kDeciding: return "deciding";
    case ft::LiveSide::State::kAlone: return "alone";
    case ft::LiveSide::State::kJoining: return "joining";
    case ft::LiveSide::State::kBroken:
    case ft::LiveSide::State::kLost: return "stopping";
  }
  return "?";
}

// How often the status's arbiter probe asks.
constexpr auto kArbiterProbeInterval = std::chrono::seconds(2);

// Whether the arbiter answers, asked every kArbiterProbeInterval through a client of its own,
// so that a probe never holds up a decision. Only with --status-listen.
class ArbiterProbe {
 public:
  ArbiterProbe(const PairOptions& options, const std::string& secret)
      : arbiter_(arbiter::connect_arbiter(options.arbiter, secret)),
        pair_(options.name),
        thread_([this] { probe(); }) {}
  ~ArbiterProbe() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  std::optional<bool> reachable() const {
    const int r = reachable_;
    return r < 0 ? std::nullopt : std::optional<bool>(r == 1);
  }

 private:
  void probe() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      bool answered = true;
      try {
        arbiter_->read(pair_);
      } catch (const arbiter::ArbiterUnavailable&) {
        answered = false;
      }
      reachable_ = answered ? 1 : 0;
      lock.lock();
      cv_.wait_for(lock, kArbiterProbeInterval, [this] { return stopping_; });
    }
  }

  std::unique_ptr<arbiter::Arbiter> arbiter_;
  std::string pair_;
  std::atomic<int> reachable_{-1};  ///< -1: not asked yet
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is made
};

// The status of a live side (a primary, or a backup that went live with --log-listen) from its
// channel to its backup, its gate and its ft::LiveSide (io thread).
SideStatus live_status(const PairOptions& options, const std::string& me, const char* role,
                       const channel::ChannelPrimary& channel, const hypervisor::OutputGate& gate,
                       const ft::LiveSide& live_side) {
  SideStatus s;
  s.pair = options.name;
  s.id = me;
  s.role = role;
  s.state = state_word(live_side.state());
  s.epoch = live_side.epoch();
  const auto st = channel.stats();
  s.instructions = st.progress;
  s.log_seq = st.last_seq;
  s.log_acked = st.acked_seq;
  s.has_peer = live_side.state() == ft::LiveSide::State::kPaired;
  if (s.has_peer) {
    s.lag_instructions = st.lag();
    s.lag_records = st.last_seq - std::min(st.acked_seq, st.last_seq);
  }
  s.outputs_held = gate.held();
  s.outputs_held_bytes = gate.held_bytes();
  s.oldest_output_held_seconds = std::chrono::duration<double>(gate.oldest_held_age()).count();
  s.log_bytes_sent = st.bytes_sent;
  s.log_bytes_received = st.bytes_received;
  s.joins = live_side.joins();
  s.arbiter = options.arbiter;
  return s;
}

// Serves the status on --status-listen, if given; null if not. Throws std::system_error if it
// cannot bind.
std::unique_ptr<StatusServer> serve_status(const Prepared& p, asio::io_context& io,
                                           std::function<SideStatus()> snapshot) {
  if (!p.status_endpoint) return nullptr;
  auto server = std::make_unique<StatusServer>(io, *p.status_endpoint, std::move(snapshot));
  const auto ep = server->local_endpoint();
  spdlog::info("listening on status {}:{} (GET /metrics, GET /status)", ep.address().to_string(),
               ep.port());
  return server;
}

int run_primary_side(const PairOptions& options, Prepared& p, EventLog& events) {
  IoThread io;
  hypervisor::InputQueue inputs;
  std::unique_ptr<channel::ChannelPrimary> channel;
  std::unique_ptr<HostNetwork> net;
  devices::SystemClock clock;
  devices::SystemEntropy entropy;
  devices::AsioTimer timer(io.io(), clock,
                           [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
  try {
    channel = std::make_unique<channel::ChannelPrimary>(io.io(), p.channel_endpoint, p.channel);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  const std::string me = side_id(options, "primary", channel->local_endpoint().port());
  channel->set_id(me);  // before the io thread runs: no backup has been heard yet
  events.set_id(me);
  const auto arbiter = connect_arbiter(options, p.channel.secret);
  ft::SteadyClock steady;
  std::unique_ptr<ft::ArbiterClient> arbiter_client;
  if (arbiter) {
    arbiter_client = std::make_unique<ft::ArbiterClient>(*arbiter, options.arbiter, steady);
  }
  // Before the guest's addresses are bound: a primary that cannot serve says so at once.
  if (arbiter) {
    if (const auto code = check_name_is_free(*arbiter, options, me)) return *code;
  }
  try {
    net = std::make_unique<HostNetwork>(io.io(), options.live, p.limits, inputs);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  // Before the guest runs, a stop ends the wait for a backup; once it runs, the guest stops and
  // the primary sends its backup the end of the log.
  std::atomic<bool> guest_started{false};
  io.on_signal([&] {
    inputs.request_stop();
    if (!guest_started) channel->shutdown();
  });
  make_room_for_connections(p.limits);
  OnLive on_live(options.on_live);
  ConsoleWriter console(write_console);
  hypervisor::OutputGate gate(net->backend(), to(console));
  release_on_ack(*channel, gate, console);
  // When the backup is lost: without an arbiter, stop; with one, test-and-set and go on alone
  // (taking backups that join) or halt.
  ChannelPrimaryEnd end(*channel);
  ft::LiveSide live_side(
      {options.name, "primary", me, arbiter_client.get(), end, gate, inputs, steady, &events});
  std::unique_ptr<ArbiterProbe> probe;
  if (arbiter && p.status_endpoint)
    probe = std::make_unique<ArbiterProbe>(options, p.channel.secret);
  std::unique_ptr<StatusServer> status;
  try {
    status = serve_status(p, io.io(), [&] {
      SideStatus s = live_status(options, me, "primary", *channel, gate, live_side);
      if (!guest_started) s.state = "waiting for a backup";
      if (probe) s.arbiter_reachable = probe->reachable();
      s.client_connections = net->client_connections();
      return s;
    });
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  // On every way out: no more io callbacks (which post to it), then its thread.
  struct StopThreads {
    IoThread& io;
    ft::LiveSide& live_side;
    ~StopThreads() {
      io.stop();
      live_side.stop();
    }
  } stop_threads{io, live_side};
  net->log_addresses();
  const auto log_ep = channel->local_endpoint();
  spdlog::info("primary of pair '{}' ({}): listening on log {}:{}, waiting for the backup",
               options.name, me, log_ep.address().to_string(), log_ep.port());
  io.start();
  events.emit(ft::Waiting{log_ep.port()});
  if (!channel->wait_for_backup()) return 0;  // stopped before a backup came
  guest_started = true;
  events.emit(ft::Paired{});
  live_side.paired(0);
  if (inputs.stop_requested()) return 0;
  if (arbiter) {
    const auto registered = arbiter_client->register_next(options.name, me, inputs);
    if (!registered) return 0;  // stopped
    if (!registered->ok) {
      spdlog::error(
          "the arbiter will not register pair '{}' for this primary ({}): it is at {}. If "
          "that side runs, join it with `vmft backup --join`; if neither side runs, `vmft "
          "arbiter release {} --arbiter {}` frees the name",
          options.name, me, arbiter::describe(registered->state), options.name, options.arbiter);
      return ft::kNameHeldExitCode;
    }
    live_side.paired(registered->state.epoch);
    live_side.announce_epoch(registered->state.epoch,
                             fmt::format("pair '{}' registered at the arbiter at epoch {}",
                                         options.name, registered->state.epoch),
                             ft::Registered{registered->state.epoch});
  }

  hypervisor::LiveRole role({clock, entropy, timer, net->backend()}, inputs, channel.get(), &gate);
  role.report_progress_every(kProgressInterval);
  hypervisor::Machine machine(
      std::move(p.image),
      {p.ram_size, [&gate](std::span<const uint8_t> bytes) { gate.write_console(bytes); },
       hypervisor::kDigestInterval},
      role);
  live_side.set_machine(machine, [&role] { return role.last_seq(); });
  uint64_t last_bytes = 0;
  io.every(options.status_interval, [&](double seconds) {
    log_live_status(status_label(options.name, live_side.epoch(), "primary"), channel->stats(),
                    live_side.state(), gate, last_bytes, seconds);
  });
  net->start();
  on_live.run(options.name, me, "primary", live_side.epoch());
  const auto started = Clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  live_side.stop();  // before the machine goes: a join works on it
  // So that the last outputs leave: they wait for the backup to have the log's end.
  if (!channel->lost()) channel->wait_acknowledged(std::chrono::seconds(5));
  channel->shutdown();
  io.stop();
  live_side.release_if_held();
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (const auto code = live_side.stop_exit_code(); stopped && code) {
    // No side goes on without an arbiter: what waited for the backup may leave.
    if (*code == ft::kPairBrokenExitCode) gate.open();
    return *code;
  }
  return report_run(result, seconds, options.live.exit_code_file);
}

// What a backup that won the pair runs on: this host's clocks (continuing the primary's),
// randomness, timer and the client-facing sockets.
struct LiveHost {
  std::unique_ptr<devices::ContinuedClock> clock;
  devices::SystemEntropy entropy;
  std::unique_ptr<devices::AsioTimer> timer;
  std::unique_ptr<HostNetwork> net;
  /// With --log-listen: the outputs wait for a backup that joins, and what decides about it.
  std::unique_ptr<ConsoleWriter> console;
  std::unique_ptr<hypervisor::OutputGate> gate;
  std::unique_ptr<ChannelPrimaryEnd> end;
  std::unique_ptr<ft::LiveSide> side;
  std::unique_ptr<hypervisor::LiveRole> role;
};

// A backup waiting for its primary says so every kStillWaitingInterval, and gives up after
// --wait-for-primary seconds (if not 0) by shutting the channel. On a thread of its own, so
// that the io thread has nothing of it left to run once it is gone.
class WaitForPrimary {
 public:
  WaitForPrimary(channel::ChannelBackup& channel, const PairOptions& options)
      : thread_([this, &channel, &options] { watch(channel, options); }) {}
  ~WaitForPrimary() {
    done();
    thread_.join();
  }

  /// The primary answered, or the backup stops: no more reminders.
  void done() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
  }
  /// Whether it gave up (the channel was shut because the deadline passed).
  bool gave_up() const { return gave_up_; }

 private:
  void watch(channel::ChannelBackup& channel, const PairOptions& options) {
    const auto started = Clock::now();
    const auto deadline =
        options.wait_for_primary > 0
            ? started + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options.wait_for_primary))
            : Clock::time_point::max();
    std::unique_lock lock(mutex_);
    for (auto next = started + kStillWaitingInterval;; next += kStillWaitingInterval) {
      const auto until = std::min(next, deadline);
      if (cv_.wait_until(lock, until, [this] { return done_; })) return;
      const double waited = std::chrono::duration<double>(Clock::now() - started).count();
      if (until == deadline) {
        spdlog::error("no primary of pair '{}' answered at {} within {:.1f} s (--wait-for-primary)",
                      options.name, options.channel, waited);
        gave_up_ = true;
        channel.shutdown();
        return;
      }
      spdlog::info("still waiting for the primary of pair '{}' at {} ({:.1f} s so far)",
                   options.name, options.channel, waited);
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> gave_up_{false};
  std::thread thread_;  // last: it starts once the rest is made
};

int run_backup_side(const PairOptions& options, Prepared& p, EventLog& events) {
  make_room_for_connections(p.limits);  // now: a backup may go live at any time
  IoThread io;
  hypervisor::InputQueue inputs;
  // Where backups join this one once it is live; until then it refuses them.
  std::unique_ptr<channel::ChannelPrimary> listener;
  if (p.listen_endpoint) {
    try {
      listener = std::make_unique<channel::ChannelPrimary>(
          io.io(), *p.listen_endpoint, p.channel, channel::ChannelPrimary::Accepting::kNothing);
    } catch (const std::system_error& e) {
      spdlog::error("{}", e.what());
      return ft::kStartFailedExitCode;
    }
  }
  const std::string me =
      side_id(options, "backup", listener ? listener->local_endpoint().port() : 0);
  p.channel.id = me;
  if (listener) listener->set_id(me);  // the io thread has not started
  events.set_id(me);
  channel::ChannelBackup channel(io.io(), p.channel);
  // A clean stop: this backup will not go live, and tells its primary so, which goes on alone
  // at once instead of deciding after the peer timeout.
  io.on_signal([&] {
    inputs.request_stop();
    channel.leave();
  });
  channel.on_peer_lost([](const std::string& why) { spdlog::warn("{}", why); });
  const auto arbiter = connect_arbiter(options, p.channel.secret);
  ft::SteadyClock steady;
  std::unique_ptr<ft::ArbiterClient> arbiter_client;
  if (arbiter) {
    arbiter_client = std::make_unique<ft::ArbiterClient>(*arbiter, options.arbiter, steady);
  }
  int declined_code = 0;
  OnLive on_live(options.on_live);
  uint64_t live_epoch = 0;  ///< the epoch this backup won, once live
  LiveHost live;
  // On the frame NIC the TAP device opens now and keeps what it hears: where the switch floods
  // the guest's frames to both sides, those its primary took but never logged are among them,
  // and going live hands them to the guest instead of waiting for the clients to resend.
  if (!options.live.tap.empty()) {
    try {
      live.net = std::make_unique<HostNetwork>(io.io(), options.live, p.limits, inputs);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return ft::kStartFailedExitCode;
    }
    live.net->standby();
  }
  std::atomic<bool> went_live{false};
  std::atomic<bool> following{false};  // paired with (or joined) its primary
  hypervisor::Machine* machine = nullptr;
  std::unique_ptr<ArbiterProbe> probe;
  if (arbiter && p.status_endpoint)
    probe = std::make_unique<ArbiterProbe>(options, p.channel.secret);
  std::unique_ptr<StatusServer> status;
  try {
    status = serve_status(p, io.io(), [&] {
      SideStatus s;
      if (went_live && live.side) {
        s = live_status(options, me, "live", *listener, *live.gate, *live.side);
      } else if (went_live) {  // no --log-listen: it runs alone for good
        s.pair = options.name;
        s.id = me;
        s.role = "live";
        s.state = "alone";
        s.epoch = live_epoch;
        s.instructions = live.role->reached();
        s.arbiter = options.arbiter;
      } else {
        const auto st = channel.stats();
        s.pair = options.name;
        s.id = me;
        s.role = "backup";
        s.state = following ? "replaying" : "waiting for the primary";
        s.epoch = channel.epoch().value_or(0);
        s.instructions = st.peer_icount;
        s.log_seq = st.last_seq;
        s.log_acked = st.acked_seq;
        s.has_peer = following && !channel.lost();
        s.lag_instructions = st.lag();
        s.log_bytes_sent = st.bytes_sent;
        s.log_bytes_received = st.bytes_received;
        s.arbiter = options.arbiter;
      }
      if (went_live) {
        s.failovers = 1;
        s.client_connections = live.net->client_connections();
      }
      if (probe) s.arbiter_reachable = probe->reachable();
      return s;
    });
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  // On every way out, the io thread stops before what its handlers use is destroyed, and a
  // join's thread before the machine goes.
  struct StopThreads {
    IoThread& io;
    LiveHost& live;
    ~StopThreads() {
      io.stop();
      if (live.side) live.side->stop();
    }
  } stop_threads{io, live};
  io.start();
  if (listener) {
    const auto ep = listener->local_endpoint();
    spdlog::info("listening on log {}:{} for backups that join this one once it is live",
                 ep.address().to_string(), ep.port());
  }
  spdlog::info("backup of pair '{}' ({}): {} the primary at {}", options.name, me,
               options.join ? "joining" : "connecting to", options.channel);
  WaitForPrimary waiting(channel, options);
  std::optional<channel::ChannelBackup::JoinStart> joined;
  try {
    bool join = options.join;
    if (!join) {
      try {
        if (!channel.connect(p.channel_endpoint)) {
          return waiting.gave_up() ? ft::kStartFailedExitCode : 0;  // or stopped first
        }
      } catch (const channel::ChannelRefused& e) {
        // Started again by the same command (a service manager's restart) while its primary
        // runs on alone: it joins, as with --join.
        if (!e.primary_runs() || !arbiter) throw;
        spdlog::info("the primary of pair '{}' runs already: this backup joins it", options.name);
        join = true;
      }
    }
    if (join) {
      joined = channel.join(p.channel_endpoint);
      if (!joined) return waiting.gave_up() ? ft::kStartFailedExitCode : 0;  // or stopped first
    }
    waiting.done();
    following = true;
  } catch (const channel::ChannelUnauthenticated& e) {
    spdlog::error("this backup exits: {}", e.what());
    return ft::kStartFailedExitCode;
  } catch (const channel::ChannelRefused& e) {
    spdlog::error("the primary at {} refused this backup: {}", options.channel, e.what());
    return ft::kStartFailedExitCode;
  } catch (const logchannel::LogError& e) {
    spdlog::error("{}", e.what());
    return ft::kPairBrokenExitCode;
  }
  std::optional<hypervisor::MachineSnapshot> snapshot;
  if (joined) {
    try {
      snapshot = hypervisor::decode_snapshot(joined->snapshot);
    } catch (const hypervisor::SnapshotError& e) {
      spdlog::error("the primary's snapshot is unusable: {}", e.what());
      return ft::kPairBrokenExitCode;
    }
    snapshot->ram = std::move(joined->ram);
    spdlog::info("backup: joined the primary at {} at instruction {}", options.channel,
                 snapshot->icount);
    events.emit(ft::Paired{options.channel, snapshot->icount});
  } else {
    spdlog::info("backup: paired with the primary at {}", options.channel);
    events.emit(ft::Paired{options.channel, std::nullopt});
  }

  // The primary is gone and every record it sent has run: go live if the arbiter says so.
  auto go_live = [&](const hypervisor::Takeover& t) -> hypervisor::Role* {
    const ft::Claim claim = ft::claim_pair(options.name, me, arbiter_client.get(), channel.epoch(),
                                           t.icount, inputs, &events);
    if (claim.result == ft::Claim::Result::kStopped) return nullptr;
    if (claim.result == ft::Claim::Result::kDeclined) {
      if (!arbiter) write_unreleased_console(t);  // no side goes on: nothing may be lost
      declined_code = claim.exit_code;
      return nullptr;
    }
    live_epoch = claim.epoch;
    const ft::ContinuedTime time = ft::continued_time(t);
    live.clock = std::make_unique<devices::ContinuedClock>(time.wall_ns, time.mono_ns);
    live.timer = std::make_unique<devices::AsioTimer>(
        io.io(), *live.clock,
        [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
    if (!live.net) {
      live.net = ft::bind_when_free<HostNetwork>(
          [&] {
            return std::make_unique<HostNetwork>(io.io(), options.live, p.limits, inputs,
                                                 t.highest_connection + 1);
          },
          steady, inputs);
    }
    if (!live.net) return nullptr;  // stopped
    // Its TCP connections do not exist here: the guest hears that they closed. On the frame
    // NIC the guest holds its connections itself, and hears instead that its link moved, so
    // that it tells the network at once (the first input of its live run, logged for joiners).
    ft::reset_connections(t, inputs);
    const bool frames = live.net->backend().frames().has_value();
    const size_t heard = frames ? live.net->take_over(t.last_frames) : 0;
    const hypervisor::HostServices host{*live.clock, live.entropy, *live.timer,
                                        live.net->backend()};
    write_unreleased_console(t);
    if (listener) {
      live.console = std::make_unique<ConsoleWriter>(write_console);
      live.gate = std::make_unique<hypervisor::OutputGate>(live.net->backend(), to(*live.console));
      release_on_ack(*listener, *live.gate, *live.console);
      live.end = std::make_unique<ChannelPrimaryEnd>(*listener);
      live.side = std::make_unique<ft::LiveSide>(
          ft::LiveSide::Setup{options.name, "live side", me, arbiter_client.get(), *live.end,
                              *live.gate, inputs, steady, &events});
      live.role =
          std::make_unique<hypervisor::LiveRole>(host, inputs, listener.get(), live.gate.get());
      live.role->report_progress_every(kProgressInterval);
      live.side->set_machine(*machine, [&live] { return live.role->last_seq(); });
      live.side->alone(claim.epoch);
    } else {
      live.role = std::make_unique<hypervisor::LiveRole>(host, inputs, nullptr);
    }
    live.net->log_addresses();
    live.net->start();
    spdlog::warn(
        "the arbiter gave pair '{}' to this backup at epoch {}: live at instruction {}, {}",
        options.name, claim.epoch, t.icount,
        frames ? fmt::format("its guest told its link moved and given {} frame(s) heard that the "
                             "primary never logged",
                             heard)
               : fmt::format("{} TCP connection(s) reset", t.open_connections.size()));
    went_live = true;
    events.emit(ft::WentLive{claim.epoch, t.icount});
    on_live.run(options.name, me, "backup", claim.epoch);
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
    return ft::kPairBrokenExitCode;
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
      if (live.side) {
        log_live_status(
            status_label(options.name, live.side->epoch(), "live side (was the backup)"),
            listener->stats(), live.side->state(), *live.gate, last_bytes, seconds);
      }
      return;
    }
    const auto s = channel.stats();
    spdlog::info(
        "{}: at instruction {}, primary at least at {} (lag {}), log #{} received, "
        "{} bytes queued, log {:.1f} KB/s",
        status_label(options.name, channel.epoch().value_or(0), "backup"), s.peer_icount,
        s.progress, s.lag(), s.last_seq, s.buffered_bytes,
        kb_per_s(s.bytes_received - last_bytes, seconds));
    last_bytes = s.bytes_received;
  });
  const auto started = Clock::now();
  const hypervisor::RunResult result = machine->run();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (live.side) live.side->stop();  // before the machine goes: a join works on it
  if (listener && went_live && !listener->lost()) {
    listener->wait_acknowledged(std::chrono::seconds(5));  // so that the last outputs leave
  }
  channel.wait_goodbye(kGoodbyeTimeout);
  channel.shutdown();
  if (listener) listener->shutdown();
  io.stop();
  if (arbiter && went_live) {
    if (live.side) {
      live.side->release_if_held();
    } else if (arbiter_client->release(options.name, live_epoch, me)) {
      events.emit(ft::Released{live_epoch});
    }
  }
  if (role.replay().log_error()) {
    spdlog::error("the log from the primary is damaged: {}", *role.replay().log_error());
    return ft::kDivergedExitCode;
  }
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (stopped && declined_code != 0) return declined_code;
  if (stopped && live.side) {
    if (const auto code = live.side->stop_exit_code()) return *code;
  }
  if (role.replay().stats().complete) {
    const auto& st = role.replay().stats();
    spdlog::info(
        "backup: reproduced the primary's run to its end at instruction {}: {} inputs, "
        "{} interrupts, {} outputs and {} state digests matched",
        result.instructions, st.inputs, st.interrupts, st.outputs, st.digests);
  }
  if (result.outcome == hypervisor::RunResult::Outcome::kDiverged) {
    events.emit(ft::Diverged{result.instructions});
  }
  return report_run(result, seconds, options.live.exit_code_file);
}

// Checks the options, opens --events, runs the side, and tells --events how it ended. A bad
// option, or a guest, secret or events file it cannot use, ends the command through main
// (exit 2, or 1).
int run_side(const PairOptions& options, const char* role,
             int (*side)(const PairOptions&, Prepared&, EventLog&)) {
  Prepared p = prepare(options);
  EventLog events(options.events, options.name, role);
  const int code = side(options, p, events);
  events.emit(ft::Exited{code});
  return code;
}

int run_primary(const PairOptions& options) {
  return run_side(options, "primary", run_primary_side);
}

int run_backup(const PairOptions& options) { return run_side(options, "backup", run_backup_side); }

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
  b->add_option("--wait-for-primary", backup->wait_for_primary,
                "Seconds to wait for the primary to answer before giving up with exit code 1 "
                "(0: wait for ever)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0 * 365));
  b->add_flag("--join", backup->join,
              "Join a primary that runs alone: start from a snapshot of its running guest "
              "instead of from boot (needs --arbiter)");
  add_log_level_option(*b, log_level);
  b->callback([&action, backup] { action = [backup] { return run_backup(*backup); }; });
}

}  // namespace vmft::cli
