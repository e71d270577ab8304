#pragma once
// The logging channel: a primary streams its log to its backup over TCP, the backup
// acknowledges what it received, and each side hears from the other at least every heartbeat
// interval. docs/channel-protocol.md describes the bytes. This header holds what both ends
// share; the ends are PrimaryEnd.h (ChannelPrimary) and BackupEnd.h (ChannelBackup).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "vmft/logchannel/Record.h"

namespace vmft::channel {

using logchannel::LogHeader;

/// The least time a primary gives a connection to pass the handshake: a round trip or two, on
/// any network a pair runs over, with room for a loaded machine.
inline constexpr std::chrono::milliseconds kMinHandshakeTimeout{5000};

/// What both ends are configured with.
struct ChannelConfig {
  std::string pair;  ///< the pair's name: both ends must use the same
  /// This side's id at the arbiter (--id). A primary refuses a backup with its own: the
  /// arbiter could not tell the two apart.
  std::string id;
  LogHeader header;  ///< the guest and its VM: both ends must run the same
  std::chrono::milliseconds heartbeat_interval{25};
  /// A peer that sends nothing for this long is lost.
  std::chrono::milliseconds peer_timeout{200};
  /// Primary: a connection that has not passed the handshake this long after it was accepted
  /// (it sent nothing, or a hello and no answer to the challenge) is closed, so that it holds
  /// no socket for ever.
  std::chrono::milliseconds handshake_timeout{kMinHandshakeTimeout};
  /// Primary: log bytes the backup has not acknowledged, past which the vCPU waits.
  /// Backup: bytes received and not yet executed, past which it stops reading.
  size_t buffer_bytes = 8u << 20;
  /// Primary: instructions its vCPU may run beyond where the backup has executed to; past
  /// that it waits until the backup is within half of it. 0: no bound.
  uint64_t max_lag = 16u << 20;
  /// Primary: the same bound in the guest's running time (the CPU time of the primary's vCPU,
  /// which idling and waiting do not count): about what a backup that takes over executes
  /// before it can go live. Whichever bound is reached first holds the vCPU. 0: no bound.
  std::chrono::milliseconds max_lag_time{10};
  /// The pair's pre-shared secret (--secret-file); empty: none. With one, a primary takes only
  /// a backup that proves it knows it, and a backup only a primary that does
  /// (docs/channel-protocol.md); the secret itself is never sent.
  std::string secret;
};

/// A backup reports where it has executed to at least every this many instructions (in an
/// ack, see docs/channel-protocol.md), so a primary's max_lag must be well above it.
constexpr uint64_t kExecutedReportStep = 1u << 20;

/// The primary refused this backup (or the backup refused the primary's answer). what() is
/// the reason.
class ChannelRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  /// Whether the primary refused a backup that starts from boot because its guest runs
  /// already: the same backup may join it instead.
  bool primary_runs() const;
};

/// The backup refused the primary: it did not prove it knows the pair's secret, or it asked
/// for one this backup was not given. what() is the whole sentence.
class ChannelUnauthenticated : public ChannelRefused {
 public:
  using ChannelRefused::ChannelRefused;
};

/// How one end sees the channel, for status lines and tests. Counters since the start.
struct ChannelStats {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t last_seq = 0;      ///< primary: appended; backup: received
  uint64_t acked_seq = 0;     ///< primary: the backup's acknowledgement
  uint64_t progress = 0;      ///< primary: the last progress mark; backup: complete_below()
  uint64_t peer_icount = 0;   ///< primary: where the backup has executed to
  uint64_t lag_waits = 0;     ///< primary: times the vCPU waited for the backup to catch up
  size_t buffered_bytes = 0;  ///< primary: unacknowledged; backup: queued

  /// Instructions the backup trails by: from peer_icount (primary) or the instructions it has
  /// executed (backup) up to progress; 0 if it is not behind.
  uint64_t lag() const { return progress > peer_icount ? progress - peer_icount : 0; }
};

/// What `a` (this end) and `b` (the peer) disagree about, or empty when they may pair.
std::string pairing_mismatch(const std::string& pair_a, const LogHeader& a,
                             const std::string& pair_b, const LogHeader& b);

}  // namespace vmft::channel
