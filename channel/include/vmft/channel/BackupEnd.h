#pragma once
// The backup's end of the logging channel (docs/channel-protocol.md): it passes the primary's
// handshake (Handshake.h), then queues the log it receives for its vCPU and acknowledges it;
// one that joins a running primary first receives its RAM and snapshot.
//
// Its socket work runs on an asio io_context that the caller runs on another thread; the vCPU
// thread uses it as a RecordSource.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
class BackupHandshake;
}  // namespace detail

/// The backup's end: connects to the primary and receives its log.
class ChannelBackup final : public logchannel::RecordSource {
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
  const logchannel::LogHeader& header() const override { return config_.header; }
  std::optional<logchannel::Record> next_record() override;
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
  void welcomed(std::shared_ptr<detail::FrameLink> link);
  void refused(std::string why, bool by_us);
  void report_join_progress();
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
  std::unique_ptr<detail::BackupHandshake> handshake_;  ///< io thread
  std::shared_ptr<detail::FrameLink> link_;             ///< io thread, once welcomed
  std::function<void(const std::string&)> on_lost_;
  std::chrono::steady_clock::time_point last_ack_sent_;  ///< io thread
  logchannel::RecordDecoder decoder_;                    ///< io thread
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
  std::deque<std::pair<logchannel::Record, size_t>> queue_;  ///< received, with its encoded size
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

}  // namespace vmft::channel
