#pragma once
// The primary's end of the logging channel (docs/channel-protocol.md): it takes a backup through
// the handshake (Handshake.h), then streams its log to it, bounds how far the backup may trail,
// and copies RAM and a snapshot to a backup that joins a running guest.
//
// Its socket work runs on an asio io_context that the caller runs on another thread; the vCPU
// thread uses it as a RecordSink.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

// Only the types these ends are made with: the sockets are Transport's and Handshake's.
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "vmft/channel/Channel.h"
#include "vmft/logchannel/RecordCodec.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::channel {

namespace detail {
class FrameLink;
class PrimaryHandshake;
struct Admission;
}  // namespace detail

/// The primary's end: listens for a backup, then streams its log to it. One backup at a
/// time: the first from boot, and once the primary runs alone, backups that join it with a
/// snapshot of the running machine (see docs/channel-protocol.md).
class ChannelPrimary final : public logchannel::RecordSink {
 public:
  /// Which backup a primary without one takes.
  enum class Accepting {
    kFirstBackup,  ///< one that starts from boot, as the guest has not started
    kJoiners,      ///< one that joins: the guest runs, alone
    kNothing,      ///< none (this side is a backup, or the arbiter has not decided)
  };

  /// Binds `listen` now; throws std::system_error naming the address if it cannot.
  ChannelPrimary(asio::io_context& io, const asio::ip::tcp::endpoint& listen, ChannelConfig config,
                 Accepting accepting = Accepting::kFirstBackup);
  ~ChannelPrimary() override;

