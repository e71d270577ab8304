#pragma once
// The primary's end of the log channel, as a live side uses it to keep a backup: what it hears
// of the backup, and what it sends one that joins. The real one is an adapter over
// channel::ChannelPrimary (host/ChannelEnds.h); tests and a simulation pass their own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vmft::ft {

class PrimaryEnd {
 public:
  /// What the live side hears, each on the channel's io thread.
  struct Listener {
    std::function<void(const std::string& why)> peer_lost;  ///< the backup is gone
    std::function<void(uint64_t session)> join;       ///< a joining backup passed the handshake
    std::function<void()> in_sync;                    ///< the joined backup runs from the snapshot
    std::function<void(uint64_t epoch)> epoch_acked;  ///< the backup has `epoch`
  };

  virtual ~PrimaryEnd() = default;
  /// Replaces what the end tells; before its io thread runs.
  virtual void listen(Listener listener) = 0;
  /// Any thread: a backup that joins is taken (a backup lost sets this back to none).
  virtual void accept_joiners() = 0;
  /// The io thread: no backup is taken until accept_joiners() (the live side decides, when its
  /// backup is lost, before the channel can take another).
  virtual void accept_nothing() = 0;
  /// Whether the backup said goodbye (it will not claim the pair) rather than vanish.
  virtual bool backup_left() const = 0;
  /// Whether the last backup was lost and no other took its place.
  virtual bool lost() const = 0;
  /// Blocks until the backup acknowledged every record appended, it is lost, or `timeout`
  /// passed.
  virtual void wait_acknowledged(std::chrono::milliseconds timeout) = 0;
  /// Closes the end and wakes every waiter (any thread).
  virtual void shutdown() = 0;
  /// Sends the backup the epoch registered for the pair; epoch_acked follows.
  virtual void send_epoch(uint64_t epoch) = 0;
  /// Pre-copy, any thread but the io thread: RAM at `offset` for the joiner `session`; false
  /// if that joiner is gone.
  virtual bool send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes) = 0;
  /// The guest paused: the pages changed since the pre-copy and the snapshot, then the log from
  /// `seq` on; false if the joiner is gone.
  virtual bool start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                            const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                            std::span<const uint8_t> snapshot) = 0;
};

}  // namespace vmft::ft
