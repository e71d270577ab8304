#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/logchannel/Record.h"

namespace vmft::hypervisor {

/// The replay did not do what the log says the recorded run did. what() is the report.
class Divergence : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What differs between standalone, recorder and replayer (and later primary and backup):
/// where the nondeterministic inputs come from and where the log goes. The Machine calls one
/// method per kind of input or check, at one call site each, so every role sees exactly the
/// same sequence of calls. All calls come from the vCPU thread. A replaying role throws
/// Divergence from any of them.
class Role {
 public:
  /// `inputs` carries stop requests (and, for live roles, host inputs) from other threads.
  explicit Role(InputQueue& inputs) : inputs_(inputs) {}
  virtual ~Role() = default;

  /// The devices' host sides. Sends reach net() only after output() has seen them.
  virtual devices::TimerBackend& timer() = 0;
  virtual devices::NetBackend& net() = 0;

  // ---- inputs ----
  virtual uint64_t clock(logchannel::ClockSource source, uint64_t icount) = 0;
  virtual uint64_t entropy(uint64_t icount) = 0;
  /// Appends the host inputs that take effect now, at instruction count `icount` (a block
  /// boundary, or the point where the guest idles).
  virtual void take_inputs(uint64_t icount, std::vector<HostInput>& out) = 0;
  /// The guest idles at `icount` and nothing it waits for is pending. Blocks until inputs may
  /// be there (live), or returns at once (replay).
  virtual void wait_for_input(uint64_t icount) = 0;
  /// Whether the run ends at `icount` (a stop request; a replayer: where the recording ended;
  /// a backup whose primary is gone may instead go live here and answer false).
  virtual bool should_stop(uint64_t icount) = 0;

  /// Any thread: returns the vCPU from wait_for_input if it waits there (the machine has a
  /// task for its next safe point).
  void wake() { inputs_.wake(); }

  /// Checked at every block boundary, so inline: something from another thread is waiting
  /// (inputs or a stop request).
  bool attention() const { return inputs_.attention(); }
  const std::atomic<bool>& attention_flag() const { return inputs_.attention_flag(); }
  /// The instruction count at which the role needs a look at a block boundary (a replayer:
  /// its next record), or UINT64_MAX.
  uint64_t due_icount() const { return due_icount_; }
  /// Every record below this count is known. A block's inputs and checks are logged at the
  /// block's end count, so the machine runs a block ending below this without asking, and
  /// calls hold() for anything further. A backup: as far as the primary's log is known to be
  /// complete.
  uint64_t run_limit() const { return run_limit_; }
  /// Blocks until the machine may run the instructions below `icount` (a backup: until the
  /// primary's log has every record before them). The machine has executed every instruction
  /// below `executed` (a backup tells its primary, which may be waiting for it).
  virtual void hold(uint64_t executed, uint64_t icount) { (void)executed, (void)icount; }

  // ---- checks: a recorder logs them, a replayer compares them ----
  virtual void interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) = 0;
  /// Returns whether the output may leave: a recorder that could not log it holds it back,
  /// so that nothing a client sees is missing from the log.
  virtual bool output(uint64_t icount, const logchannel::Output& output) = 0;
  /// The outputs seen since the last call were made together (one console write, or the sends
  /// of one NIC doorbell): a recorder puts its log on its way before they leave. Returns
  /// whether they may leave, as output() does.
  virtual bool outputs_made(uint64_t icount) {
    (void)icount;
    return true;
  }
  virtual void digest(uint64_t icount, const logchannel::StateDigest& digest) = 0;
  /// The run is over, with `final` the state it ended in; a recorder writes both (end record
  /// first, so a replayer knows where to stop before it meets the digest) and closes the log.
  virtual void end(uint64_t icount, const logchannel::RunEnd& end,
                   const logchannel::StateDigest& final) = 0;
  /// At a block boundary, after the machine did everything due there: a replayer checks that
  /// no record due at or before `icount` is left over.
  virtual void boundary_done(uint64_t icount, uint64_t pc) { (void)icount, (void)pc; }

 protected:
  InputQueue& inputs_;
  uint64_t due_icount_ = UINT64_MAX;
  uint64_t run_limit_ = UINT64_MAX;
};

}  // namespace vmft::hypervisor
