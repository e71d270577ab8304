#pragma once

#include <atomic>

#include <optional>
#include <string>

#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/hypervisor/Role.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::hypervisor {

/// The real host: clocks, randomness, timer and network. They must outlive the role.
struct HostServices {
  devices::HostClock& clock;
  devices::EntropySource& entropy;
  devices::TimerBackend& timer;
  devices::NetBackend& net;
};

/// Inputs from the host. Standalone (`vmft run`) when `log` is null; the recorder
/// (`vmft record`) when it is a file; the primary (`vmft primary`) when it is the logging
/// channel and `gate` holds the guest's sends until the backup has the log up to them.
class LiveRole final : public Role {
 public:
  LiveRole(HostServices host, InputQueue& inputs, logchannel::RecordSink* log,
           OutputGate* gate = nullptr);

  /// A primary tells its backup how far it got at least every `instructions` (the backup
  /// never runs past that), so that a guest that takes no inputs does not stall it.
  void report_progress_every(uint64_t instructions);

  devices::TimerBackend& timer() override { return host_.timer; }
  devices::NetBackend& net() override {
    return gate_ ? static_cast<devices::NetBackend&>(*gate_) : host_.net;
  }

  uint64_t clock(logchannel::ClockSource source, uint64_t icount) override;
  uint64_t entropy(uint64_t icount) override;
  void take_inputs(uint64_t icount, std::vector<HostInput>& out) override;
  void wait_for_input(uint64_t icount) override;
  bool should_stop(uint64_t) override { return inputs_.stop_requested(); }

  void interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) override;
  bool output(uint64_t icount, const logchannel::Output& output) override;
  bool outputs_made(uint64_t icount) override;
  void digest(uint64_t icount, const logchannel::StateDigest& digest) override;
  void end(uint64_t icount, const logchannel::RunEnd& end,
           const logchannel::StateDigest& final) override;
  void boundary_done(uint64_t icount, uint64_t pc) override;

  /// The seq of the last record logged, 0 before the first (vCPU thread). A snapshot taken in
  /// a boundary task comes before every record after it: a backup that joins with that
  /// snapshot replays the log from last_seq() + 1.
  uint64_t last_seq() const { return seq_; }
  /// The instruction count of the last block boundary (any thread): how far the guest ran.
  uint64_t reached() const { return reached_.load(std::memory_order_relaxed); }

  /// Why writing the log failed (a full disk, say), if it did. The run is then stopped at
  /// once rather than going on unrecorded.
  const std::optional<std::string>& log_error() const { return log_error_; }

 private:
  void log(uint64_t icount, logchannel::RecordBody body);
  /// Runs a write to the log; on failure remembers why, stops the run and writes no more.
  template <typename F>
  void write_log(F&& write);

  HostServices host_;
  logchannel::RecordSink* log_;
  OutputGate* gate_;
  uint64_t progress_interval_ = 0;
  uint64_t seq_ = 0;
  std::atomic<uint64_t> reached_{0};
  uint64_t last_idle_flush_ = 0;  ///< host monotonic ns
  std::optional<std::string> log_error_;
};

}  // namespace vmft::hypervisor
