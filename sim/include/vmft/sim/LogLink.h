#pragma once
// The log between a primary and its backup in the simulation, where vmft has its logging
// channel: the records, progress marks and end the primary's vCPU makes reach the backup a
// latency after the simulated instant it made them, in order; the backup acknowledges each
// record as it arrives, and the acknowledgement reaches the primary's output gate a latency
// later (the output rule: a reply leaves once the backup has the log through it). It stands in
// for the channel until channel/ runs on the simulation's network, and models what the
// channel's ends hear of each other as vmft's do (channel/PrimaryEnd.cc, BackupEnd.cc): each
// end ticks every heartbeat interval (25 ms), sends a heartbeat if it sent nothing since the
// last tick, and gives its peer up once it heard nothing for longer than the peer timeout
// (200 ms); an end that gives up closes the connection, which its peer hears as soon as
// the close reaches it. The faults:
//   - the primary killed: what it sent still arrives (its kernel sends it), then the close;
//     its host gone: nothing more arrives, and the backup times out;
//   - a partition: nothing crosses (it waits, as in a stalled switch) until it heals, unless an
//     end gave its peer up meanwhile; then it is dropped, as a closed socket drops it;
//   - the backup killed: what it sent still arrives, then its close; its host gone: nothing
//     more arrives from it, and the primary times out;
//   - either end paused (SIGSTOP): what reaches it waits until it resumes, and it ticks no
//     more until then.
// The backup's end, once it gave its primary up, ends the backup's log: it then goes live if
// the arbiter lets it. The primary's end tells its live side (sim/SimPrimaryEnd.h).
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "vmft/hypervisor/OutputGate.h"
#include "vmft/logchannel/Record.h"
#include "vmft/logchannel/RecordStream.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

class LogLink {
 public:
  /// min_latency must be at least Vcpu::kLookahead. The rest are vmft's defaults.
  struct Config {
    Time min_latency = std::chrono::microseconds(20);
    Time max_latency = std::chrono::microseconds(300);
    Time heartbeat_interval = std::chrono::milliseconds(25);
    Time peer_timeout = std::chrono::milliseconds(200);
  };
  /// What the primary's end tells its live side (from the scheduler's tasks, the io thread).
  struct PrimaryListener {
    std::function<void(const std::string& why)> peer_lost;
    std::function<void(uint64_t epoch)> epoch_acked;
  };

  LogLink(Scheduler& scheduler, logchannel::LogHeader header, Config config);

  /// The primary's end, on its vCPU; acknowledgements go to `gate`.
  logchannel::RecordSink& sink(Vcpu& primary, hypervisor::OutputGate& gate);
  /// The backup's end, on its vCPU, which waits parked for what has not arrived.
  logchannel::RecordSource& source(Vcpu& backup);
  void listen(PrimaryListener listener) { listener_ = std::move(listener); }
  /// Both ends start ticking (each at a phase the seed picks), each having heard the other now.
  void start();
  /// The primary's end sends the backup `epoch`; epoch_acked follows once it has it.
  void send_epoch(uint64_t epoch);
  /// The last epoch that reached the backup (what it claims the pair at), if any.
  std::optional<uint64_t> backup_epoch() const { return backup_epoch_; }
  /// What else travels on the connection, in order with the log (a joiner's RAM and snapshot
  /// one way, its "restored" the other): `arrive` runs when `what` reaches that end, unless the
  /// connection closed or the message was lost first. The primary's side sends from its vCPU if
  /// it has one (sink()), so that it stays behind what the vCPU appended.
  void send_to_backup(std::string what, std::function<void()> arrive);
  void send_to_primary(std::string what, std::function<void()> arrive);

  /// The primary died. A process killed: what it sent still arrives, then its close. Its host
  /// gone (`in_flight_lost`): nothing on its way arrives, and the backup times out.
  void primary_died(bool in_flight_lost);
  /// The backup died: nothing more reaches it. A process killed: what it sent (its
  /// acknowledgements) still arrives, then its close. Its host gone (`in_flight_lost`): nothing
  /// on its way arrives, and the primary times out.
  void backup_died(bool in_flight_lost);
  void partition();
  void heal();
  /// The primary's process stopped (SIGSTOP) or continues.
  void pause_primary() { pause(To::kPrimary); }
  void resume_primary() { resume(To::kPrimary); }
  /// The backup's process stopped (SIGSTOP) or continues.
  void pause_backup() { pause(To::kBackup); }
  void resume_backup() { resume(To::kBackup); }

  /// When each end gave its peer up (nullopt: it has not).
  std::optional<Time> backup_gave_up_at() const { return backup_gave_up_at_; }
  std::optional<Time> primary_gave_up_at() const { return primary_gave_up_at_; }

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
  enum class To { kBackup, kPrimary };
  /// One direction of the connection: arrivals in order, each a latency after it was sent.
  struct Direction {
    Time last_arrival{0};
    Time last_sent{0};
    Time last_heard{0};  // by the end this direction reaches
  };

  static To other(To end) { return end == To::kBackup ? To::kPrimary : To::kBackup; }
  bool closed(To end) const;  // the end gave its peer up, or died
  Direction& toward(To end);  // what reaches `end`
  Time latency();
  /// Sends `arrive` to the end `to` (from the other), `from_at` being when it leaves.
  void send(To to, Time from_at, std::string what, std::function<void()> arrive);
  void reach(To to, const std::string& what, const std::function<void()>& arrive);
  void tick(To end);
  /// The end `end` gives its peer up: it closes the connection.
  void give_up(To end, const std::string& why);
  void backup_arrived();  // wakes the backup if it waits
  void pause(To end);
  void resume(To end);
  /// What an end's process keeps while it is paused.
  struct Paused {
    bool paused = false;
    std::deque<std::pair<std::string, std::function<void()>>> held;  // what reached it
    bool tick_held = false;
  };
  Paused& paused(To end) { return end == To::kBackup ? backup_paused_ : primary_paused_; }

  Scheduler& scheduler_;
  logchannel::LogHeader header_;
  Config config_;
  PrimaryListener listener_;
  Sink sink_{*this};
  Source source_{*this};
  Vcpu* primary_ = nullptr;
  Vcpu* backup_ = nullptr;
  hypervisor::OutputGate* gate_ = nullptr;
  Direction to_backup_, to_primary_;
  bool primary_dead_ = false;
  bool backup_dead_ = false;
  // What was on its way from an end whose host died.
  bool primary_host_lost_ = false, backup_host_lost_ = false;
  bool partitioned_ = false;
  // What waits in a partition (both ways, in the order it came).
  std::deque<std::pair<To, std::pair<std::string, std::function<void()>>>> held_;
  Paused primary_paused_, backup_paused_;
  uint64_t progress_sent_ = 0;
  std::optional<uint64_t> backup_epoch_;
  std::optional<Time> backup_gave_up_at_, primary_gave_up_at_;
  // The backup's side.
  std::deque<std::optional<logchannel::Record>> arrived_;  // each engaged; swapped out
  uint64_t complete_below_ = 0;
  bool ended_ = false;
};

}  // namespace vmft::sim
