#include "vmft/sim/LogLink.h"

#include <fmt/format.h>

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

namespace {

const char* name_of(bool to_backup) { return to_backup ? "the backup" : "the primary"; }

}  // namespace

bool LogLink::closed(To end) const {
  return end == To::kBackup ? backup_dead_ || backup_gave_up_at_.has_value()
                            : primary_dead_ || primary_gave_up_at_.has_value();
}

LogLink::Direction& LogLink::toward(To end) {
  return end == To::kBackup ? to_backup_ : to_primary_;
}

Time LogLink::latency() {
  return Time(
      scheduler_.random().between(config_.min_latency.count(), config_.max_latency.count()));
}

void LogLink::start() {
  // Each end has heard its peer as the connection starts (a joiner's, after the run began).
  to_backup_.last_heard = to_primary_.last_heard = scheduler_.now();
  for (const To end : {To::kPrimary, To::kBackup}) {
    const Time phase(
        scheduler_.random().below(static_cast<uint64_t>(config_.heartbeat_interval.count())));
    scheduler_.after(phase, std::string("log: ") + name_of(end == To::kBackup) + "'s end ticks",
                     [this, end] { tick(end); });
  }
}

void LogLink::send(To to, Time from_at, std::string what, std::function<void()> arrive) {
  if (closed(other(to))) return;  // the sender's end is closed, or it died
  Direction& d = toward(to);
  const Time at = std::max(from_at + latency(), d.last_arrival);
  d.last_arrival = at;
  d.last_sent = from_at;
  scheduler_.at(at, "log: " + what,
                [this, to, what, arrive = std::move(arrive)] { reach(to, what, arrive); });
}

void LogLink::reach(To to, const std::string& what, const std::function<void()>& arrive) {
  // It left a host that died.
  if (to == To::kBackup ? primary_host_lost_ : backup_host_lost_) return;
  if (closed(to)) return;  // a closed socket drops it
  if (partitioned_) {
    held_.push_back({to, {what, arrive}});
    return;
  }
  if (Paused& p = paused(to); p.paused) {
    p.held.push_back({what, arrive});
    return;
  }
  toward(to).last_heard = scheduler_.now();
  arrive();
  if (to == To::kBackup) backup_arrived();
}

void LogLink::backup_arrived() {
  if (backup_) backup_->poke();
}

void LogLink::tick(To end) {
  if (closed(end)) return;
  if (Paused& p = paused(end); p.paused) {
    p.tick_held = true;
    return;
  }
  const Time silence = scheduler_.now() - toward(end).last_heard;
  if (silence > config_.peer_timeout) {
    give_up(end,
            fmt::format("{} sent nothing for {} ms", name_of(end != To::kBackup),
                        std::chrono::duration_cast<std::chrono::milliseconds>(silence).count()));
    return;
  }
  const To peer = other(end);
  if (scheduler_.now() - toward(peer).last_sent >= config_.heartbeat_interval) {
    send(peer, scheduler_.now(), std::string("a heartbeat reaches ") + name_of(peer == To::kBackup),
         [] {});
  }
  scheduler_.after(config_.heartbeat_interval,
                   std::string("log: ") + name_of(end == To::kBackup) + "'s end ticks",
                   [this, end] { tick(end); });
}

void LogLink::give_up(To end, const std::string& why) {
  if (closed(end)) return;
  const To peer = other(end);
  // Its close reaches the peer after what it sent before.
  send(
      peer, scheduler_.now(),
      std::string(name_of(end == To::kBackup)) + "'s close reaches " + name_of(peer == To::kBackup),
      [this, peer] { give_up(peer, "closed by the peer"); });
  scheduler_.note(std::string("log: ") + name_of(end == To::kBackup) + " gives up: " + why);
  if (end == To::kBackup) {
    backup_gave_up_at_ = scheduler_.now();
    ended_ = true;  // its log ends here: it goes live if the arbiter lets it
    backup_arrived();
    return;
  }
  primary_gave_up_at_ = scheduler_.now();
  if (listener_.peer_lost) {
    listener_.peer_lost(why == "closed by the peer" ? "the backup is gone: " + why : why);
  }
}

