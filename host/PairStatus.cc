#include "vmft/host/PairStatus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "vmft/arbiter/ConnectArbiter.h"

namespace vmft::host {

namespace {

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

}  // namespace

void release_on_ack(channel::ChannelPrimary& channel, hypervisor::OutputGate& gate,
                    const ConsoleWriter& console) {
  channel.on_ack([&channel, &gate, &console](uint64_t seq) {
    gate.acknowledged(seq);
    channel.released(console.released_through(gate.left_through()));
  });
}

hypervisor::OutputGate::Console to(ConsoleWriter& console) {
  return [&console](uint64_t seq, std::span<const uint8_t> bytes) { console.write(seq, bytes); };
}

double kb_per_s(uint64_t bytes, double seconds) { return bytes / 1024.0 / seconds; }

std::string status_label(const std::string& pair, uint64_t epoch, const char* side) {
  if (epoch == 0) return fmt::format("pair '{}' (no epoch yet), {}", pair, side);
  return fmt::format("pair '{}' at epoch {}, {}", pair, epoch, side);
}

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

SideStatus live_status(const std::string& pair, const std::string& me, const char* role,
                       const std::string& arbiter, const channel::ChannelPrimary& channel,
                       const hypervisor::OutputGate& gate, const ft::LiveSide& live_side) {
  SideStatus s;
  s.pair = pair;
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
  s.arbiter = arbiter;
  return s;
}

bool StatusService::start(const PairConfig& config, asio::io_context& io,
                          std::function<SideStatus()> snapshot) {
  if (!config.status_endpoint) return true;
  if (!config.arbiter.empty()) {
    probe_ = std::make_unique<ArbiterProbe>(
        arbiter::connect_arbiter(config.arbiter, config.channel.secret), config.name);
  }
  try {
    server_ = std::make_unique<StatusServer>(io, *config.status_endpoint, std::move(snapshot));
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return false;
  }
  const auto ep = server_->local_endpoint();
  spdlog::info("listening on status {}:{} (GET /metrics, GET /status)", ep.address().to_string(),
               ep.port());
  return true;
}

std::optional<bool> StatusService::arbiter_reachable() const {
  return probe_ ? probe_->reachable() : std::nullopt;
}

}  // namespace vmft::host
