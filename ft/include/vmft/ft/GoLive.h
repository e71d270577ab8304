#pragma once
// A backup going live, step by step: the claim at the arbiter, then its guest's host (clocks,
// timer, network, console, the live role) taken over in one order. The steps on the host are
// a LiveHost's; the order and the decisions are here.

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/Takeover.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/Role.h"

namespace vmft::ft {

/// What a backup's host does as it goes live (BackupSession's real host; tests pass a fake).
/// vCPU thread, in the order go_live() calls them.
class LiveHost {
 public:
  virtual ~LiveHost() = default;
  /// The guest's clocks and timer go on from `time` on this host.
  virtual void start_clocks(const ContinuedTime& time) = 0;
  /// Binds the guest's addresses (or keeps the TAP device opened at start); TCP connections
  /// get ids from `first_connection` up. False if a stop was requested first.
  virtual bool bind_network(uint32_t first_connection) = 0;
  /// On the frame NIC: the guest hears its link moved, then is given the frames heard that the
  /// primary never logged (after `last_logged`); how many. nullopt on the socket NIC.
  virtual std::optional<size_t> take_over_frames(
      const std::deque<std::vector<uint8_t>>& last_logged) = 0;
  /// Writes console output where people read it, now.
  virtual void write_console(std::span<const uint8_t> bytes) = 0;
  /// The role the guest runs on from now on, live at `epoch` (with its own backups' channel,
  /// if this side has one).
  virtual hypervisor::Role& start_live_role(uint64_t epoch) = 0;
  /// Says where the guest is reachable and starts its network.
  virtual void start_network() = 0;
  /// The side counts as live, at `epoch`, from now on (its console, its status).
  virtual void now_live(uint64_t epoch) = 0;
  /// Runs --on-live.
  virtual void run_on_live(uint64_t epoch) = 0;
};

/// Who goes live, and what it asks the arbiter for.
struct GoLiveSetup {
  std::string pair;
  std::string me;                    ///< this side's id at the arbiter
  ArbiterClient* arbiter = nullptr;  ///< none: it never goes live
  std::optional<uint64_t> epoch;     ///< the epoch its primary registered with it, if any
  hypervisor::InputQueue& inputs;
  EventSink* events = nullptr;
};

/// How go_live() ended.
struct GoLiveOutcome {
  hypervisor::Role* role = nullptr;  ///< the role to go on as; null: the backup stops
  uint64_t epoch = 0;                ///< the epoch it won
  int declined_exit_code = 0;        ///< the exit code of a backup that does not go live
};

/// The primary is gone and every record it sent has run (`t`): claims the pair, and if it won,
/// takes over the guest's host through `host` and emits went_live. A backup that declines
/// without an arbiter writes the console output the primary may not have (no side goes on).
/// vCPU thread.
GoLiveOutcome go_live(const GoLiveSetup& setup, const hypervisor::Takeover& t, LiveHost& host);

}  // namespace vmft::ft