void LogLink::send_epoch(uint64_t epoch) {
  send(To::kBackup, scheduler_.now(), "epoch " + std::to_string(epoch) + " reaches the backup",
       [this, epoch] {
         backup_epoch_ = epoch;
         send(To::kPrimary, scheduler_.now(), "the backup has epoch " + std::to_string(epoch),
              [this, epoch] {
                if (listener_.epoch_acked) listener_.epoch_acked(epoch);
              });
       });
}

void LogLink::send_to_backup(std::string what, std::function<void()> arrive) {
  const Time from_at = primary_ ? primary_->now() : scheduler_.now();
  send(To::kBackup, from_at, std::move(what), std::move(arrive));
}

void LogLink::send_to_primary(std::string what, std::function<void()> arrive) {
  send(To::kPrimary, scheduler_.now(), std::move(what), std::move(arrive));
}

void LogLink::Sink::append(const logchannel::Record& record) {
  LogLink& link = link_;
  const uint64_t seq = record.seq;
  link.send(To::kBackup, link.primary_->now(),
            "record " + std::to_string(seq) + " reaches the backup", [&link, record] {
              link.arrived_.push_back(record);
              link.complete_below_ = std::max(link.complete_below_, record.icount);
              // The backup has it: its acknowledgement goes back.
              const uint64_t seq = record.seq;
              link.send(To::kPrimary, link.scheduler_.now(), "ack " + std::to_string(seq),
                        [&link, seq] {
                          if (link.gate_) link.gate_->acknowledged(seq);
                        });
            });
}

void LogLink::Sink::close() {
  LogLink& link = link_;
  link.send(To::kBackup, link.primary_->now(), "the primary's end reaches the backup",
            [&link] { link.ended_ = true; });
}

void LogLink::Sink::progress(uint64_t icount) {
  LogLink& link = link_;
  if (icount <= link.progress_sent_) return;  // the primary says so at every block boundary
  link.progress_sent_ = icount;
  link.send(To::kBackup, link.primary_->now(), "progress to " + std::to_string(icount),
            [&link, icount] { link.complete_below_ = std::max(link.complete_below_, icount); });
}

void LogLink::primary_died(bool in_flight_lost) {
  if (in_flight_lost) {
    // Nothing on its way arrives, and the backup hears nothing more: it times out.
    primary_host_lost_ = true;
  } else {
    // Its kernel closes the connection after what was sent.
    send(To::kBackup, scheduler_.now(), "the primary's close reaches the backup",
         [this] { give_up(To::kBackup, "closed by the peer"); });
  }
  primary_dead_ = true;
}

void LogLink::backup_died(bool in_flight_lost) {
  if (in_flight_lost) {
    backup_host_lost_ = true;
  } else {
    send(To::kPrimary, scheduler_.now(), "the backup's close reaches the primary",
         [this] { give_up(To::kPrimary, "closed by the peer"); });
  }
  backup_dead_ = true;
}

void LogLink::partition() {
  partitioned_ = true;
  scheduler_.note("log: partitioned");
}

void LogLink::heal() {
  partitioned_ = false;
  scheduler_.note("log: healed");
  auto held = std::move(held_);
  held_.clear();
  for (auto& [to, message] : held) reach(to, message.first, message.second);
}

void LogLink::pause(To end) { paused(end).paused = true; }

void LogLink::resume(To end) {
  Paused& p = paused(end);
  p.paused = false;
  auto held = std::move(p.held);
  p.held.clear();
  // What waited in its socket is read first; then its timer, late, fires.
  for (auto& [what, arrive] : held) reach(end, what, arrive);
  if (p.tick_held) {
    p.tick_held = false;
    tick(end);
  }
}

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
