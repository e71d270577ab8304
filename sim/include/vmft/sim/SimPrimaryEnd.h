#pragma once
// The primary's end of the log (ft::PrimaryEnd) over LogLinks, for the real ft::LiveSide in
// the simulation: it hears its backup lost when the link's primary end gives it up (a
// partition, a backup gone silent past the peer timeout, a close), and the backup's ack of an
// epoch. It takes a joiner as vmft's channel does (channel/PrimaryEnd.cc): one at a time, and
// only while the live side accepts joiners; the joiner's link starts at once (its heartbeats
// and peer timeout), the pre-copy's RAM and then the changed pages and the snapshot travel on
// it in order with the log, whose records from the snapshot's on go to the joiner; in_sync
// comes once the joiner says it restored the snapshot. What the side's vCPU appends goes
// through sink() to the backup streaming from it, if any.
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "vmft/ft/PrimaryEnd.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/logchannel/RecordStream.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

class SimPrimaryEnd final : public ft::PrimaryEnd {
 public:
  /// What a joiner gets, each as it reaches it (scheduler tasks).
  struct Joiner {
    /// Pre-copy: RAM at `offset`.
    std::function<void(uint64_t offset, const std::vector<uint8_t>& bytes)> ram;
    /// The pages changed since, the snapshot, and the log from record `seq` on: whether the
    /// joiner restored the machine (it then says so to this end: in_sync).
    std::function<bool(uint64_t seq, const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>&,
                       const std::vector<uint8_t>& snapshot)>
        stream;
  };

  /// A side paired with its backup on `link`. `backup_leaves`: every backup lost said goodbye
  /// first (only for the test that breaks the pair with it: a live side without an arbiter
  /// then goes on alone without asking).
  explicit SimPrimaryEnd(LogLink& link, bool backup_leaves = false)
      : link_(&link), backup_leaves_(backup_leaves) {}
  /// A side that starts alone (a backup gone live): no backup until one joins.
  SimPrimaryEnd() = default;

  /// The log the side's vCPU (`vcpu`) appends to, whose acknowledgements go to `gate`: to the
  /// backup that streams from it (at first the one on the link it was built with), or nowhere.
  logchannel::RecordSink& sink(Vcpu& vcpu, hypervisor::OutputGate& gate);
  /// A joiner connects on `link`, whose backup end is its own (a task): if joiners are taken,
  /// it is (no other is until the live side accepts joiners again), the live side hears join,
  /// and the link starts; returns its session, or 0 if refused.
  uint64_t connect(LogLink& link, Joiner joiner);

  void listen(Listener listener) override;
  void accept_joiners() override { accepting_joiners_ = true; }
  void accept_nothing() override { accepting_joiners_ = false; }
  /// A simulated backup never says goodbye: it is lost.
  bool backup_left() const override { return backup_leaves_; }
  bool lost() const override { return !link_ || link_->primary_gave_up_at().has_value(); }
  /// A simulated pair never stops through ft::stop_side (the scenario ends it), whose blocking
  /// waits the scheduler's one thread could not serve: these refuse, so that a scenario that
  /// starts to use them fails at once.
  void wait_acknowledged(std::chrono::milliseconds) override {
    throw std::logic_error("SimPrimaryEnd: a simulated side does not stop through stop_side");
  }
  void shutdown() override {
    throw std::logic_error("SimPrimaryEnd: a simulated side does not stop through stop_side");
  }
  void send_epoch(uint64_t epoch) override {
    if (link_) link_->send_epoch(epoch);
  }
  bool send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes) override;
  bool start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                    std::span<const uint8_t> snapshot) override;

  /// Whether a backup that joined would be taken now.
  bool accepting_joiners() const { return accepting_joiners_; }

 private:
  /// The records go to the backup that streams, if any.
  class Relay final : public logchannel::RecordSink {
   public:
    explicit Relay(SimPrimaryEnd& end) : end_(end) {}
    void append(const logchannel::Record& record) override;
    void flush() override {}
    void close() override;
    void progress(uint64_t icount) override;

   private:
    SimPrimaryEnd& end_;
  };

  void listen_to(LogLink& link);
  bool joiner_there(uint64_t session) const;

  LogLink* link_ = nullptr;  ///< the backup's (the last joiner's once one connected)
  bool backup_leaves_ = false;
  Listener listener_;
  bool accepting_joiners_ = false;
  Relay relay_{*this};
  Vcpu* vcpu_ = nullptr;
  hypervisor::OutputGate* gate_ = nullptr;
  logchannel::RecordSink* streaming_ = nullptr;  ///< the link's sink the records go to
  uint64_t session_ = 0;                         ///< the joiner's, while it joins
  uint64_t sessions_ = 0;
  Joiner joiner_;
};

}  // namespace vmft::sim
