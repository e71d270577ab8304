#pragma once
// `vmft backup`: the backup of a fault-tolerant pair on this host. It replays the primary's log
// as it arrives, sending nothing to clients; when the primary is gone it goes live if the
// arbiter says so (ft::go_live decides and orders the steps; this session is the LiveHost that
// takes them), and once live with --log-listen it keeps backups that join like a primary.

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/channel/BackupEnd.h"
#include "vmft/channel/PrimaryEnd.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Clock.h"
#include "vmft/ft/GoLive.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/host/ChannelEnds.h"
#include "vmft/host/ConsoleWriter.h"
#include "vmft/host/Events.h"
#include "vmft/host/HostNetwork.h"
#include "vmft/host/IoThread.h"
#include "vmft/host/OnLive.h"
#include "vmft/host/PairConfig.h"
#include "vmft/host/PairStatus.h"
#include "vmft/host/Status.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::host {

class BackupSession final : private ft::LiveHost {
 public:
  /// `events`: this side's --events; its id is set once known.
  BackupSession(PairConfig config, EventLog& events);
  /// Every thread it started is stopped before what they use goes.
  ~BackupSession() override;
  BackupSession(const BackupSession&) = delete;
  BackupSession& operator=(const BackupSession&) = delete;

  /// Pairs with (or joins) the primary, replays its log until the guest ends, a stop, or the
  /// primary is gone (and then goes live, or not), and ends this side; returns vmft's exit
  /// code. Once.
  int run();

 private:
  /// The listener for joiners, the channel to the primary, the arbiter, a frame NIC's TAP
  /// device and the status server; nullopt, or the exit code of a start that failed.
  std::optional<int> start();
  /// Pairs with the primary, or joins it (then `snapshot` is where the guest starts);
  /// nullopt, or the exit code of a side that does not go on.
  std::optional<int> connect(std::optional<hypervisor::MachineSnapshot>& snapshot);
  int run_guest(std::optional<hypervisor::MachineSnapshot> snapshot);
  hypervisor::Role* go_live(const hypervisor::Takeover& t);
  void release_pair();
  SideStatus status() const;
  void log_status(double seconds);

  // ft::LiveHost: going live on this host.
  void start_clocks(const ft::ContinuedTime& time) override;
  bool bind_network(uint32_t first_connection) override;
  std::optional<size_t> take_over_frames(
      const std::deque<std::vector<uint8_t>>& last_logged) override;
  void write_console(std::span<const uint8_t> bytes) override;
  hypervisor::Role& start_live_role(uint64_t epoch) override;
  void start_network() override;
  void now_live(uint64_t epoch) override;
  void run_on_live(uint64_t epoch) override;

  PairConfig config_;
  EventLog& events_;
  IoThread io_;
  hypervisor::InputQueue inputs_;
  /// Where backups join this one once it is live; until then it refuses them.
  std::unique_ptr<channel::ChannelPrimary> listener_;
  std::unique_ptr<ChannelPrimaryEnd> listener_end_;
  std::string me_;
  std::unique_ptr<channel::ChannelBackup> channel_;
  std::unique_ptr<ChannelBackupEnd> channel_end_;
  std::unique_ptr<arbiter::Arbiter> arbiter_;
  ft::SteadyClock steady_;
  std::unique_ptr<ft::ArbiterClient> arbiter_client_;
  int declined_code_ = 0;  ///< the exit code of a backup that did not go live
  OnLive on_live_;
  uint64_t live_epoch_ = 0;  ///< the epoch this backup won, once live
  // What a backup that won the pair runs on: this host's clocks (continuing the primary's),
  // randomness, timer and the client-facing sockets; with --log-listen, the gate that holds
  // outputs for a backup that joins, and what decides about it.
  std::unique_ptr<devices::ContinuedClock> live_clock_;
  devices::SystemEntropy live_entropy_;
  std::unique_ptr<devices::AsioTimer> live_timer_;
  std::unique_ptr<HostNetwork> live_net_;
  std::unique_ptr<ConsoleWriter> live_console_;
  std::unique_ptr<hypervisor::OutputGate> live_gate_;
  std::unique_ptr<ft::LiveSide> live_side_;
  std::unique_ptr<hypervisor::LiveRole> live_role_;
  std::atomic<bool> went_live_{false};
  std::atomic<bool> following_{false};  ///< paired with (or joined) its primary
  hypervisor::Machine* machine_ = nullptr;
  uint64_t last_bytes_ = 0;  ///< io thread: the log's bytes at the last status line
  StatusService status_;
};

/// Runs a backup to its end, then (all of it stopped, its console written) emits exited to
/// `events`; returns vmft's exit code.
int run_backup(PairConfig config, EventLog& events);

}  // namespace vmft::host
