#include "vmft/channel/BackupEnd.h"

#include <spdlog/spdlog.h>

#include "Handshake.h"
#include "Messages.h"
#include "Transport.h"
#include "vmft/logchannel/Frame.h"
#include "vmft/logchannel/LogError.h"

namespace vmft::channel {

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;
using detail::framed;
using logchannel::kFrameHeaderBytes;
using logchannel::LogError;

// How often a backup that got further says so when it is not yet kExecutedReportStep further:
// a primary that bounds its lag in time must hear within about this much.
constexpr auto kExecutedReportInterval = std::chrono::milliseconds(1);
// A joining backup says how much RAM it has received this often.
constexpr auto kJoinProgressInterval = std::chrono::seconds(1);

}  // namespace

ChannelBackup::ChannelBackup(asio::io_context& io, ChannelConfig config)
    : io_(io), config_(std::move(config)), timer_(io) {
  handshake_ = std::make_unique<detail::BackupHandshake>(
      io_, config_,
      detail::BackupHandshake::Handlers{
          [this] {
            std::lock_guard lock(mutex_);
            return shut_down_;
          },
          [this](std::shared_ptr<detail::FrameLink> link) { welcomed(std::move(link)); },
          [this](std::string why, bool by_us) { refused(std::move(why), by_us); },
          [this](const std::string& why) { lose(why); }});
}

ChannelBackup::~ChannelBackup() = default;

bool ChannelBackup::connect(const tcp::endpoint& primary) {
  {
    std::lock_guard lock(mutex_);
    refused_.reset();  // a refused hello may be followed by a join
    refused_by_us_ = false;
  }
  asio::post(io_, [this, primary] { handshake_->connect(primary, joining_); });
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return connected_ || refused_ || lost_ || shut_down_; });
  if (refused_ && refused_by_us_) throw ChannelUnauthenticated(*refused_);
  if (refused_) throw ChannelRefused(*refused_);
  if (lost_ && !connected_) throw LogError(*lost_);
  return connected_ && !shut_down_;
}

// io thread: the handshake is over; the log follows.
void ChannelBackup::welcomed(std::shared_ptr<detail::FrameLink> link) {
  link_ = std::move(link);
  link_->set_handlers([this](std::span<const uint8_t> payload) { on_frame(payload); },
                      [this](const std::string& why) { lose("the primary is gone: " + why); });
  link_->read(logchannel::kMaxFramePayload);
  {
    std::lock_guard lock(mutex_);
    connected_ = true;
    last_heard_ = Clock::now();
  }
  cv_.notify_all();
  tick();
}

// io thread: the primary refused this backup, or (by_us) this backup the primary.
void ChannelBackup::refused(std::string why, bool by_us) {
  {
    std::lock_guard lock(mutex_);
    refused_ = std::move(why);
    refused_by_us_ = by_us;
  }
  cv_.notify_all();
}

std::optional<ChannelBackup::JoinStart> ChannelBackup::join(const tcp::endpoint& primary) {
  joining_ = true;
  ram_.assign(config_.header.ram_size, 0);
  if (!connect(primary)) return std::nullopt;
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return join_start_ || lost_ || shut_down_; });
  if (shut_down_) return std::nullopt;
  if (!join_start_) throw LogError(*lost_);
  JoinStart start = std::move(*join_start_);
  join_start_.reset();
  return start;
}

// io thread, while joining: at most every kJoinProgressInterval, how much RAM has come. The
// primary sends only pages with something in them, and heartbeats meanwhile.
void ChannelBackup::report_join_progress() {
  const auto now = Clock::now();
  if (join_started_ == Clock::time_point{}) join_started_ = join_reported_ = now;
  if (now - join_reported_ < kJoinProgressInterval) return;
  join_reported_ = now;
  const double seconds = std::chrono::duration<double>(now - join_started_).count();
  spdlog::info(
      "joining pair '{}': {:.1f} MiB of the guest's RAM received ({:.1f} MiB/s), the last up to "
      "{:.1f} of {:.1f} MiB; the rest is zero or comes with the snapshot",
      config_.pair, join_ram_received_ / 1048576.0, join_ram_received_ / 1048576.0 / seconds,
      join_ram_offset_ / 1048576.0, ram_.size() / 1048576.0);
}

