#include "vmft/sim/LogLink.h"

#include <algorithm>
#include <stdexcept>

namespace vmft::sim {

LogLink::LogLink(Scheduler& scheduler, logchannel::LogHeader header, Config config)
    : scheduler_(scheduler), header_(std::move(header)), config_(config) {
  if (config_.min_latency < Vcpu::kLookahead || config_.max_latency < config_.min_latency) {
    throw std::invalid_argument("a log link's latency must be at least Vcpu::kLookahead");
  }
}

logchannel::RecordSink& LogLink::sink(Vcpu& primary, hypervisor::OutputGate& gate) {
  primary_ = &primary;
  gate_ = &gate;
  return sink_;
}

logchannel::RecordSource& LogLink::source(Vcpu& backup) {
  backup_ = &backup;
  return source_;
}

void LogLink::send(std::string what, std::function<void()> arrive) {
  if (primary_dead_ || (primary_ && primary_->killed())) return;
  const Time latency(
      scheduler_.random().between(config_.min_latency.count(), config_.max_latency.count()));
  const Time at = std::max(primary_->now() + latency, last_arrival_);
  last_arrival_ = at;
  scheduler_.at(at, std::move(what), [this, arrive = std::move(arrive)] {
    if (backup_dead_ || in_flight_lost_) return;
    arrive();
    arrived();
  });
}

void LogLink::arrived() {
  if (backup_) backup_->poke();
}

void LogLink::Sink::append(const logchannel::Record& record) {
  LogLink& link = link_;
  link.send("log: record " + std::to_string(record.seq) + " reaches the backup", [&link, record] {
    link.arrived_.push_back(record);
    link.complete_below_ = std::max(link.complete_below_, record.icount);
    // The backup has it: its acknowledgement goes back.
    const Time latency(link.scheduler_.random().between(link.config_.min_latency.count(),
                                                        link.config_.max_latency.count()));
    const uint64_t seq = record.seq;
    link.scheduler_.after(latency, "log: ack " + std::to_string(seq), [&link, seq] {
      if (!link.primary_dead_ && link.gate_) link.gate_->acknowledged(seq);
    });
  });
}

void LogLink::Sink::close() {
  LogLink& link = link_;
  link.send("log: the primary's end reaches the backup", [&link] { link.ended_ = true; });
}

void LogLink::Sink::progress(uint64_t icount) {
  LogLink& link = link_;
  if (icount <= link.progress_sent_) return;  // the primary says so at every block boundary
  link.progress_sent_ = icount;
  link.send("log: progress to " + std::to_string(icount),
            [&link, icount] { link.complete_below_ = std::max(link.complete_below_, icount); });
}

void LogLink::primary_died(bool in_flight_lost, Time peer_timeout) {
  // What was sent arrives first (the link keeps its order), then the connection's end; or,
  // with the host gone, nothing more, and the backup notices the silence.
  in_flight_lost_ = in_flight_lost;
  const Time at =
      in_flight_lost ? scheduler_.now() + peer_timeout : std::max(scheduler_.now(), last_arrival_);
  primary_dead_ = true;
  scheduler_.at(at, "log: the primary is gone", [this] {
    if (backup_dead_) return;
    ended_ = true;
    arrived();
  });
}

void LogLink::backup_died() { backup_dead_ = true; }

std::optional<logchannel::Record> LogLink::Source::next_record() {
  if (link_.arrived_.empty()) return std::nullopt;
  std::optional<logchannel::Record> record;
  record.swap(link_.arrived_.front());
  link_.arrived_.pop_front();
  return record;
}

void LogLink::Source::wait_for(uint64_t icount) {
  while (link_.complete_below_ < icount && !link_.ended_ && !link_.backup_->stopping()) {
    link_.backup_->park();
  }
}

}  // namespace vmft::sim
