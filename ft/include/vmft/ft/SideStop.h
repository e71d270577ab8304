#pragma once
// How a side of a pair ends once its guest stopped, primary or backup: what may still run
// stops in one order, and the exit code of a stop the side decided itself.

#include <chrono>
#include <functional>
#include <optional>

#include "vmft/ft/BackupEnd.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/ft/PrimaryEnd.h"
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::ft {

/// How long a live side whose run ended waits for its backup to acknowledge the log's end, so
/// that the last outputs leave; a backup that takes longer is treated as lost.
inline constexpr auto kLastOutputsTimeout = std::chrono::seconds(5);
/// How long a backup that stops waits for its goodbye to be written: a primary that does not
/// read for this long hears of it through the peer timeout instead.
inline constexpr auto kGoodbyeTimeout = std::chrono::milliseconds(500);

/// What a side whose guest stopped still has running. Absent parts are null.
struct SideStop {
  /// The live side's decisions: they stop first, before the machine goes (a join works on it).
  LiveSide* live_side = nullptr;
  /// The log's channel to a backup: a primary's, or the --log-listen of a backup.
  PrimaryEnd* to_backup = nullptr;
  /// Whether outputs left through `to_backup`'s gate (a backup that never went live had none).
  bool live = false;
  /// A backup's channel to its primary.
  BackupEnd* to_primary = nullptr;
  /// After the channels: from then on no io callback runs.
  std::function<void()> stop_io;
  /// Last: ends the pair at the arbiter if this side's run ended holding it.
  std::function<void()> release;
};

/// Stops `stop`'s parts in this order: the live side's decisions; the last outputs' wait for
/// the backup's acknowledgement (a live side with a backup still there); a backup's goodbye
/// and its channel to the primary; the channel to a backup; the io thread; the pair at the
/// arbiter. The thread that ran the machine, after it returned.
void stop_side(const SideStop& stop);

/// The exit code of a run that stopped on a decision of this side's own: a backup that
/// declined to go live (`declined`; 0: it did not), or its live side (lost the pair, or broke
/// it; then no side goes on, so what `gate` held may leave). nullopt: the run's own outcome
/// decides.
std::optional<int> decided_exit_code(bool stopped, int declined, const LiveSide* live_side,
                                     hypervisor::OutputGate* gate);

}  // namespace vmft::ft