// io thread, while joining: guest RAM, or the snapshot that ends the join.
void ChannelBackup::on_join_frame(std::span<const uint8_t> payload) {
  try {
    if (!joining_) throw LogError("the primary sent RAM or a snapshot to a backup not joining");
    if (payload[0] == detail::kRam) {
      const detail::RamRun run = detail::decode_ram(payload);
      if (run.offset > ram_.size() || run.bytes.size() > ram_.size() - run.offset) {
        throw LogError(fmt::format("{} bytes of RAM at offset {} lie outside the guest's {}",
                                   run.bytes.size(), run.offset, ram_.size()));
      }
      std::copy(run.bytes.begin(), run.bytes.end(), ram_.begin() + run.offset);
      join_ram_received_ += run.bytes.size();
      join_ram_offset_ = run.offset + run.bytes.size();
      report_join_progress();
    } else {
      const detail::SnapshotStart start = detail::decode_snapshot_start(payload);
      std::lock_guard lock(mutex_);
      received_seq_ = acked_ = start.seq;
      mark_ = last_icount_ = start.icount;
      join_start_ = JoinStart{
          start.seq, start.icount, {start.snapshot.begin(), start.snapshot.end()}, std::move(ram_)};
      joining_ = false;
    }
  } catch (const LogError& e) {
    return lose(std::string("the primary sent a malformed message: ") + e.what());
  }
  {
    std::lock_guard lock(mutex_);
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
  }
  cv_.notify_all();
}

// io thread: a batch of records, or the pair's epoch.
void ChannelBackup::on_frame(std::span<const uint8_t> payload) {
  if (payload[0] == detail::kRam || payload[0] == detail::kSnapshot) {
    return on_join_frame(payload);
  }
  if (joining_ && payload[0] == detail::kBatch) {  // a heartbeat before the snapshot
    report_join_progress();
    std::lock_guard lock(mutex_);
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
    return;
  }
  if (payload[0] == detail::kReleased) {
    uint64_t seq = 0;
    try {
      seq = detail::decode_released(payload);
    } catch (const LogError& e) {
      return lose(std::string("the primary sent a malformed message: ") + e.what());
    }
    std::lock_guard lock(mutex_);
    released_ = std::max(released_, seq);
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
    return;
  }
  if (payload[0] == detail::kEpoch) {
    uint64_t epoch = 0;
    try {
      epoch = detail::decode_epoch(payload);
    } catch (const LogError& e) {
      return lose(std::string("the primary sent a malformed message: ") + e.what());
    }
    auto frame = framed(detail::encode_epoch_ack(epoch));
    {
      std::lock_guard lock(mutex_);
      epoch_ = epoch;
      last_heard_ = Clock::now();
      bytes_sent_ += frame.size();
    }
    // Until the primary hears this, it must not count on this backup taking over.
    link_->write(std::move(frame));
    return;
  }
  std::vector<std::pair<logchannel::Record, size_t>> records;
  uint64_t mark = 0;
  uint64_t seq;
  {
    std::lock_guard lock(mutex_);
    seq = received_seq_;
  }
  try {
    if (payload[0] != detail::kBatch) throw LogError("unexpected message type");
    mark = detail::decode_batch(payload, decoder_, seq, records);
  } catch (const LogError& e) {
    return lose(std::string("the primary sent a malformed batch: ") + e.what());
  }
  bool pause = false;
  {
    std::lock_guard lock(mutex_);
    // The vCPU may have read ended() already: after it, nothing more arrives.
    if (lost_ || shut_down_) return;
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
    for (auto& r : records) {
      last_icount_ = r.first.icount;
      queued_bytes_ += r.second;
      queue_.push_back(std::move(r));
    }
    received_seq_ = seq;
    mark_ = std::max(mark_, mark);
    if (waiting_ && std::max(mark_, last_icount_) >= wait_target_) waiting_ = false;  // woken
    if (queued_bytes_ >= config_.buffer_bytes && !waiting_) {
      reading_paused_ = true;
      pause = true;
    }
  }
  cv_.notify_all();
  if (pause) link_->pause();
  send_ack();
}

void ChannelBackup::send_ack() {
  if (!link_ || ack_writing_) return;
  std::vector<uint8_t> payload;
  {
    std::lock_guard lock(mutex_);
    const uint64_t executed = executed_.load(std::memory_order_relaxed);
    payload = detail::encode_ack({received_seq_, executed});
    reported_.store(executed, std::memory_order_relaxed);
    last_report_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    acked_ = received_seq_;
  }
  auto frame = framed(payload);
  {
    std::lock_guard lock(mutex_);
    bytes_sent_ += frame.size();
  }
  ack_writing_ = true;
  last_ack_sent_ = Clock::now();
  link_->write(std::move(frame), [this] {
    ack_writing_ = false;
    bool more;
    {
      std::lock_guard lock(mutex_);
      more = received_seq_ > acked_ || executed_.load(std::memory_order_relaxed) -
                                               reported_.load(std::memory_order_relaxed) >=
                                           kExecutedReportStep;
    }
    if (more) send_ack();
  });
}

