#include "vmft/host/BackupSession.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/SideStop.h"
#include "vmft/ft/Takeover.h"
#include "vmft/host/LiveRun.h"
#include "vmft/host/PairStatus.h"
#include "vmft/host/WaitForPrimary.h"
#include "vmft/hypervisor/BackupRole.h"

namespace vmft::host {

BackupSession::BackupSession(PairConfig config, EventLog& events)
    : config_(std::move(config)), events_(events), on_live_(config_.on_live) {}

BackupSession::~BackupSession() {
  io_.stop();                          // before what its handlers use is destroyed
  if (live_side_) live_side_->stop();  // a join's thread, before the machine goes
}

std::optional<int> BackupSession::start() {
  make_room_for_connections(config_.guest.limits);  // now: a backup may go live at any time
  if (config_.listen_endpoint) {
    try {
      listener_ = std::make_unique<channel::ChannelPrimary>(
          io_.io(), *config_.listen_endpoint, config_.channel,
          channel::ChannelPrimary::Accepting::kNothing);
    } catch (const std::system_error& e) {
      spdlog::error("{}", e.what());
      return ft::kStartFailedExitCode;
    }
    listener_end_ = std::make_unique<ChannelPrimaryEnd>(*listener_);
  }
  me_ = side_id(config_, "backup", listener_ ? listener_->local_endpoint().port() : 0);
  config_.channel.id = me_;
  if (listener_) listener_->set_id(me_);  // the io thread has not started
  events_.set_id(me_);
  channel_ = std::make_unique<channel::ChannelBackup>(io_.io(), config_.channel);
  channel_end_ = std::make_unique<ChannelBackupEnd>(*channel_);
  // A clean stop: this backup will not go live, and tells its primary so, which goes on alone
  // at once instead of deciding after the peer timeout.
  io_.on_signal([this] {
    inputs_.request_stop();
    channel_->leave();
  });
  channel_->on_peer_lost([](const std::string& why) { spdlog::warn("{}", why); });
  if (!config_.arbiter.empty()) {
    arbiter_ = arbiter::connect_arbiter(config_.arbiter, config_.channel.secret);
    arbiter_client_ = std::make_unique<ft::ArbiterClient>(*arbiter_, config_.arbiter, steady_);
  }
  // On the frame NIC the TAP device opens now and keeps what it hears: where the switch floods
  // the guest's frames to both sides, those its primary took but never logged are among them,
  // and going live hands them to the guest instead of waiting for the clients to resend.
  if (!config_.guest.tap.empty()) {
    try {
      live_net_ = std::make_unique<HostNetwork>(io_.io(), config_.guest, inputs_);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return ft::kStartFailedExitCode;
    }
    live_net_->standby();
  }
  if (!status_.start(config_, io_.io(), [this] { return status(); })) {
    return ft::kStartFailedExitCode;
  }
  return std::nullopt;
}

SideStatus BackupSession::status() const {
  SideStatus s;
  if (went_live_ && live_side_) {
    s = live_status(config_.name, me_, "live", config_.arbiter, *listener_, *live_gate_,
                    *live_side_);
  } else if (went_live_) {  // no --log-listen: it runs alone for good
    s.pair = config_.name;
    s.id = me_;
    s.role = "live";
    s.state = "alone";
    s.epoch = live_epoch_;
    s.instructions = live_role_->reached();
    s.arbiter = config_.arbiter;
  } else {
    const auto st = channel_->stats();
    s.pair = config_.name;
    s.id = me_;
    s.role = "backup";
    s.state = following_ ? "replaying" : "waiting for the primary";
    s.epoch = channel_->epoch().value_or(0);
    s.instructions = st.peer_icount;
    s.log_seq = st.last_seq;
    s.log_acked = st.acked_seq;
    s.has_peer = following_ && !channel_->lost();
    s.lag_instructions = st.lag();
    s.log_bytes_sent = st.bytes_sent;
    s.log_bytes_received = st.bytes_received;
    s.arbiter = config_.arbiter;
  }
  if (went_live_) {
    s.failovers = 1;
    s.client_connections = live_net_->client_connections();
  }
  s.arbiter_reachable = status_.arbiter_reachable();
  return s;
}

int BackupSession::run() {
  if (const auto code = start()) return *code;
  io_.start();
  if (listener_) {
    const auto ep = listener_->local_endpoint();
    spdlog::info("listening on log {}:{} for backups that join this one once it is live",
                 ep.address().to_string(), ep.port());
  }
  spdlog::info("backup of pair '{}' ({}): {} the primary at {}", config_.name, me_,
               config_.join ? "joining" : "connecting to", config_.channel_address);
  std::optional<hypervisor::MachineSnapshot> snapshot;
  if (const auto code = connect(snapshot)) return *code;
  return run_guest(std::move(snapshot));
}

std::optional<int> BackupSession::connect(std::optional<hypervisor::MachineSnapshot>& snapshot) {
  WaitForPrimary waiting(*channel_, config_.name, config_.channel_address,
                         config_.wait_for_primary);
  std::optional<channel::ChannelBackup::JoinStart> joined;
  try {
    bool join = config_.join;
    if (!join) {
      try {
        if (!channel_->connect(config_.channel_endpoint)) {
          return waiting.gave_up() ? ft::kStartFailedExitCode : ft::kOkExitCode;  // or stopped
        }
      } catch (const channel::ChannelRefused& e) {
        // Started again by the same command (a service manager's restart) while its primary
        // runs on alone: it joins, as with --join.
        if (!e.primary_runs() || !arbiter_) throw;
        spdlog::info("the primary of pair '{}' runs already: this backup joins it", config_.name);
        join = true;
      }
    }
    if (join) {
      joined = channel_->join(config_.channel_endpoint);
      if (!joined) {
        return waiting.gave_up() ? ft::kStartFailedExitCode : ft::kOkExitCode;  // or stopped
      }
    }
    waiting.done();
    following_ = true;
  } catch (const channel::ChannelUnauthenticated& e) {
    spdlog::error("this backup exits: {}", e.what());
    return ft::kStartFailedExitCode;
  } catch (const channel::ChannelRefused& e) {
    spdlog::error("the primary at {} refused this backup: {}", config_.channel_address, e.what());
    return ft::kStartFailedExitCode;
  } catch (const logchannel::LogError& e) {
    spdlog::error("{}", e.what());
    return ft::kPairBrokenExitCode;
  }
  if (!joined) {
    spdlog::info("backup: paired with the primary at {}", config_.channel_address);
    events_.emit(ft::Paired{config_.channel_address, std::nullopt});
    return std::nullopt;
  }
  try {
    snapshot = hypervisor::decode_snapshot(joined->snapshot);
  } catch (const hypervisor::SnapshotError& e) {
    spdlog::error("the primary's snapshot is unusable: {}", e.what());
    return ft::kPairBrokenExitCode;
  }
  snapshot->ram = std::move(joined->ram);
  spdlog::info("backup: joined the primary at {} at instruction {}", config_.channel_address,
               snapshot->icount);
  events_.emit(ft::Paired{config_.channel_address, snapshot->icount});
  return std::nullopt;
}

int BackupSession::run_guest(std::optional<hypervisor::MachineSnapshot> snapshot) {
  hypervisor::BackupRole role(
      *channel_, inputs_, [this](const hypervisor::Takeover& t) { return go_live(t); },
      snapshot ? hypervisor::takeover_at(*snapshot) : hypervisor::Takeover{});
  // The backup's console stays quiet until it goes live: the primary's is the one people read.
  // Once live with a backup of its own, its console waits for that backup like any output.
  const hypervisor::MachineConfig config{config_.guest.ram_size,
                                         [this](std::span<const uint8_t> bytes) {
                                           if (!went_live_) return;
                                           if (live_gate_) {
                                             live_gate_->write_console(bytes);
                                           } else {
                                             host::write_console(bytes);
                                           }
                                         },
                                         hypervisor::kDigestInterval};
  std::unique_ptr<hypervisor::Machine> machine;
  try {
    machine = snapshot
                  ? std::make_unique<hypervisor::Machine>(std::move(config_.image), config, role,
                                                          *snapshot)
                  : std::make_unique<hypervisor::Machine>(std::move(config_.image), config, role);
  } catch (const hypervisor::SnapshotError& e) {
    spdlog::error("the primary's snapshot does not fit this backup: {}", e.what());
    return ft::kPairBrokenExitCode;
  }
  machine_ = machine.get();
  if (snapshot) {
    // Everything before the snapshot has run: the primary may count this backup in step now,
    // even if its guest idles until the next input.
    channel_->reached(snapshot->icount);
    snapshot.reset();  // its RAM is the machine's now
  }
  io_.every(config_.status_interval, [this](double seconds) { log_status(seconds); });
  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine->run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ft::stop_side({.live_side = live_side_.get(),
                 .to_backup = listener_end_.get(),
                 .live = went_live_,
                 .to_primary = channel_end_.get(),
                 .stop_io = [this] { io_.stop(); },
                 .release = [this] { release_pair(); }});
  if (role.replay().log_error()) {
    spdlog::error("the log from the primary is damaged: {}", *role.replay().log_error());
    return ft::kDivergedExitCode;
  }
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (const auto code =
          ft::decided_exit_code(stopped, declined_code_, live_side_.get(), live_gate_.get())) {
    return *code;
  }
  if (role.replay().stats().complete) {
    const auto& st = role.replay().stats();
    spdlog::info(
        "backup: reproduced the primary's run to its end at instruction {}: {} inputs, "
        "{} interrupts, {} outputs and {} state digests matched",
        result.instructions, st.inputs, st.interrupts, st.outputs, st.digests);
  }
  if (result.outcome == hypervisor::RunResult::Outcome::kDiverged) {
    events_.emit(ft::Diverged{result.instructions});
  }
  return report_run(result, seconds, config_.guest.exit_code_file);
}

void BackupSession::log_status(double seconds) {
  if (went_live_) {
    if (live_side_) {
      log_live_status(status_label(config_.name, live_side_->epoch(), "live side (was the backup)"),
                      listener_->stats(), live_side_->state(), *live_gate_, last_bytes_, seconds);
    }
    return;
  }
  const auto s = channel_->stats();
  spdlog::info(
      "{}: at instruction {}, primary at least at {} (lag {}), log #{} received, "
      "{} bytes queued, log {:.1f} KB/s",
      status_label(config_.name, channel_->epoch().value_or(0), "backup"), s.peer_icount,
      s.progress, s.lag(), s.last_seq, s.buffered_bytes,
      kb_per_s(s.bytes_received - last_bytes_, seconds));
  last_bytes_ = s.bytes_received;
}

// The primary is gone and every record it sent has run: go live if the arbiter says so.
hypervisor::Role* BackupSession::go_live(const hypervisor::Takeover& t) {
  const ft::GoLiveOutcome outcome = ft::go_live(
      {config_.name, me_, arbiter_client_.get(), channel_->epoch(), inputs_, &events_}, t, *this);
  declined_code_ = outcome.declined_exit_code;
  return outcome.role;
}

// A live side whose run ended with the pair in hand ends it at the arbiter.
void BackupSession::release_pair() {
  if (!arbiter_ || !went_live_) return;
  if (live_side_) {
    live_side_->release_if_held();
  } else if (arbiter_client_->release(config_.name, live_epoch_, me_)) {
    events_.emit(ft::Released{live_epoch_});
  }
}

void BackupSession::start_clocks(const ft::ContinuedTime& time) {
  live_clock_ = std::make_unique<devices::ContinuedClock>(time.wall_ns, time.mono_ns);
  live_timer_ = std::make_unique<devices::AsioTimer>(io_.io(), *live_clock_, [this](uint64_t gen) {
    inputs_.push(hypervisor::TimerExpired{gen});
  });
}

bool BackupSession::bind_network(uint32_t first_connection) {
  if (!live_net_) {  // a frame NIC's is open already
    live_net_ = ft::bind_when_free<HostNetwork>(
        [&] {
          return std::make_unique<HostNetwork>(io_.io(), config_.guest, inputs_, first_connection);
        },
        steady_, inputs_);
  }
  return live_net_ != nullptr;
}

std::optional<size_t> BackupSession::take_over_frames(
    const std::deque<std::vector<uint8_t>>& last_logged) {
  if (!live_net_->backend().frames()) return std::nullopt;
  return live_net_->take_over(last_logged);
}

void BackupSession::write_console(std::span<const uint8_t> bytes) { host::write_console(bytes); }

hypervisor::Role& BackupSession::start_live_role(uint64_t epoch) {
  const hypervisor::HostServices host{*live_clock_, live_entropy_, *live_timer_,
                                      live_net_->backend()};
  if (!listener_) {
    live_role_ = std::make_unique<hypervisor::LiveRole>(host, inputs_, nullptr);
    return *live_role_;
  }
  live_console_ = std::make_unique<ConsoleWriter>(host::write_console);
  live_gate_ = std::make_unique<hypervisor::OutputGate>(live_net_->backend(), to(*live_console_));
  release_on_ack(*listener_, *live_gate_, *live_console_);
  live_side_ = std::make_unique<ft::LiveSide>(
      ft::LiveSide::Setup{config_.name, "live side", me_, arbiter_client_.get(), *listener_end_,
                          *live_gate_, inputs_, steady_, &events_});
  live_role_ =
      std::make_unique<hypervisor::LiveRole>(host, inputs_, listener_.get(), live_gate_.get());
  live_role_->report_progress_every(kProgressInterval);
  live_side_->set_machine(*machine_, [this] { return live_role_->last_seq(); });
  live_side_->alone(epoch);
  return *live_role_;
}

void BackupSession::start_network() {
  live_net_->log_addresses();
  live_net_->start();
}

void BackupSession::now_live(uint64_t epoch) {
  live_epoch_ = epoch;
  went_live_ = true;
}

void BackupSession::run_on_live(uint64_t epoch) {
  on_live_.run(config_.name, me_, "backup", epoch);
}

int run_backup(PairConfig config, EventLog& events) {
  const int code = BackupSession(std::move(config), events).run();
  events.emit(ft::Exited{code});
  return code;
}

}  // namespace vmft::host
