#include "vmft/host/PrimarySession.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "vmft/arbiter/ConnectArbiter.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/PrimaryStart.h"
#include "vmft/ft/SideStop.h"
#include "vmft/host/LiveRun.h"
#include "vmft/host/PairStatus.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"

namespace vmft::host {

PrimarySession::PrimarySession(PairConfig config, EventLog& events)
    : config_(std::move(config)),
      events_(events),
      timer_(io_.io(), clock_,
             [this](uint64_t gen) { inputs_.push(hypervisor::TimerExpired{gen}); }),
      on_live_(config_.on_live) {}

PrimarySession::~PrimarySession() {
  io_.stop();  // no more io callbacks (which post to the live side), then its thread
  if (live_side_) live_side_->stop();
}

std::optional<int> PrimarySession::start() {
  try {
    channel_ = std::make_unique<channel::ChannelPrimary>(io_.io(), config_.channel_endpoint,
                                                         config_.channel);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  me_ = side_id(config_, "primary", channel_->local_endpoint().port());
  channel_->set_id(me_);  // before the io thread runs: no backup has been heard yet
  events_.set_id(me_);
  if (!config_.arbiter.empty()) {
    arbiter_ = arbiter::connect_arbiter(config_.arbiter, config_.channel.secret);
    arbiter_client_ = std::make_unique<ft::ArbiterClient>(*arbiter_, config_.arbiter, steady_);
    // Before the guest's addresses are bound: a primary that cannot serve says so at once.
    if (const auto code = ft::check_name_is_free(*arbiter_, config_.arbiter, config_.name, me_)) {
      return code;
    }
  }
  try {
    net_ = std::make_unique<HostNetwork>(io_.io(), config_.guest, inputs_);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  io_.on_signal([this] {
    inputs_.request_stop();
    if (!guest_started_) channel_->shutdown();
  });
  make_room_for_connections(config_.guest.limits);
  console_ = std::make_unique<ConsoleWriter>(write_console);
  gate_ = std::make_unique<hypervisor::OutputGate>(net_->backend(), to(*console_));
  release_on_ack(*channel_, *gate_, *console_);
  // When the backup is lost: without an arbiter, stop; with one, test-and-set and go on alone
  // (taking backups that join) or halt.
  end_ = std::make_unique<ChannelPrimaryEnd>(*channel_);
  live_side_ = std::make_unique<ft::LiveSide>(
      ft::LiveSide::Setup{config_.name, "primary", me_, arbiter_client_.get(), *end_, *gate_,
                          inputs_, steady_, &events_});
  if (!status_.start(config_, io_.io(), [this] { return status(); })) {
    return ft::kStartFailedExitCode;
  }
  return std::nullopt;
}

SideStatus PrimarySession::status() const {
  SideStatus s =
      live_status(config_.name, me_, "primary", config_.arbiter, *channel_, *gate_, *live_side_);
  if (!guest_started_) s.state = "waiting for a backup";
  s.arbiter_reachable = status_.arbiter_reachable();
  s.client_connections = net_->client_connections();
  return s;
}

int PrimarySession::run() {
  if (const auto code = start()) return *code;
  net_->log_addresses();
  const auto log_ep = channel_->local_endpoint();
  spdlog::info("primary of pair '{}' ({}): listening on log {}:{}, waiting for the backup",
               config_.name, me_, log_ep.address().to_string(), log_ep.port());
  io_.start();
  events_.emit(ft::Waiting{log_ep.port()});
  if (!channel_->wait_for_backup()) return ft::kOkExitCode;  // stopped before a backup came
  guest_started_ = true;
  events_.emit(ft::Paired{});
  live_side_->paired(0);
  if (inputs_.stop_requested()) return ft::kOkExitCode;
  if (arbiter_client_) {
    if (const auto code =
            ft::register_pair(*arbiter_client_, *live_side_, config_.name, me_, inputs_)) {
      return *code;
    }
  }
  return run_guest();
}

int PrimarySession::run_guest() {
  hypervisor::LiveRole role({clock_, entropy_, timer_, net_->backend()}, inputs_, channel_.get(),
                            gate_.get());
  role.report_progress_every(kProgressInterval);
  hypervisor::Machine machine(
      std::move(config_.image),
      {config_.guest.ram_size,
       [this](std::span<const uint8_t> bytes) { gate_->write_console(bytes); },
       hypervisor::kDigestInterval},
      role);
  live_side_->set_machine(machine, [&role] { return role.last_seq(); });
  io_.every(config_.status_interval, [this](double seconds) {
    log_live_status(status_label(config_.name, live_side_->epoch(), "primary"), channel_->stats(),
                    live_side_->state(), *gate_, last_bytes_, seconds);
  });
  net_->start();
  on_live_.run(config_.name, me_, "primary", live_side_->epoch());
  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ft::stop_side({.live_side = live_side_.get(),
                 .to_backup = end_.get(),
                 .live = true,
                 .stop_io = [this] { io_.stop(); },
                 .release = [this] { live_side_->release_if_held(); }});
  const bool stopped = result.outcome == hypervisor::RunResult::Outcome::kStopped;
  if (const auto code = ft::decided_exit_code(stopped, 0, live_side_.get(), gate_.get())) {
    return *code;
  }
  return report_run(result, seconds, config_.guest.exit_code_file);
}

int run_primary(PairConfig config, EventLog& events) {
  const int code = PrimarySession(std::move(config), events).run();
  events.emit(ft::Exited{code});
  return code;
}

}  // namespace vmft::host
