#pragma once
// The logging channel: a primary streams its log to its backup over TCP, the backup
// acknowledges what it received, and each side hears from the other at least every heartbeat
// interval. docs/channel-protocol.md describes the bytes.
//
// Both ends do their socket work on an asio io_context that the caller runs on another
// thread; the vCPU thread uses them as a RecordSink (primary) or RecordSource (backup).

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vmft/auth/Secret.h"
#include "vmft/logchannel/LogError.h"
#include "vmft/logchannel/RecordCodec.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::logchannel {

namespace detail {
class FrameLink;
}

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

/// The primary's end: listens for a backup, then streams its log to it. One backup at a
/// time: the first from boot, and once the primary runs alone, backups that join it with a
/// snapshot of the running machine (see docs/channel-protocol.md).
class ChannelPrimary final : public RecordSink {
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

  /// Any thread: which backup to take when there is none. Losing a backup sets kNothing.
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

  asio::ip::tcp::endpoint local_endpoint() const { return local_; }

  /// Called on the io thread whenever the backup's acknowledgement rises, with its seq.
  void on_ack(std::function<void(uint64_t)> f) { on_ack_ = std::move(f); }
  /// Called once on the io thread when the backup is lost, with why.
  void on_peer_lost(std::function<void(const std::string&)> f) { on_lost_ = std::move(f); }

  /// Accepts backups until one passes the handshake (refusing, and logging, any that does not
  /// match). Blocks; false if shutdown() came first.
  bool wait_for_backup();

  // RecordSink, vCPU thread. append() waits while buffer_bytes are unacknowledged; without a
  // backup that takes the stream (lost, none yet, one still joining) it drops records.
  void append(const Record& record) override;
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
  void start_accept();
  bool admit(const std::shared_ptr<detail::FrameLink>& link);
  void challenge(std::shared_ptr<detail::FrameLink> link);
  void handshake(std::shared_ptr<detail::FrameLink> link, std::span<const uint8_t> hello,
                 const std::optional<auth::Nonce>& backup_nonce);
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
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::endpoint local_;
  asio::steady_timer timer_;
  std::shared_ptr<detail::FrameLink> link_;  ///< io thread
  /// io thread: connections accepted that may not have passed the handshake yet.
  std::vector<std::weak_ptr<detail::FrameLink>> handshaking_;
  bool refusing_crowd_ = false;  ///< io thread: refused one as handshaking_ was full
  std::function<void(uint64_t)> on_ack_;
  std::function<void(const std::string&)> on_lost_;
  std::function<void(uint64_t)> on_join_;
  std::function<void(uint64_t)> on_epoch_acked_;
  std::function<void()> on_in_sync_;
  RecordEncoder encoder_;  ///< vCPU thread

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

/// The backup's end: connects to the primary and receives its log.
class ChannelBackup final : public RecordSource {
 public:
  ChannelBackup(asio::io_context& io, ChannelConfig config);
  ~ChannelBackup() override;

  /// Called once on the io thread when the primary is lost, with why.
  void on_peer_lost(std::function<void(const std::string&)> f) { on_lost_ = std::move(f); }

  /// Connects to `primary` (retrying while nothing listens there) and does the handshake.
  /// Blocks; throws ChannelRefused with the primary's reason, false if shutdown() came first.
  bool connect(const asio::ip::tcp::endpoint& primary);

  /// Where a backup that joins a running primary starts.
  struct JoinStart {
    uint64_t seq = 0;               ///< the last log record the snapshot includes
    uint64_t icount = 0;            ///< the snapshot's instruction count
    std::vector<uint8_t> snapshot;  ///< as the primary encoded it
    std::vector<uint8_t> ram;       ///< all of guest RAM at the snapshot
  };
  /// Connects to a running `primary` as a backup that joins it (retrying while nothing
  /// listens there) and receives its RAM and snapshot; the log from there on follows through
  /// next_record(). Blocks; throws ChannelRefused with the primary's reason or LogError;
  /// nullopt if shutdown() came first.
  std::optional<JoinStart> join(const asio::ip::tcp::endpoint& primary);

