#include "vmft/hypervisor/ReplayRole.h"

#include <fmt/format.h>

#include <algorithm>

#include "RiscvNames.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/logchannel/LogError.h"

namespace vmft::hypervisor {

using logchannel::Record;

namespace {

const char* clock_name(logchannel::ClockSource source) {
  switch (source) {
    case logchannel::ClockSource::kWall: return "wall clock";
    case logchannel::ClockSource::kMono: return "monotonic clock";
    case logchannel::ClockSource::kCsrTime: return "time CSR";
    case logchannel::ClockSource::kCsrCycle: return "cycle CSR";
  }
  return "clock";
}

std::string describe_end(const logchannel::RunEnd& end) {
  using Reason = logchannel::RunEnd::Reason;
  switch (end.reason) {
    case Reason::kExited: return fmt::format("exited with code {}", end.exit_code);
    case Reason::kFaulted: return "faulted";
    case Reason::kStopped: return "was stopped";
  }
  return "ended";
}

// What the replay feeds the guest (and the interrupts that follow from it), as opposed to
// what it only checks.
bool is_applied_input(const logchannel::RecordBody& body) {
  return std::holds_alternative<logchannel::ClockRead>(body) ||
         std::holds_alternative<logchannel::EntropyRead>(body) ||
         std::holds_alternative<logchannel::TimerFired>(body) ||
         std::holds_alternative<logchannel::NetInput>(body) ||
         std::holds_alternative<logchannel::InterruptTaken>(body);
}

}  // namespace

ReplayRole::ReplayRole(logchannel::RecordSource& log, InputQueue& stop_requests)
    : Role(stop_requests), log_(log), net_(log.header().has_udp, log.header().has_tcp, from_log(log.header().frames)) {
  update_due();
}

const Record* ReplayRole::head() {
  if (!head_ && !exhausted_) {
    try {
      head_ = log_.next_record();
    } catch (const logchannel::LogError& e) {
      log_error_ = e.what();
    }
    if (!head_ && (log_error_ || log_.ended())) exhausted_ = true;
  }
  return head_ ? &*head_ : nullptr;
}

// The head record was reproduced: it becomes the last match.
void ReplayRole::pop() {
  head();
  last_ = std::move(head_);
  head_.reset();
  ++stats_.records;
  if (std::holds_alternative<logchannel::StateDigest>(last_->body)) {
    window_.verified(last_->icount);
  } else if (is_applied_input(last_->body)) {
    window_.applied(*last_);
  }
  update_due();
}

// The next boundary the machine must look at: the next record's, or at once when the log
// has run out (so a guest that keeps computing stops where the recording did), and at least
// every kReachedInterval instructions to tell the log where the replay is. A live log that
// has no next record yet is looked at again when the machine reaches run_limit().
//
// The run limit is read before the head, never after: a live log's records arrive on another
// thread, and a batch that lands between the two reads would raise the limit past a record
// that the head, read before it came, did not show; the machine would run past that record's
// instruction without applying it. Read first, the limit only promises what had arrived, and
// the head read after it sees all of that.
void ReplayRole::update_due() {
  run_limit_ = log_.complete_below();
  const Record* next = head();
  due_icount_ = std::min(next ? next->icount : exhausted_ ? 0 : UINT64_MAX, next_reached_);
}

// The machine would run instructions below `icount`: wait until the log has every record
// that comes before them (at once for a file).
void ReplayRole::hold(uint64_t executed, uint64_t icount) {
  reached(executed);  // before it waits: a primary that waits for its backup hears where it is
  log_.wait_for(icount);
  update_due();
}

void ReplayRole::diverge(uint64_t icount, const std::string& what) const {
  std::string report = fmt::format("replay diverged at instruction {}: {}", icount, what);
  if (head_) report += "\n  the log's next record: " + logchannel::describe(*head_);
  if (last_) report += "\n  the last record that matched: " + logchannel::describe(*last_);
  report += window_.describe(icount);
  throw Divergence(report);
}

// The next record, checked to be a T due at `icount`; it stays at the head until pop(), so
// that a report about its content still shows it as the next record, not as matched. When the
// replay has gone past the next record's instruction without reproducing it, it parted from
// the recording there (as in boundary_done), and the report says so.
template <typename T>
const T& ReplayRole::expect(uint64_t icount, const char* what) {
  const Record* next = head();
  if (!next) diverge(icount, fmt::format("the guest {}, but the log has ended", what));
  const uint64_t parted = std::min(icount, next->icount);
  if (!std::holds_alternative<T>(next->body)) {
    diverge(parted,
            fmt::format("the guest {} at instruction {}, but the log has a {} record at {}", what,
                        icount, logchannel::record_type_name(next->body), next->icount));
  }
  if (next->icount != icount) {
    diverge(parted, fmt::format("the guest {} at instruction {}, the recording at {}", what, icount,
                                next->icount));
  }
  return std::get<T>(next->body);
}

uint64_t ReplayRole::clock(logchannel::ClockSource source, uint64_t icount) {
  const auto& read =
      expect<logchannel::ClockRead>(icount, fmt::format("read the {}", clock_name(source)).c_str());
  if (read.source != source) {
    diverge(icount, fmt::format("the guest read the {}, the recording the {}", clock_name(source),
                                clock_name(read.source)));
  }
  const uint64_t value = read.value;
  pop();
  ++stats_.inputs;
  return value;
}

uint64_t ReplayRole::entropy(uint64_t icount) {
  const uint64_t value = expect<logchannel::EntropyRead>(icount, "read entropy").value;
  pop();
  ++stats_.inputs;
  return value;
}

void ReplayRole::take_inputs(uint64_t icount, std::vector<HostInput>& out) {
  for (const Record* next = head(); next && next->icount == icount; next = head()) {
    if (const auto* t = std::get_if<logchannel::TimerFired>(&next->body)) {
      out.push_back(TimerExpired{t->generation});
    } else if (const auto* n = std::get_if<logchannel::NetInput>(&next->body)) {
      out.push_back(devices::NetEvent{n->kind, n->conn, n->peer_ip, n->peer_port, n->data});
    } else {
      return;
    }
    ++stats_.inputs;
    pop();
  }
}

void ReplayRole::reached(uint64_t icount) {
  log_.reached(icount);
  if (icount >= next_reached_) {
    next_reached_ = icount + kReachedInterval;
    update_due();
  }
}

void ReplayRole::wait_for_input(uint64_t icount) {
  reached(icount);
  const Record* next = head();
  if (!next || next->icount != icount) {
    diverge(icount, "the guest waits for an interrupt that the recording never gave it here");
  }
}

bool ReplayRole::should_stop(uint64_t icount) {
  if (inputs_.stop_requested() || exhausted_) return true;
  const auto* end = head_ ? std::get_if<logchannel::RunEnd>(&head_->body) : nullptr;
  return end && end->reason == logchannel::RunEnd::Reason::kStopped && head_->icount == icount;
}

void ReplayRole::interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) {
  const auto& irq =
      expect<logchannel::InterruptTaken>(icount, fmt::format("took interrupt {}", cause).c_str());
  if (irq.cause != cause || irq.pc != pc) {
    diverge(icount,
            fmt::format("the guest took interrupt {} at pc {:#x}, the recording {} at {:#x}", cause,
                        pc, irq.cause, irq.pc));
  }
  pop();
  ++stats_.interrupts;
}

