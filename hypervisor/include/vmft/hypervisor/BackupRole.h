#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::hypervisor {

/// What a backup knows about its guest when the primary's log ends without the primary's end,
/// so that it can go on as the primary: where the guest is, and what of the host it believes in.
struct Takeover {
  uint64_t icount = 0;
  /// The last value the guest read from each clock (ClockSource index), so that time never
  /// goes backwards for it on another host.
  std::map<logchannel::ClockSource, uint64_t> last_clock;
  /// TCP connections the guest was told of (or will be) and that are not closed: they do not
  /// exist on this host, so the guest must hear that they closed.
  std::set<uint32_t> open_connections;
  uint32_t highest_connection = 0;  ///< new connections must get higher ids
  /// The timer as the guest last set it: (deadline, generation), if armed.
  std::optional<std::pair<uint64_t, uint64_t>> timer;
  /// Console output the guest wrote that the primary may not have written yet when it was
  /// lost (its output records came after the last release the primary announced), with each
  /// record's seq, in order. A backup that goes live writes it again: a line may then appear
  /// twice, but none is lost.
  std::deque<std::pair<uint64_t, std::vector<uint8_t>>> unreleased_console;
  /// The frame NIC: the last kLastFrames frames the guest was given (or will be), oldest
  /// first, by which the backup's own TAP device finds where, among the frames it heard, its
  /// primary's log ended (devices::TapNetwork::take_over).
  std::deque<std::vector<uint8_t>> last_frames;
  static constexpr size_t kLastFrames = 2;
};

/// What a backup that starts from `snapshot` (it joined a running primary) knows of the run
/// before it: what the machine carries, and the connections its NIC knows or has queued.
Takeover takeover_at(const MachineSnapshot& snapshot);

/// The backup of a pair: replays the primary's log as it arrives (a ReplayRole). When that
/// log ends because the primary is gone, with every record received executed, it asks
/// `go_live`, on the vCPU thread, whether it may go on; go_live returns the live role to
/// continue as (which must share this role's input queue), or null to stop. The machine never
/// notices the switch: it happens at a block boundary or while the guest idles.
class BackupRole final : public Role {
 public:
  using GoLive = std::function<Role*(const Takeover&)>;
  /// `start`: what a backup that joined knows of the run before its snapshot (takeover_at).
  BackupRole(logchannel::RecordSource& log, InputQueue& inputs, GoLive go_live,
             Takeover start = {});

  devices::TimerBackend& timer() override { return timer_; }
  devices::NetBackend& net() override { return live_ ? live_->net() : replay_.net(); }

  uint64_t clock(logchannel::ClockSource source, uint64_t icount) override;
  uint64_t entropy(uint64_t icount) override;
  void take_inputs(uint64_t icount, std::vector<HostInput>& out) override;
  void wait_for_input(uint64_t icount) override;
  bool should_stop(uint64_t icount) override;
  void hold(uint64_t executed, uint64_t icount) override;

  void interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) override;
  bool output(uint64_t icount, const logchannel::Output& output) override;
  void digest(uint64_t icount, const logchannel::StateDigest& digest) override;
  void end(uint64_t icount, const logchannel::RunEnd& end,
           const logchannel::StateDigest& final) override;
  void boundary_done(uint64_t icount, uint64_t pc) override;
  bool outputs_made(uint64_t icount) override;

  const ReplayRole& replay() const { return replay_; }
  /// Whether it went live, and at which instruction.
  std::optional<uint64_t> went_live_at() const { return went_live_at_; }

  /// The timer's host side: ignored while replaying (the log says when it fired), remembered
  /// so that the live timer can be armed as the guest left it.
  class SwitchTimer final : public devices::TimerBackend {
   public:
    void arm(uint64_t deadline, uint64_t generation) override;
    void disarm() override;
    /// From now on the timer is `live`, armed as the guest last set it.
    void go_live(devices::TimerBackend& live);
    std::optional<std::pair<uint64_t, uint64_t>> armed() const { return armed_; }

   private:
    devices::TimerBackend* live_ = nullptr;
    std::optional<std::pair<uint64_t, uint64_t>> armed_;
  };

 private:
  Role& active() { return live_ ? *live_ : static_cast<Role&>(replay_); }
  /// Mirrors the active role's due_icount and run_limit, which the machine reads inline.
  void sync();
  void track(const HostInput& input);
  /// Drops the console output the primary has said it wrote.
  void forget_released_console();
  bool try_go_live(uint64_t icount);
  /// Where an input or output at `icount` goes: the replay, or, once the primary's log has
  /// ended, the live role it goes live as right here; null if it does not go on (declined, or
  /// asked to stop): the machine stops at the next block boundary, and what the rest of the
  /// block reads or writes does not matter.
  Role* inputs_at(uint64_t icount);

  ReplayRole replay_;
  GoLive go_live_;
  Role* live_ = nullptr;
  SwitchTimer timer_;
  Takeover takeover_;
  std::optional<uint64_t> went_live_at_;
  bool declined_ = false;  ///< go_live said no: stop
};

}  // namespace vmft::hypervisor
