#pragma once
// The primary's end of the log (ft::PrimaryEnd) over a LogLink, for the real ft::LiveSide in
// the simulation: it hears the backup lost when the link's primary end gives it up (a
// partition, a backup gone silent past the peer timeout, a close), and the backup's ack of an
// epoch. No backup joins here yet: a joiner is never taken, and pre-copy sends fail.
#include <chrono>
#include <stdexcept>

#include "vmft/ft/PrimaryEnd.h"
#include "vmft/sim/LogLink.h"

namespace vmft::sim {

class SimPrimaryEnd final : public ft::PrimaryEnd {
 public:
  /// `backup_leaves`: every backup lost said goodbye first (only for the test that breaks the
  /// pair with it: a live side without an arbiter then goes on alone without asking).
  explicit SimPrimaryEnd(LogLink& link, bool backup_leaves = false)
      : link_(link), backup_leaves_(backup_leaves) {}

  void listen(Listener listener) override;
  void accept_joiners() override { accepting_joiners_ = true; }
  void accept_nothing() override { accepting_joiners_ = false; }
  /// A simulated backup never says goodbye: it is lost.
  bool backup_left() const override { return backup_leaves_; }
  bool lost() const override { return link_.primary_gave_up_at().has_value(); }
  /// A simulated pair never stops through ft::stop_side (the scenario ends it), whose blocking
  /// waits the scheduler's one thread could not serve: these refuse, so that a scenario that
  /// starts to use them fails at once.
  void wait_acknowledged(std::chrono::milliseconds) override {
    throw std::logic_error("SimPrimaryEnd: a simulated side does not stop through stop_side");
  }
  void shutdown() override {
    throw std::logic_error("SimPrimaryEnd: a simulated side does not stop through stop_side");
  }
  void send_epoch(uint64_t epoch) override { link_.send_epoch(epoch); }
  bool send_ram(uint64_t, uint64_t, std::span<const uint8_t>) override { return false; }
  bool start_stream(uint64_t, uint64_t, uint64_t,
                    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>&,
                    std::span<const uint8_t>) override {
    return false;
  }

  /// Whether a backup that joined would be taken now.
  bool accepting_joiners() const { return accepting_joiners_; }

 private:
  LogLink& link_;
  bool backup_leaves_;
  Listener listener_;
  bool accepting_joiners_ = false;
};

}  // namespace vmft::sim
