// The machine's side of its Role: every nondeterministic input and every check passes
// through exactly one call site here (or in Traps.cc for the counter CSRs), with the
// instruction count at which it happens.
#include <xxhash.h>

#include <algorithm>
#include <utility>

#include "MachineImpl.h"
#include "RiscvNames.h"
#include "vmft/guest/abi.h"

namespace vmft::hypervisor {

using logchannel::ClockSource;
using logchannel::Output;
using logchannel::OutputKind;

uint64_t Machine::Impl::RoleClock::wall_ns() { return m_.read_clock(ClockSource::kWall); }
uint64_t Machine::Impl::RoleClock::mono_ns() { return m_.read_clock(ClockSource::kMono); }

uint64_t Machine::Impl::read_clock(ClockSource source) {
  const uint64_t value = role_.clock(source, icount_);
  last_clock_[static_cast<size_t>(source) - 1] = value;
  return value;
}
uint64_t Machine::Impl::RoleEntropy::next() { return m_.role_.entropy(m_.icount_); }

bool Machine::Impl::OutputTap::has_udp() const { return m_.role_.net().has_udp(); }
bool Machine::Impl::OutputTap::has_tcp() const { return m_.role_.net().has_tcp(); }
std::optional<devices::FrameConfig> Machine::Impl::OutputTap::frames() const {
  return m_.role_.net().frames();
}

// The payload moves into the check and on to the network: a send copies it only when a
// recorder logs it. A send the role holds back (a recorder that could not log it) goes nowhere.
void Machine::Impl::OutputTap::made(Output output) {
  if (m_.role_.output(m_.icount_, output)) made_.emplace_back(&m_.role_.net(), std::move(output));
}

void Machine::Impl::OutputTap::send_udp(uint32_t peer_ip, uint32_t peer_port,
                                        std::vector<uint8_t> data) {
  made({OutputKind::kUdp, 0, peer_ip, peer_port, std::move(data)});
}

void Machine::Impl::OutputTap::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  made({OutputKind::kTcpData, conn, 0, 0, std::move(data)});
}

void Machine::Impl::OutputTap::close_tcp(uint32_t conn) {
  made({OutputKind::kTcpClose, conn, 0, 0, {}});
}

void Machine::Impl::OutputTap::send_frame(std::vector<uint8_t> frame) {
  made({OutputKind::kFrame, 0, 0, 0, std::move(frame)});
}

// made_ keeps its capacity from one doorbell to the next.
void Machine::Impl::OutputTap::flush() {
  if (m_.role_.outputs_made(m_.icount_)) {
    for (auto& [net, out] : made_) {
      switch (out.kind) {
        case OutputKind::kUdp:
          net->send_udp(out.peer_ip, out.peer_port, std::move(out.data));
          break;
        case OutputKind::kTcpData: net->send_tcp(out.conn, std::move(out.data)); break;
        case OutputKind::kTcpClose: net->close_tcp(out.conn); break;
        case OutputKind::kFrame: net->send_frame(std::move(out.data)); break;
        case OutputKind::kConsole: break;  // not a network output
      }
    }
    if (!made_.empty() && made_.front().first != &m_.role_.net()) made_.front().first->flush();
    m_.role_.net().flush();
  }
  made_.clear();
}

void Machine::Impl::OutputTap::delivered(const devices::NetEvent& event) {
  m_.role_.net().delivered(event);
}

void Machine::Impl::write_console(std::span<const uint8_t> bytes) {
  const bool may_leave =
      role_.output(icount_, Output{OutputKind::kConsole, 0, 0, 0, {bytes.begin(), bytes.end()}}) &&
      role_.outputs_made(icount_);
  if (may_leave && config_.console) config_.console(bytes);
}

void Machine::Impl::take_inputs(uint64_t icount) {
  // See last_interrupt_icount_: no inputs at the handler's first block.
  if (icount == last_interrupt_icount_) return;
  std::vector<HostInput> inputs;
  role_.take_inputs(icount, inputs);
  for (HostInput& input : inputs) {
    if (auto* t = std::get_if<TimerExpired>(&input)) {
      timer_.expire(t->generation);
    } else {
      auto& event = std::get<devices::NetEvent>(input);
      highest_connection_ = std::max(highest_connection_, event.conn);
      nic_.enqueue(std::move(event));
    }
  }
  if (!inputs.empty()) boundary_work_ = true;
}

void Machine::Impl::take_digest_if_due(uint64_t icount, uint64_t pc) {
  if (icount < next_digest_icount_) return;
  role_.digest(icount, state_digest(pc));
  next_digest_icount_ = icount - icount % config_.digest_interval + config_.digest_interval;
}

logchannel::StateDigest Machine::Impl::state_digest(uint64_t pc) const {
  logchannel::StateDigest d;
  d.regs[0] = pc;
  for (int i = 1; i < 32; ++i) d.regs[i] = reg(UC_RISCV_REG_X0 + i);
  static_assert(std::size(kDigestCsrs) == std::tuple_size_v<decltype(d.csrs)>);
  for (size_t i = 0; i < d.csrs.size(); ++i) d.csrs[i] = reg(kDigestCsrs[i].uc_reg);
  d.devices = devices::hash_combine(timer_.state_hash(), nic_.state_hash());
  const uint64_t chunk = logchannel::StateDigest::kDigestChunkBytes;
  d.ram_chunks.resize((ram_.size() + chunk - 1) / chunk);
  for (size_t i = 0; i < d.ram_chunks.size(); ++i) {
    const uint64_t offset = i * chunk;
    d.ram_chunks[i] = XXH3_64bits(ram_.data() + offset, std::min(chunk, ram_.size() - offset));
  }
  return d;
}

logchannel::RunEnd Machine::Impl::run_end() const {
  using Reason = logchannel::RunEnd::Reason;
  switch (state_) {
    case State::kExited: return {Reason::kExited, exit_code_};
    case State::kFaulted: return {Reason::kFaulted, 0};
    default: return {Reason::kStopped, 0};
  }
}

void Machine::Impl::diverged(const std::string& report) {
  if (state_ == State::kDiverged) return;
  state_ = State::kDiverged;
  report_ = report + "\n" + register_dump();
  uc_emu_stop(uc_);
}

}  // namespace vmft::hypervisor