  // RecordSource, vCPU thread.
  const LogHeader& header() const override { return config_.header; }
  std::optional<Record> next_record() override;
  bool ended() const override;
  uint64_t complete_below() const override;
  void wait_for(uint64_t icount) override;
  void reached(uint64_t icount) override;
  uint64_t outputs_released() const override;

  std::optional<std::string> lost() const;
  /// The epoch at which the primary registered the pair, once it said.
  std::optional<uint64_t> epoch() const;
  /// Closes everything and wakes every waiter (any thread).
  void shutdown();
  /// As shutdown(), telling the primary first that this backup stops on purpose, so that it
  /// goes on alone at once rather than after the peer timeout. The caller must have made sure
  /// that this backup will never go live (InputQueue::request_stop first). Any thread.
  void leave();
  /// After leave(): waits until the goodbye is written (or there was nobody to say it to), at
  /// most `timeout`; true at once without leave(). Not on the io thread.
  bool wait_goodbye(std::chrono::milliseconds timeout);

  ChannelStats stats() const;

 private:
  void try_connect(const asio::ip::tcp::endpoint& primary);
  void report_join_progress();
  void greet(std::shared_ptr<detail::FrameLink> link, const asio::ip::tcp::endpoint& primary);
  void expect_answer(const std::shared_ptr<detail::FrameLink>& link, const std::string& where);
  void refused(std::shared_ptr<detail::FrameLink> link, std::string why, bool by_us);
  void lose(const std::string& why);
  void on_frame(std::span<const uint8_t> payload);
  void on_join_frame(std::span<const uint8_t> payload);
  void send_ack();
  void report_executed();
  void tick();
  void resume_reading_locked();

  asio::io_context& io_;
  ChannelConfig config_;
  asio::steady_timer timer_;
  std::shared_ptr<detail::FrameLink> link_;  ///< io thread
  std::function<void(const std::string&)> on_lost_;
  bool said_waiting_ = false;  ///< io thread
  uint64_t answer_waits_ = 0;  ///< io thread: handshake waits begun, so a stale one does nothing
  std::chrono::steady_clock::time_point last_ack_sent_;  ///< io thread
  RecordDecoder decoder_;                                ///< io thread
  bool joining_ = false;            ///< io thread (set before connecting): the snapshot is to come
  std::vector<uint8_t> ram_;        ///< io thread, while joining
  uint64_t join_ram_received_ = 0;  ///< io thread, while joining
  uint64_t join_ram_offset_ = 0;    ///< io thread: where the last RAM received ends
  std::chrono::steady_clock::time_point join_started_;   ///< io thread: the first RAM's arrival
  std::chrono::steady_clock::time_point join_reported_;  ///< io thread: the last progress line
  std::atomic<uint64_t> executed_{0};                    ///< where the vCPU is, for the primary
  std::atomic<uint64_t> reported_{0};                    ///< the executed_ the last ack carried
  std::atomic<bool> report_posted_{false};
  /// When the last ack left (steady_clock ticks since its epoch).
  std::atomic<std::chrono::steady_clock::rep> last_report_{0};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool connected_ = false;
  bool shut_down_ = false;
  bool leaving_ = false;       ///< leave() was called
  bool goodbye_done_ = false;  ///< its goodbye is written, or there was nobody to tell
  std::optional<std::string> refused_;
  bool refused_by_us_ = false;  ///< refused_ says why this backup refused the primary
  std::optional<std::string> lost_;
  std::optional<uint64_t> epoch_;
  uint64_t released_ = 0;  ///< the primary's last released() seq
  std::optional<JoinStart> join_start_;
  std::deque<std::pair<Record, size_t>> queue_;  ///< received, with its encoded size
  size_t queued_bytes_ = 0;
  bool waiting_ = false;  ///< the vCPU waits in wait_for(), for wait_target_
  uint64_t wait_target_ = 0;
  bool reading_paused_ = false;
  uint64_t received_seq_ = 0;
  uint64_t last_icount_ = 0;  ///< of the last record received: all below it are here
  uint64_t mark_ = 0;
  uint64_t acked_ = 0;  ///< the last seq acknowledged
  bool ack_writing_ = false;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;
  std::chrono::steady_clock::time_point last_heard_;
};

}  // namespace vmft::logchannel