bool ReplayRole::output(uint64_t icount, const logchannel::Output& output) {
  if (expect<logchannel::Output>(icount, "sent output") != output) {
    Record replayed{0, icount, output};
    diverge(icount, "the guest's output differs from the recording's\n  replayed: " +
                        logchannel::describe(replayed));
  }
  pop();
  ++stats_.outputs;
  return true;
}

void ReplayRole::digest(uint64_t icount, const logchannel::StateDigest& digest) {
  const std::string difference = describe_digest_difference(
      expect<logchannel::StateDigest>(icount, "reached a state check"), digest);
  if (!difference.empty()) {
    diverge(icount, "guest state differs:\n" + difference.substr(0, difference.size() - 1));
  }
  pop();
  ++stats_.digests;
}

void ReplayRole::end(uint64_t icount, const logchannel::RunEnd& end,
                     const logchannel::StateDigest& final) {
  if (inputs_.stop_requested() || log_error_) return;  // stopped, or the log is damaged
  if (!head()) return;                                 // the recording was cut short (killed)
  const auto& recorded = expect<logchannel::RunEnd>(icount, "ended");
  if (recorded != end) {
    diverge(icount, fmt::format("the replay {}, the recording {}", describe_end(end),
                                describe_end(recorded)));
  }
  pop();
  digest(icount, final);
  if (head()) diverge(icount, "the log goes on after the recording's end");
  stats_.complete = true;
}

