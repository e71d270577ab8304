#pragma once
// A backup that joins a live side in the simulation, as `vmft backup --join` does
// (host/BackupSession.cc): it connects on a LogLink of its own to the live side's
// SimPrimaryEnd, takes the RAM the pre-copy sends into a zeroed copy, and, once the changed
// pages and the snapshot arrive, restores the machine from them (a real BackupRole, started
// where the snapshot was taken: hypervisor::takeover_at) and replays the log from there,
// checking the live side's state digests. Its go_live is the caller's (the claim at the
// arbiter, at the epoch the live side sent it: LogLink::backup_epoch). It can die mid-join:
// its host lost as a given piece of the join reaches it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/SimPrimaryEnd.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

class Joiner {
 public:
  /// `name`: for the trace; `config` and `header` those of the pair it joins.
  Joiner(Scheduler& scheduler, std::string name, hypervisor::GuestImage image,
         hypervisor::MachineConfig config, logchannel::LogHeader header,
         hypervisor::BackupRole::GoLive go_live);
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;

  /// Connects to the live side's end (a task): whether it was taken.
  bool join(SimPrimaryEnd& live);
  /// Its host dies as the `piece`th message of the join (RAM, then the snapshot; from 1)
  /// reaches it, which is lost with it.
  void die_at_piece(int piece) { die_at_piece_ = piece; }
  /// Its host dies now: nothing more reaches it, nothing more leaves it.
  void host_lost();

  LogLink& link() { return link_; }
  Vcpu& vcpu() { return vcpu_; }
  hypervisor::InputQueue& inputs() { return inputs_; }
  bool dead() const { return dead_; }
  /// Pieces of the join that reached it.
  int pieces() const { return pieces_; }
  /// The instruction count of the snapshot it runs from; 0 before it restored.
  uint64_t restored_at() const { return restored_at_; }
  /// How its run ended, once it did.
  const std::optional<hypervisor::RunResult>& result() const { return result_; }
  /// The state digests it checked against the live side's.
  uint64_t digests_checked() const;

 private:
  bool piece_arrives();  // false: it died as this one came
  void take_ram(uint64_t offset, const std::vector<uint8_t>& bytes);
  void write_ram(uint64_t offset, const std::vector<uint8_t>& bytes);
  bool restore(const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& runs,
               const std::vector<uint8_t>& encoded);

  Scheduler& scheduler_;
  std::string name_;
  hypervisor::GuestImage image_;
  hypervisor::MachineConfig config_;
  hypervisor::BackupRole::GoLive go_live_;
  hypervisor::InputQueue inputs_;
  LogLink link_;
  std::vector<uint8_t> ram_;
  int die_at_piece_ = 0;
  int pieces_ = 0;
  bool dead_ = false;
  uint64_t restored_at_ = 0;
  hypervisor::BackupRole* role_ = nullptr;
  std::optional<hypervisor::RunResult> result_;
  Vcpu vcpu_;  // after what its run uses: its run ends first
};

}  // namespace vmft::sim
