#include "vmft/hypervisor/BackupRole.h"

#include "vmft/guest/abi.h"

namespace vmft::hypervisor {

BackupRole::BackupRole(logchannel::RecordSource& log, InputQueue& inputs, GoLive go_live,
                       Takeover start)
    : Role(inputs),
      replay_(log, inputs),
      go_live_(std::move(go_live)),
      takeover_(std::move(start)) {
  sync();
}

namespace {

void remember_frame(Takeover& t, const std::vector<uint8_t>& frame) {
  if (t.last_frames.size() == Takeover::kLastFrames) t.last_frames.pop_front();
  t.last_frames.push_back(frame);
}

}  // namespace

Takeover takeover_at(const MachineSnapshot& snapshot) {
  Takeover t;
  t.icount = snapshot.icount;
  for (size_t i = 0; i < snapshot.last_clock.size(); ++i) {
    if (snapshot.last_clock[i]) {
      t.last_clock[static_cast<logchannel::ClockSource>(i + 1)] = *snapshot.last_clock[i];
    }
  }
  t.highest_connection = snapshot.highest_connection;
  t.open_connections.insert(snapshot.nic.open_conns.begin(), snapshot.nic.open_conns.end());
  // Events the guest has yet to take in were taken from the host already: as BackupRole
  // tracks inputs when it takes them, they count.
  for (const devices::NetEvent& ev : snapshot.nic.queue) {
    if (ev.kind == VMFT_NIC_KIND_TCP_OPEN) t.open_connections.insert(ev.conn);
    if (ev.kind == VMFT_NIC_KIND_TCP_CLOSE) t.open_connections.erase(ev.conn);
    if (ev.kind == VMFT_NIC_KIND_FRAME) remember_frame(t, ev.data);
  }
  if (snapshot.timer.compare != VMFT_TIMER_DISARMED) {
    t.timer = std::make_pair(snapshot.timer.compare, snapshot.timer.generation);
  }
  return t;
}

void BackupRole::sync() {
  Role& role = active();
  due_icount_ = role.due_icount();
  run_limit_ = role.run_limit();
}

// The machine looks for the end of the log at block boundaries, but a primary can be lost
// between two inputs of one block (they share its end count): the log then ends here, and the
// backup goes live in the middle of the block, where its primary stopped.
Role* BackupRole::inputs_at(uint64_t icount) {
  if (live_) return live_;
  if (declined_) return nullptr;
  if (!replay_.ended_here()) return &replay_;
  if (inputs_.stop_requested()) return nullptr;  // it stops at the next block boundary
  return try_go_live(icount) ? live_ : nullptr;
}

uint64_t BackupRole::clock(logchannel::ClockSource source, uint64_t icount) {
  Role* role = inputs_at(icount);
  const uint64_t value = role ? role->clock(source, icount) : 0;
  takeover_.last_clock[source] = value;
  sync();
  return value;
}

uint64_t BackupRole::entropy(uint64_t icount) {
  Role* role = inputs_at(icount);
  const uint64_t value = role ? role->entropy(icount) : 0;
  sync();
  return value;
}

void BackupRole::track(const HostInput& input) {
  const auto* ev = std::get_if<devices::NetEvent>(&input);
  if (!ev || ev->kind == VMFT_NIC_KIND_UDP) return;
  if (ev->kind == VMFT_NIC_KIND_FRAME) return remember_frame(takeover_, ev->data);
  takeover_.highest_connection = std::max(takeover_.highest_connection, ev->conn);
  if (ev->kind == VMFT_NIC_KIND_TCP_OPEN) takeover_.open_connections.insert(ev->conn);
  if (ev->kind == VMFT_NIC_KIND_TCP_CLOSE) takeover_.open_connections.erase(ev->conn);
}

void BackupRole::take_inputs(uint64_t icount, std::vector<HostInput>& out) {
  const size_t before = out.size();
  active().take_inputs(icount, out);
  for (size_t i = before; i < out.size(); ++i) track(out[i]);
  sync();
}

void BackupRole::wait_for_input(uint64_t icount) {
  active().wait_for_input(icount);
  sync();
}

// The replay stops where the log ends; if it ended because the primary is gone (not with the
// primary's own end, nor a damaged log, nor a stop request), the backup may go live instead.
bool BackupRole::should_stop(uint64_t icount) {
  if (live_) return live_->should_stop(icount);
  if (inputs_.stop_requested() || declined_) return true;
  if (!replay_.should_stop(icount)) return false;
  if (!replay_.exhausted()) return true;
  return !try_go_live(icount);
}

bool BackupRole::try_go_live(uint64_t icount) {
  takeover_.icount = icount;
  takeover_.timer = timer_.armed();
  forget_released_console();
  live_ = go_live_(takeover_);
  if (!live_) {
    declined_ = true;
    return false;
  }
  went_live_at_ = icount;
  timer_.go_live(live_->timer());
  sync();
  return true;
}

void BackupRole::hold(uint64_t executed, uint64_t icount) {
  active().hold(executed, icount);
  sync();
}

void BackupRole::interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) {
  active().interrupt_taken(icount, cause, pc);
  sync();
}

bool BackupRole::output(uint64_t icount, const logchannel::Output& output) {
  if (output.kind == logchannel::OutputKind::kTcpClose) {
    takeover_.open_connections.erase(output.conn);
  }
  Role* role = inputs_at(icount);
  const bool may_leave = role && role->output(icount, output);
  sync();
  if (!live_ && output.kind == logchannel::OutputKind::kConsole) {
    takeover_.unreleased_console.emplace_back(replay_.last_seq(), output.data);
    forget_released_console();
  }
  return may_leave;
}

void BackupRole::forget_released_console() {
  const uint64_t released = replay_.outputs_released();
  auto& console = takeover_.unreleased_console;
  while (!console.empty() && console.front().first <= released) console.pop_front();
}

void BackupRole::digest(uint64_t icount, const logchannel::StateDigest& digest) {
  active().digest(icount, digest);
  sync();
}

void BackupRole::end(uint64_t icount, const logchannel::RunEnd& end,
                     const logchannel::StateDigest& final) {
  active().end(icount, end, final);
  sync();
}

bool BackupRole::outputs_made(uint64_t icount) { return active().outputs_made(icount); }

void BackupRole::boundary_done(uint64_t icount, uint64_t pc) {
  active().boundary_done(icount, pc);
  sync();
}

void BackupRole::SwitchTimer::arm(uint64_t deadline, uint64_t generation) {
  armed_ = {deadline, generation};
  if (live_) live_->arm(deadline, generation);
}

void BackupRole::SwitchTimer::disarm() {
  armed_.reset();
  if (live_) live_->disarm();
}

void BackupRole::SwitchTimer::go_live(devices::TimerBackend& live) {
  live_ = &live;
  if (armed_) live_->arm(armed_->first, armed_->second);
}

}  // namespace vmft::hypervisor