// A record still due here was not reproduced. The replay parts from the recording at that
// record's instruction: that is where the report says it diverged.
void ReplayRole::boundary_done(uint64_t icount, uint64_t pc) {
  reached(icount);
  const Record* next = head();
  if (!next || next->icount > icount) return;
  if (std::holds_alternative<logchannel::RunEnd>(next->body)) return;
  const bool input = std::holds_alternative<logchannel::TimerFired>(next->body) ||
                     std::holds_alternative<logchannel::NetInput>(next->body);
  if (input && next->icount < icount) {
    diverge(next->icount,
            fmt::format("the log applies a {} input here, but no block of the replay starts at "
                        "this instruction (a recording applies inputs only where one does); the "
                        "replay went on to the block at instruction {}, pc {:#x}",
                        logchannel::record_type_name(next->body), icount, pc));
  }
  diverge(next->icount, fmt::format("the recording has a {} record here that the replay did not "
                                    "reproduce (the replay is now at instruction {}, pc {:#x})",
                                    logchannel::record_type_name(next->body), icount, pc));
}

void DivergenceWindow::verified(uint64_t icount) {
  *this = DivergenceWindow();
  verified_icount_ = icount;
}

void DivergenceWindow::applied(const Record& record) {
  if (count_ == 0) first_icount_ = record.icount;
  if (count_ == 0 || record.icount != last_icount_) last_pc_.reset();
  last_icount_ = record.icount;
  if (const auto* irq = std::get_if<logchannel::InterruptTaken>(&record.body)) last_pc_ = irq->pc;
  if (listed_.size() < kListedInputs) listed_.push_back(logchannel::describe(record));
  ++count_;
}

std::string DivergenceWindow::describe(uint64_t detected) const {
  std::string out = "\n  state last verified equal to the recording's: ";
  out += verified_icount_ ? fmt::format("the digest at instruction {}", *verified_icount_)
                          : std::string("boot (instruction 0)");
  out += fmt::format("\n  difference detected at instruction {}", detected);
  return out + describe_inputs();
}

// Where the state matched, execution up to the next input repeats the recording's exactly;
// so the first difference lies at or after the first input applied since.
std::string DivergenceWindow::describe_inputs() const {
  if (count_ == 0) {
    return "\n  the replay applied no input in between, and execution between inputs is "
           "deterministic: its state should still equal the recording's, so the log differs "
           "from what the recording saw (a record changed, moved or missing), or the replay is "
           "not deterministic";
  }
  std::string out;
  if (first_icount_ == last_icount_) {
    const std::string pc = last_pc_ ? fmt::format(" (pc {:#x})", *last_pc_) : "";
    out = fmt::format("\n  guest state first differs at instruction {}{}, ", last_icount_, pc);
    out += count_ == 1 ? "at the one input the replay applied in between:"
                       : fmt::format("where the replay applied all {} inputs in between:", count_);
  } else {
    out = fmt::format(
        "\n  guest state first differs at or after the first of the {} inputs the replay applied "
        "in between (the state matched before it, and between inputs execution is "
        "deterministic):",
        count_);
  }
  for (const std::string& line : listed_) out += "\n    " + line;
  if (count_ > listed_.size()) out += fmt::format("\n    ... and {} more", count_ - listed_.size());
  return out;
}

std::string describe_digest_difference(const logchannel::StateDigest& recorded,
                                       const logchannel::StateDigest& replayed) {
  std::string out;
  for (size_t i = 0; i < recorded.regs.size(); ++i) {
    if (recorded.regs[i] != replayed.regs[i]) {
      out += fmt::format("  {:>8}: recorded {:#018x}, replayed {:#018x}\n",
                         i == 0 ? "pc" : kRegisterNames[i], recorded.regs[i], replayed.regs[i]);
    }
  }
  for (size_t i = 0; i < recorded.csrs.size(); ++i) {
    if (recorded.csrs[i] != replayed.csrs[i]) {
      out += fmt::format("  {:>8}: recorded {:#018x}, replayed {:#018x}\n", kDigestCsrs[i].name,
                         recorded.csrs[i], replayed.csrs[i]);
    }
  }
  if (recorded.devices != replayed.devices) out += "  device state differs\n";
  if (recorded.ram_chunks.size() != replayed.ram_chunks.size()) {
    out += fmt::format("  RAM size differs: recorded {} chunks, replayed {}\n",
                       recorded.ram_chunks.size(), replayed.ram_chunks.size());
    return out;
  }
  const uint64_t chunk = logchannel::StateDigest::kDigestChunkBytes;
  for (size_t i = 0; i < recorded.ram_chunks.size(); ++i) {
    if (recorded.ram_chunks[i] != replayed.ram_chunks[i]) {
      out += fmt::format("  RAM differs in [{:#x}, {:#x})\n", 0x80000000ULL + i * chunk,
                         0x80000000ULL + (i + 1) * chunk);
    }
  }
  return out;
}

}  // namespace vmft::hypervisor
