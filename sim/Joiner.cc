#include "vmft/sim/Joiner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "vmft/hypervisor/Snapshot.h"

namespace vmft::sim {

Joiner::Joiner(Scheduler& scheduler, std::string name, hypervisor::GuestImage image,
               hypervisor::MachineConfig config, logchannel::LogHeader header,
               hypervisor::BackupRole::GoLive go_live)
    : scheduler_(scheduler),
      name_(std::move(name)),
      image_(std::move(image)),
      config_(std::move(config)),
      go_live_(std::move(go_live)),
      link_(scheduler, std::move(header), {}),
      vcpu_(scheduler, name_, inputs_) {
  link_.source(vcpu_);
}

bool Joiner::join(SimPrimaryEnd& live) {
  const uint64_t session = live.connect(
      link_,
      {.ram = [this](uint64_t offset,
                     const std::vector<uint8_t>& bytes) { take_ram(offset, bytes); },
       .stream = [this](uint64_t,
                        const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& runs,
                        const std::vector<uint8_t>& snapshot) { return restore(runs, snapshot); }});
  scheduler_.note(
      name_ + (session ? ": joins, session " + std::to_string(session) : std::string(": refused")));
  if (session) ram_.assign(config_.ram_size, 0);  // the joiner's RAM starts zeroed
  return session != 0;
}

void Joiner::host_lost() {
  if (dead_) return;
  dead_ = true;
  scheduler_.note(name_ + ": its host dies");
  link_.backup_died(/*in_flight_lost=*/true);
  vcpu_.kill();
}

bool Joiner::piece_arrives() {
  if (dead_) return false;
  if (++pieces_ == die_at_piece_) {
    host_lost();
    return false;
  }
  return true;
}

void Joiner::take_ram(uint64_t offset, const std::vector<uint8_t>& bytes) {
  if (piece_arrives()) write_ram(offset, bytes);
}

void Joiner::write_ram(uint64_t offset, const std::vector<uint8_t>& bytes) {
  if (offset > ram_.size() || bytes.size() > ram_.size() - offset) {
    throw std::logic_error(name_ + ": RAM sent beyond the guest's");
  }
  std::copy(bytes.begin(), bytes.end(), ram_.begin() + static_cast<ptrdiff_t>(offset));
}

// As `vmft backup --join` does once the snapshot arrived: the machine from it and the RAM, a
// backup role that knows the run before it, and the log from the snapshot on.
bool Joiner::restore(const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& runs,
                     const std::vector<uint8_t>& encoded) {
  if (!piece_arrives()) return false;
  for (const auto& [offset, bytes] : runs) write_ram(offset, bytes);
  hypervisor::MachineSnapshot snapshot = hypervisor::decode_snapshot(encoded);
  snapshot.ram = std::move(ram_);
  ram_.clear();
  auto role = std::make_unique<hypervisor::BackupRole>(link_.source(vcpu_), inputs_, go_live_,
                                                       hypervisor::takeover_at(snapshot));
  role_ = &vcpu_.restore(image_, config_, snapshot, std::move(role));
  restored_at_ = snapshot.icount;
  scheduler_.note(fmt::format("{}: restored the snapshot at instruction {}", name_, restored_at_));
  vcpu_.start([this](const hypervisor::RunResult& r) { result_ = r; });
  return true;
}

uint64_t Joiner::digests_checked() const { return role_ ? role_->replay().stats().digests : 0; }

}  // namespace vmft::sim