void ChannelBackup::tick() {
  const auto now = Clock::now();
  std::chrono::steady_clock::duration silent;
  {
    std::lock_guard lock(mutex_);
    if (lost_ || shut_down_) return;
    // While the backup itself does not read (its queue is full), the primary's silence is
    // its own doing, not a sign the primary is gone.
    if (reading_paused_) last_heard_ = now;
    silent = now - last_heard_;
  }
  // As on the primary: what waits unread in the socket was not silence.
  if (silent > config_.peer_timeout && !(link_ && link_->has_unread_bytes())) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
    return lose(fmt::format("the primary sent nothing for {} ms", ms));
  }
  if (now - last_ack_sent_ >= config_.heartbeat_interval) send_ack();
  timer_.expires_after(config_.heartbeat_interval);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) tick();
  });
}

void ChannelBackup::lose(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (lost_ || shut_down_) return;
    lost_ = why;
  }
  cv_.notify_all();
  if (link_) link_->close();
  timer_.cancel();
  if (on_lost_) on_lost_(why);
}

std::optional<logchannel::Record> ChannelBackup::next_record() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  auto [record, size] = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= size;
  if (reading_paused_ && queued_bytes_ < config_.buffer_bytes / 2) resume_reading_locked();
  return std::move(record);
}

void ChannelBackup::resume_reading_locked() {
  reading_paused_ = false;
  asio::post(io_, [this] {
    if (link_ && !link_->closed()) link_->read(logchannel::kMaxFramePayload);
  });
}

bool ChannelBackup::ended() const {
  std::lock_guard lock(mutex_);
  return (lost_ || shut_down_) && queue_.empty();
}

uint64_t ChannelBackup::outputs_released() const {
  std::lock_guard lock(mutex_);
  return released_;
}

uint64_t ChannelBackup::complete_below() const {
  std::lock_guard lock(mutex_);
  if (lost_ || shut_down_) return UINT64_MAX;
  return std::max(mark_, last_icount_);
}

// vCPU thread: an ack tells the primary whenever the backup got kExecutedReportStep further,
// or further at all after kExecutedReportInterval (the primary may be waiting for it to catch
// up); heartbeat acks carry it too.
void ChannelBackup::reached(uint64_t icount) {
  executed_.store(icount, std::memory_order_relaxed);
  const uint64_t reported = reported_.load(std::memory_order_relaxed);
  if (icount <= reported) return;
  if (icount - reported < kExecutedReportStep &&
      Clock::now().time_since_epoch() - Clock::duration(last_report_.load()) <
          kExecutedReportInterval) {
    return;
  }
  report_executed();
}

// Any thread: an ack with where the vCPU is goes out soon.
void ChannelBackup::report_executed() {
  if (report_posted_.exchange(true)) return;
  asio::post(io_, [this] {
    report_posted_ = false;
    send_ack();
  });
}

// Before it waits for the primary, the backup says how far it got: it has executed all it has.
void ChannelBackup::wait_for(uint64_t icount) {
  if (executed_.load(std::memory_order_relaxed) > reported_.load(std::memory_order_relaxed)) {
    report_executed();
  }
  std::unique_lock lock(mutex_);
  if (std::max(mark_, last_icount_) >= icount) return;
  waiting_ = true;
  wait_target_ = icount;
  if (reading_paused_) resume_reading_locked();
  cv_.wait(lock, [&] { return lost_ || shut_down_ || std::max(mark_, last_icount_) >= icount; });
  waiting_ = false;
}

std::optional<uint64_t> ChannelBackup::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

std::optional<std::string> ChannelBackup::lost() const {
  std::lock_guard lock(mutex_);
  return lost_;
}

void ChannelBackup::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
  }
  cv_.notify_all();
  asio::post(io_, [this] {
    timer_.cancel();
    handshake_->cancel();
    bool leaving;
    {
      std::lock_guard lock(mutex_);
      leaving = leaving_;
    }
    if (link_ && !leaving) link_->close();  // leave() closes it once its goodbye is out
  });
}

void ChannelBackup::leave() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    leaving_ = true;
  }
  cv_.notify_all();
  asio::post(io_, [this] {
    timer_.cancel();
    handshake_->cancel();
    const auto said = [this] {
      {
        std::lock_guard lock(mutex_);
        goodbye_done_ = true;
      }
      cv_.notify_all();
    };
    if (!link_ || link_->closed()) return said();  // nobody to say it to
    // The link closes once the goodbye is written, after whatever was queued before it.
    const auto link = link_;
    link->write(framed(detail::encode_goodbye()), [link, said] {
      link->close();
      said();
    });
  });
}

bool ChannelBackup::wait_goodbye(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return !leaving_ || goodbye_done_; });
}

ChannelStats ChannelBackup::stats() const {
  std::lock_guard lock(mutex_);
  ChannelStats s;
  s.bytes_sent = bytes_sent_;
  s.bytes_received = bytes_received_;
  s.last_seq = received_seq_;
  s.acked_seq = acked_;
  s.progress = std::max(mark_, last_icount_);
  s.peer_icount = executed_.load(std::memory_order_relaxed);
  s.buffered_bytes = queued_bytes_;
  return s;
}

}  // namespace vmft::channel
