#include "vmft/sim/SimPrimaryEnd.h"

#include <fmt/format.h>

namespace vmft::sim {

logchannel::RecordSink& SimPrimaryEnd::sink(Vcpu& vcpu, hypervisor::OutputGate& gate) {
  vcpu_ = &vcpu;
  gate_ = &gate;
  if (link_) streaming_ = &link_->sink(vcpu, gate);
  return relay_;
}

void SimPrimaryEnd::listen(Listener listener) {
  listener_ = std::move(listener);
  if (link_) listen_to(*link_);
}

// What a link other than the last one says is of a backup gone before: nobody hears it.
void SimPrimaryEnd::listen_to(LogLink& link) {
  link.listen({
      .peer_lost =
          [this, &link](const std::string& why) {
            if (&link != link_) return;
            accepting_joiners_ = false;  // as the channel does when it loses its backup
            session_ = 0;
            if (listener_.peer_lost) listener_.peer_lost(why);
          },
      .epoch_acked =
          [this, &link](uint64_t epoch) {
            if (&link == link_ && listener_.epoch_acked) listener_.epoch_acked(epoch);
          },
  });
}

uint64_t SimPrimaryEnd::connect(LogLink& link, Joiner joiner) {
  if (!accepting_joiners_ || !vcpu_) return 0;
  accepting_joiners_ = false;
  link_ = &link;
  session_ = ++sessions_;
  joiner_ = std::move(joiner);
  link.sink(*vcpu_, *gate_);  // the primary's side of it sends from the side's vCPU
  listen_to(link);
  link.start();
  if (listener_.join) listener_.join(session_);
  return session_;
}

bool SimPrimaryEnd::joiner_there(uint64_t session) const {
  return session != 0 && session == session_ && link_ && !link_->primary_gave_up_at();
}

bool SimPrimaryEnd::send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes) {
  if (!joiner_there(session)) return false;
  link_->send_to_backup(
      fmt::format("{} KiB of RAM at {:#x} reach the joiner", bytes.size() / 1024, offset),
      [ram = joiner_.ram, offset, copy = std::vector<uint8_t>(bytes.begin(), bytes.end())] {
        ram(offset, copy);
      });
  return true;
}

bool SimPrimaryEnd::start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                                 const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                                 std::span<const uint8_t> snapshot) {
  if (!joiner_there(session)) return false;
  LogLink& link = *link_;
  link.send_to_backup(
      fmt::format("{} changed runs and the snapshot at instruction {} reach the joiner", ram.size(),
                  icount),
      [this, &link, session, stream = joiner_.stream, seq, ram,
       snapshot = std::vector<uint8_t>(snapshot.begin(), snapshot.end())] {
        if (!stream(seq, ram, snapshot)) return;
        link.send_to_primary("the joiner restored the snapshot", [this, session] {
          if (!joiner_there(session)) return;
          session_ = 0;
          if (listener_.in_sync) listener_.in_sync();
        });
      });
  // The records after `seq` go to the joiner.
  streaming_ = &link.sink(*vcpu_, *gate_);
  return true;
}

void SimPrimaryEnd::Relay::append(const logchannel::Record& record) {
  if (end_.streaming_) end_.streaming_->append(record);
}

void SimPrimaryEnd::Relay::close() {
  if (end_.streaming_) end_.streaming_->close();
}

void SimPrimaryEnd::Relay::progress(uint64_t icount) {
  if (end_.streaming_) end_.streaming_->progress(icount);
}

}  // namespace vmft::sim
