#include "vmft/hypervisor/LiveRole.h"

#include "vmft/logchannel/LogError.h"

namespace vmft::hypervisor {

using logchannel::ClockSource;

LiveRole::LiveRole(HostServices host, InputQueue& inputs, logchannel::RecordSink* log,
                   OutputGate* gate)
    : Role(inputs), host_(host), log_(log), gate_(gate) {}

void LiveRole::report_progress_every(uint64_t instructions) {
  progress_interval_ = instructions;
  due_icount_ = instructions;
}

template <typename F>
void LiveRole::write_log(F&& write) {
  if (!log_) return;
  try {
    write(*log_);
  } catch (const logchannel::LogError& e) {
    log_error_ = e.what();
    log_ = nullptr;
    inputs_.request_stop();
  }
}

void LiveRole::log(uint64_t icount, logchannel::RecordBody body) {
  write_log([&](logchannel::RecordSink& log) {
    log.append(logchannel::Record{++seq_, icount, std::move(body)});
  });
}

uint64_t LiveRole::clock(ClockSource source, uint64_t icount) {
  const uint64_t value =
      source == ClockSource::kWall ? host_.clock.wall_ns() : host_.clock.mono_ns();
  log(icount, logchannel::ClockRead{source, value});
  return value;
}

uint64_t LiveRole::entropy(uint64_t icount) {
  const uint64_t value = host_.entropy.next();
  log(icount, logchannel::EntropyRead{value});
  return value;
}

void LiveRole::take_inputs(uint64_t icount, std::vector<HostInput>& out) {
  if (!inputs_.attention()) return;
  for (HostInput& input : inputs_.take_all()) {
    if (const auto* t = std::get_if<TimerExpired>(&input)) {
      log(icount, logchannel::TimerFired{t->generation});
    } else {
      const auto& ev = std::get<devices::NetEvent>(input);
      log(icount, logchannel::NetInput{ev.kind, ev.conn, ev.peer_ip, ev.peer_port, ev.data});
    }
    out.push_back(std::move(input));
  }
}

// Before anything leaves the guest, the log so far goes to the file (see outputs_made()), so a
// recorder that is killed loses nothing a client could have seen. An idle guest's log also
// goes out, at most once a second: a frame per tick would cost more than the ticks.
void LiveRole::wait_for_input(uint64_t icount) {
  constexpr uint64_t kIdleFlushInterval = 1'000'000'000;  // ns
  if (log_) {
    write_log([icount](logchannel::RecordSink& log) { log.progress(icount); });
    const uint64_t now = host_.clock.mono_ns();
    if (now - last_idle_flush_ >= kIdleFlushInterval) {
      write_log([](logchannel::RecordSink& log) { log.flush(); });
      last_idle_flush_ = now;
    }
  }
  inputs_.wait();
}

void LiveRole::interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) {
  log(icount, logchannel::InterruptTaken{cause, pc});
}

bool LiveRole::output(uint64_t icount, const logchannel::Output& output) {
  // Before its record can reach the backup: an acknowledgement of the record must find the
  // gate holding for this output, or the output would count as gone before it was made.
  if (gate_) gate_->hold_until(seq_ + 1);
  log(icount, output);
  return !log_error_;
}

bool LiveRole::outputs_made(uint64_t icount) {
  write_log([icount](logchannel::RecordSink& log) {
    log.progress(icount);
    log.flush();
  });
  return !log_error_;
}

void LiveRole::digest(uint64_t icount, const logchannel::StateDigest& digest) {
  log(icount, digest);
}

void LiveRole::end(uint64_t icount, const logchannel::RunEnd& end,
                   const logchannel::StateDigest& final) {
  log(icount, end);
  log(icount, final);
  write_log([](logchannel::RecordSink& log) { log.close(); });
}

// Every record below this boundary's instruction count is logged (those at it may follow).
void LiveRole::boundary_done(uint64_t icount, uint64_t) {
  reached_.store(icount, std::memory_order_relaxed);
  if (!log_) return;
  write_log([icount](logchannel::RecordSink& log) { log.progress(icount); });
  if (progress_interval_) due_icount_ = icount + progress_interval_;
}

}  // namespace vmft::hypervisor
