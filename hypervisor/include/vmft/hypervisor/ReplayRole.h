#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vmft/hypervisor/Role.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::hypervisor {

/// What a replay checked.
struct ReplayStats {
  uint64_t records = 0;
  uint64_t inputs = 0;  ///< clock, entropy, timer and network records fed to the guest
  uint64_t outputs = 0;
  uint64_t interrupts = 0;
  uint64_t digests = 0;
  bool complete = false;  ///< the log had an end record, and the replay reached it
};

/// The inputs a replay applied since its state was last verified equal to the recording's (a
/// digest that matched, or boot). Between inputs execution is deterministic, so guest state
/// first differs at or after the first of them: a divergence report shows them. Its memory is
/// bounded however many inputs come between two digests.
class DivergenceWindow {
 public:
  /// A digest at `icount` matched: the window starts again there.
  void verified(uint64_t icount);
  /// The replay applied `record`: an input, or an interrupt it took.
  void applied(const logchannel::Record& record);
  /// Report lines, each after a newline, for a difference detected at `detected`.
  std::string describe(uint64_t detected) const;

  /// The inputs a report lists, from the first: the difference lies at or after the first.
  /// Later ones are only counted.
  static constexpr size_t kListedInputs = 8;

 private:
  std::string describe_inputs() const;

  std::optional<uint64_t> verified_icount_;  ///< none: the state was verified only at boot
  std::vector<std::string> listed_;          ///< describe() lines, not records: bounded
  uint64_t count_ = 0;
  uint64_t first_icount_ = 0;
  uint64_t last_icount_ = 0;
  std::optional<uint64_t> last_pc_;  ///< of an interrupt taken at last_icount_
};

/// Inputs from a log, and every check compared with it: the replayer (a log file) and the
/// backup (the logging channel, which it never runs ahead of). Uses no host clock, socket or
/// randomness at all. Throws Divergence at the first difference.
class ReplayRole final : public Role {
 public:
  ReplayRole(logchannel::RecordSource& log, InputQueue& stop_requests);

  devices::TimerBackend& timer() override { return timer_; }
  devices::NetBackend& net() override { return net_; }

  uint64_t clock(logchannel::ClockSource source, uint64_t icount) override;
  uint64_t entropy(uint64_t icount) override;
  void take_inputs(uint64_t icount, std::vector<HostInput>& out) override;
  void wait_for_input(uint64_t icount) override;
  bool should_stop(uint64_t icount) override;

  void interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) override;
  bool output(uint64_t icount, const logchannel::Output& output) override;
  void digest(uint64_t icount, const logchannel::StateDigest& digest) override;
  void end(uint64_t icount, const logchannel::RunEnd& end,
           const logchannel::StateDigest& final) override;
  void boundary_done(uint64_t icount, uint64_t pc) override;
  void hold(uint64_t executed, uint64_t icount) override;

  const ReplayStats& stats() const { return stats_; }
  /// The seq of the last record reproduced (0: none yet).
  uint64_t last_seq() const { return last_ ? last_->seq : 0; }
  /// The log's outputs_released(): the recording side sent every output through this seq.
  uint64_t outputs_released() const { return log_.outputs_released(); }
  /// Every record was reproduced and no more will come (the file ended, or a live log's
  /// primary is gone), without the recording's end.
  bool exhausted() const { return exhausted_ && !log_error_; }
  /// The log is exhausted() with nothing left to reproduce: it ended here, perhaps in the
  /// middle of a block (a primary lost between two of the block's inputs).
  bool ended_here() { return !head() && exhausted(); }
  /// Why the log could not be read to its end (a truncated or corrupt frame), if it could not.
  /// The replay stops where the readable part ends.
  const std::optional<std::string>& log_error() const { return log_error_; }

 private:
  /// Timer arming is the guest's business; when it fired is in the log.
  class NoTimer final : public devices::TimerBackend {
   public:
    void arm(uint64_t, uint64_t) override {}
    void disarm() override {}
  };
  /// Sends were compared by output(); nothing leaves a replay.
  class NoNet final : public devices::NetBackend {
   public:
    NoNet(bool udp, bool tcp, std::optional<devices::FrameConfig> frames)
        : udp_(udp), tcp_(tcp), frames_(frames) {}
    bool has_udp() const override { return udp_; }
    bool has_tcp() const override { return tcp_; }
    std::optional<devices::FrameConfig> frames() const override { return frames_; }
    void send_udp(uint32_t, uint32_t, std::vector<uint8_t>) override {}
    void send_tcp(uint32_t, std::vector<uint8_t>) override {}
    void close_tcp(uint32_t) override {}
    void send_frame(std::vector<uint8_t>) override {}
    void delivered(const devices::NetEvent&) override {}

   private:
    bool udp_, tcp_;
    std::optional<devices::FrameConfig> frames_;
  };

  const logchannel::Record* head();
  void pop();
  template <typename T>
  const T& expect(uint64_t icount, const char* what);
  [[noreturn]] void diverge(uint64_t icount, const std::string& what) const;
  void update_due();
  /// Tells the log the replay executed everything below `icount`.
  void reached(uint64_t icount);

  static constexpr uint64_t kReachedInterval = 1u << 18;

  logchannel::RecordSource& log_;
  uint64_t next_reached_ = 0;  ///< a boundary at or after it tells the log where the replay is
  NoTimer timer_;
  NoNet net_;
  std::optional<logchannel::Record> head_;
  bool exhausted_ = false;
  std::optional<std::string> log_error_;
  std::optional<logchannel::Record> last_;  ///< the last record reproduced, for reports
  DivergenceWindow window_;
  ReplayStats stats_;
};

/// The differences between two digests, one per line (registers with both values, RAM
/// ranges); empty when they are equal.
std::string describe_digest_difference(const logchannel::StateDigest& recorded,
                                       const logchannel::StateDigest& replayed);

}  // namespace vmft::hypervisor
