#pragma once
// What the live side of a pair (a primary, or a backup that went live) says of itself: its
// status lines and its --status-listen snapshot, and the output rule that holds its outputs.

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vmft/channel/PrimaryEnd.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/host/ArbiterProbe.h"
#include "vmft/host/ConsoleWriter.h"
#include "vmft/host/PairConfig.h"
#include "vmft/host/Status.h"
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::host {

/// How often the live side tells its backup how far it got when nothing else does: about a
/// millisecond of a CPU-bound guest.
inline constexpr uint64_t kProgressInterval = 1 << 20;

/// The output rule on the live side of a pair: what the guest sends or writes to its console
/// leaves once the backup has acknowledged the log through it, and the backup then hears how
/// far it has left (so that, taking over, it writes again only console output the primary may
/// not have written).
void release_on_ack(channel::ChannelPrimary& channel, hypervisor::OutputGate& gate,
                    const ConsoleWriter& console);

/// The live side's console: the gate releases it to a writer of its own.
hypervisor::OutputGate::Console to(ConsoleWriter& console);

/// What a status line starts with: "pair 'demo' at epoch 3, primary".
std::string status_label(const std::string& pair, uint64_t epoch, const char* side);

/// Logs a status line of a live side; `last_bytes` is the log's bytes sent at the last one.
void log_live_status(const std::string& side, const channel::ChannelStats& s,
                     ft::LiveSide::State state, const hypervisor::OutputGate& gate,
                     uint64_t& last_bytes, double seconds);

/// KB/s of `bytes` in `seconds`, for status lines.
double kb_per_s(uint64_t bytes, double seconds);

/// The status of a live side from its channel to its backup, its gate and its ft::LiveSide
/// (io thread).
SideStatus live_status(const std::string& pair, const std::string& me, const char* role,
                       const std::string& arbiter, const channel::ChannelPrimary& channel,
                       const hypervisor::OutputGate& gate, const ft::LiveSide& live_side);

/// What a side serves with --status-listen: the status server and, with an arbiter, the probe
/// that says whether the arbiter answers. Without --status-listen, neither runs.
class StatusService {
 public:
  /// Starts them as `config` asks, on `io`. Returns false, having logged why, if the status
  /// address cannot be served.
  bool start(const PairConfig& config, asio::io_context& io, std::function<SideStatus()> snapshot);
  /// Whether the arbiter answered the probe's last question (nullopt without a probe, or
  /// before its first answer).
  std::optional<bool> arbiter_reachable() const;

 private:
  std::unique_ptr<ArbiterProbe> probe_;
  std::unique_ptr<StatusServer> server_;  ///< stops first: it asks the probe
};

}  // namespace vmft::host