  /// Any thread: which backup to take when there is none. Losing a backup changes nothing
  /// here: whoever hears of the loss (on_peer_lost) decides what comes next.
  void accept(Accepting what);
  /// Called on the io thread when a joining backup passed the handshake, with the session
  /// that names it. The caller then sends it RAM (send_ram) while the guest runs, and the
  /// snapshot (start_stream).
  void on_join(std::function<void(uint64_t)> f) { on_join_ = std::move(f); }
  /// Pre-copy, any thread but the io thread: sends guest RAM at `offset` to the joining
  /// backup of `session`; blocks while what it sent before is unwritten. False once that
  /// joiner is lost.
  bool send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes);
  /// vCPU thread, where the snapshot was taken (after log record `seq`, at instruction
  /// `icount`): sends the RAM runs (offset, bytes) that changed since they were sent, then the
  /// snapshot; records appended from now on stream to the joiner of `session`. False if it is
  /// lost.
  bool start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                    std::span<const uint8_t> snapshot);
  /// Called on the io thread when the joined backup reports it runs from the snapshot on.
  void on_in_sync(std::function<void()> f) { on_in_sync_ = std::move(f); }

  asio::ip::tcp::endpoint local_endpoint() const;

  /// Called on the io thread whenever the backup's acknowledgement rises, with its seq.
  void on_ack(std::function<void(uint64_t)> f) { on_ack_ = std::move(f); }
  /// Called once on the io thread when the backup is lost, with why. Until it returns no other
  /// backup passes the handshake (that is the io thread's too), so it may call accept() first.
  void on_peer_lost(std::function<void(const std::string&)> f) { on_lost_ = std::move(f); }

  /// Accepts backups until one passes the handshake (refusing, and logging, any that does not
  /// match). Blocks; false if shutdown() came first.
  bool wait_for_backup();

  // RecordSink, vCPU thread. append() waits while buffer_bytes are unacknowledged; without a
  // backup that takes the stream (lost, none yet, one still joining) it drops records.
  void append(const logchannel::Record& record) override;
  void flush() override;
  void close() override;
  void progress(uint64_t icount) override;

  /// Any thread: every output of the records through `seq` has left this side (the output
  /// gate released it). The backup hears it with the next batch, and a backup that takes over
  /// writes again only the console output of later records: the primary may not have.
  void released(uint64_t seq);
  /// Tells the backup the epoch at which the arbiter registered the pair (any thread).
  void send_epoch(uint64_t epoch);
  /// Called on the io thread when the backup says it has an epoch sent with send_epoch(): from
  /// then on it can claim the epoch at the arbiter, and so take over, if this side dies.
  void on_epoch_acked(std::function<void(uint64_t)> f) { on_epoch_acked_ = std::move(f); }

  /// Blocks until the backup acknowledged every record appended, it is lost, or `timeout`
  /// passed; returns whether everything was acknowledged.
  bool wait_acknowledged(std::chrono::milliseconds timeout);
  /// Sets this side's id (ChannelConfig::id), once the port it listens on is known; before
  /// the io thread runs.
  void set_id(std::string id) { config_.id = std::move(id); }
  /// Why the last backup was lost, if it was and no other took its place.
  std::optional<std::string> lost() const;
  /// Whether the last backup lost left on purpose (it said goodbye: it was stopped, and will
  /// not claim the pair), rather than falling silent.
  bool backup_left() const;
  /// Closes everything and wakes every waiter (any thread).
  void shutdown();

  ChannelStats stats() const;

 private:
  void admitted(detail::Admission admission);
  std::string refusal_locked(bool join) const;
  void start_session_locked(int fd);
  void lose(const std::string& why);
  void schedule_send_locked();
  static std::chrono::steady_clock::duration vcpu_time();
  void note_ran_locked(uint64_t icount, std::chrono::steady_clock::duration ran);
  std::chrono::steady_clock::duration lag_time_locked(std::chrono::steady_clock::duration ran_now);
  std::vector<uint8_t> take_batch_locked(bool heartbeat);
  void send();
  void written();
  void on_frame(std::span<const uint8_t> payload);
  void tick();

  asio::io_context& io_;
  ChannelConfig config_;
  asio::steady_timer timer_;
  /// Binds in the constructor (local_endpoint() reads what it bound); then io thread only.
  std::unique_ptr<detail::PrimaryHandshake> handshake_;
  std::shared_ptr<detail::FrameLink> link_;  ///< io thread
  std::function<void(uint64_t)> on_ack_;
  std::function<void(const std::string&)> on_lost_;
  std::function<void(uint64_t)> on_join_;
  std::function<void(uint64_t)> on_epoch_acked_;
  std::function<void()> on_in_sync_;
  logchannel::RecordEncoder encoder_;  ///< vCPU thread

  /// kWaiting: no backup; kJoining: one receives the pre-copy; kStreaming: records flow.
  enum class Phase { kWaiting, kJoining, kStreaming };
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kWaiting;
  uint64_t session_ = 0;  ///< counts the backups that passed the handshake
  Accepting accepting_;
  bool shut_down_ = false;
  std::optional<std::string> lost_;
  bool backup_left_ = false;      ///< the backup lost said goodbye
  std::vector<uint8_t> pending_;  ///< encoded records not yet sent
  uint64_t pending_seq_ = 0;      ///< the last record in pending_
  uint64_t appended_seq_ = 0;
  uint64_t mark_ = 0;
  uint64_t sent_mark_ = 0;
  bool send_posted_ = false;
  bool writing_ = false;  ///< bytes are queued on the link: only the io thread writes
  int fd_ = -1;           ///< the backup's socket, for the vCPU's direct writes; -1 once closed
  int session_fd_ = -1;   ///< the backup's socket, also while it joins
  std::vector<uint8_t> preface_;     ///< frames to send before the next batch (RAM, snapshot)
  std::optional<uint64_t> sync_at_;  ///< a joiner is in sync once it has executed to here
  std::optional<uint64_t> epoch_to_send_;
  uint64_t released_seq_ = 0;                          ///< see released()
  uint64_t sent_released_seq_ = 0;                     ///< the last released_seq_ sent
  std::deque<std::pair<uint64_t, size_t>> in_flight_;  ///< (last seq, bytes) per batch sent
  /// (instruction count, vcpu_time()) samples since where the backup has executed to, for
  /// max_lag_time: one per kRanSampleStep of running time, at most kMaxRanSamples (a second's
  /// worth; a backup further behind than that is measured from the oldest, which waits).
  std::deque<std::pair<uint64_t, std::chrono::steady_clock::duration>> ran_;
  static constexpr std::chrono::microseconds kRanSampleStep{100};
  static constexpr size_t kMaxRanSamples = 10000;
  size_t unacked_bytes_ = 0;
  uint64_t acked_seq_ = 0;
  uint64_t peer_icount_ = 0;
  uint64_t lag_waits_ = 0;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;
  std::chrono::steady_clock::time_point last_sent_, last_heard_;
};

}  // namespace vmft::channel
