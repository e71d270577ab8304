#pragma once
// `vmft primary`: the primary of a fault-tolerant pair on this host. It runs the guest against
// the real host and streams its log to the backup, holding every output until the backup has
// the log up to it. The decisions (the arbiter's, the live side's, the stop) are ft's; this is
// their wiring to the host: machine, network, channel, gate, status.

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/channel/PrimaryEnd.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Clock.h"
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
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::host {

class PrimarySession {
 public:
  /// `events`: this side's --events; its id is set once known.
  PrimarySession(PairConfig config, EventLog& events);
  /// Every thread it started is stopped before what they use goes.
  ~PrimarySession();
  PrimarySession(const PrimarySession&) = delete;
  PrimarySession& operator=(const PrimarySession&) = delete;

  /// Waits for a backup, runs the guest until it ends or a stop, and ends the pair's side;
  /// returns vmft's exit code. Once.
  int run();

 private:
  /// The channel, the arbiter's check, the guest's network, the gate, the live side and the
  /// status server; nullopt, or the exit code of a start that failed, having said why.
  std::optional<int> start();
  int run_guest();
  SideStatus status() const;

  PairConfig config_;
  EventLog& events_;
  IoThread io_;
  hypervisor::InputQueue inputs_;
  std::unique_ptr<channel::ChannelPrimary> channel_;
  std::unique_ptr<HostNetwork> net_;
  devices::SystemClock clock_;
  devices::SystemEntropy entropy_;
  devices::AsioTimer timer_;
  std::string me_;
  std::unique_ptr<arbiter::Arbiter> arbiter_;
  ft::SteadyClock steady_;
  std::unique_ptr<ft::ArbiterClient> arbiter_client_;
  /// Before the guest runs, a stop ends the wait for a backup; once it runs, the guest stops
  /// and the primary sends its backup the end of the log.
  std::atomic<bool> guest_started_{false};
  OnLive on_live_;
  std::unique_ptr<ConsoleWriter> console_;
  std::unique_ptr<hypervisor::OutputGate> gate_;
  std::unique_ptr<ChannelPrimaryEnd> end_;
  std::unique_ptr<ft::LiveSide> live_side_;
  uint64_t last_bytes_ = 0;  ///< io thread: the log's bytes sent at the last status line
  StatusService status_;
};

/// Runs a primary to its end, then (all of it stopped, its console written) emits exited to
/// `events`; returns vmft's exit code.
int run_primary(PairConfig config, EventLog& events);

}  // namespace vmft::host
