#pragma once
// The log between a primary and its backup in the simulation, where vmft has its logging
// channel: the records, progress marks and end the primary's vCPU makes reach the backup a
// latency after the simulated instant it made them, in order; the backup acknowledges each
// record as it arrives, and the acknowledgement reaches the primary's output gate a latency
// later (the output rule: a reply leaves once the backup has the log through it). A primary
// killed mid-run still delivers what was on its way, or, if its host went with it, nothing
// more; then the log ends, and the backup may go live. It stands in for the channel until
// channel/ runs on the simulation's network.
#include <cstdint>
#include <deque>
#include <optional>

#include "vmft/hypervisor/OutputGate.h"
#include "vmft/logchannel/Record.h"
#include "vmft/logchannel/RecordStream.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

class LogLink {
 public:
  /// min_latency must be at least Vcpu::kLookahead.
  struct Config {
    Time min_latency = std::chrono::microseconds(20);
    Time max_latency = std::chrono::microseconds(300);
  };

  LogLink(Scheduler& scheduler, logchannel::LogHeader header, Config config);

  /// The primary's end, on its vCPU; acknowledgements go to `gate`.
  logchannel::RecordSink& sink(Vcpu& primary, hypervisor::OutputGate& gate);
  /// The backup's end, on its vCPU, which waits parked for what has not arrived.
  logchannel::RecordSource& source(Vcpu& backup);

  /// The primary died. A process killed: what it sent still arrives (its kernel sends it),
  /// then the log ends. Its host gone (`in_flight_lost`): nothing on its way arrives, and the
  /// log ends a peer timeout later.
  void primary_died(bool in_flight_lost = false, Time peer_timeout = std::chrono::milliseconds(1));
  /// The backup died: its acknowledgements stop, and nothing more reaches it.
  void backup_died();

 private:
  class Sink final : public logchannel::RecordSink {
   public:
    explicit Sink(LogLink& link) : link_(link) {}
    void append(const logchannel::Record& record) override;
    void flush() override {}
    void close() override;
    void progress(uint64_t icount) override;

   private:
    LogLink& link_;
  };
  class Source final : public logchannel::RecordSource {
   public:
    explicit Source(LogLink& link) : link_(link) {}
    const logchannel::LogHeader& header() const override { return link_.header_; }
    std::optional<logchannel::Record> next_record() override;
    bool ended() const override { return link_.ended_ && link_.arrived_.empty(); }
    uint64_t complete_below() const override { return link_.complete_below_; }
    void wait_for(uint64_t icount) override;

   private:
    LogLink& link_;
  };

  /// Runs `arrive` at the backup after a latency, in order with all else sent (primary's vCPU).
  void send(std::string what, std::function<void()> arrive);
  void arrived();  // wakes the backup if it waits

  Scheduler& scheduler_;
  logchannel::LogHeader header_;
  Config config_;
  Sink sink_{*this};
  Source source_{*this};
  Vcpu* primary_ = nullptr;
  Vcpu* backup_ = nullptr;
  hypervisor::OutputGate* gate_ = nullptr;
  bool primary_dead_ = false;
  bool backup_dead_ = false;
  Time last_arrival_{0};
  uint64_t progress_sent_ = 0;
  bool in_flight_lost_ = false;  // what was on its way when the primary died never arrives
  // The backup's side.
  std::deque<std::optional<logchannel::Record>> arrived_;  // each engaged; swapped out
  uint64_t complete_below_ = 0;
  bool ended_ = false;
};

}  // namespace vmft::sim
