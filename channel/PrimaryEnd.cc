#include "vmft/channel/PrimaryEnd.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <time.h>

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
using logchannel::append_frame;
using logchannel::kFrameHeaderBytes;
using logchannel::LogError;

// The records of one batch, beyond which the primary sends what it has without waiting for a
// progress mark or an output.
constexpr size_t kSendNowBytes = 256 * 1024;
// How often progress marks alone are sent.
constexpr auto kMarkInterval = std::chrono::milliseconds(1);
// A backup runs a block only once the log is complete past its end: it stops short of the
// primary's last mark by up to a block (TCG_MAX_INSNS, 512 instructions), and goes no further
// until the primary does. A primary waiting for it in time waits no longer.
constexpr uint64_t kBackupStopsShort = 512;
// RAM for a joining backup travels in frames of at most this much.
constexpr size_t kRamFrameBytes = 1u << 20;

}  // namespace

ChannelPrimary::ChannelPrimary(asio::io_context& io, const tcp::endpoint& listen,
                               ChannelConfig config, Accepting accepting)
    : io_(io), config_(std::move(config)), timer_(io), accepting_(accepting) {
  handshake_ = std::make_unique<detail::PrimaryHandshake>(
      io_, listen, config_, [this](detail::Admission a) { admitted(std::move(a)); });
}

ChannelPrimary::~ChannelPrimary() = default;

tcp::endpoint ChannelPrimary::local_endpoint() const { return handshake_->local_endpoint(); }

// io thread: a backup passed the handshake; it pairs unless this primary takes none of its kind
// now.
void ChannelPrimary::admitted(detail::Admission admission) {
  const auto& link = admission.link;
  const bool join = admission.join;
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    reason = refusal_locked(join);
    if (reason.empty()) {
      phase_ = join ? Phase::kJoining : Phase::kStreaming;
      start_session_locked(link->socket().native_handle());
      if (join) fd_ = -1;  // RAM goes through the io thread until the snapshot
    }
  }
  if (!reason.empty()) return detail::refuse_backup(link, admission.from, reason);
  spdlog::info("{} connected from {}", join ? "a joining backup" : "backup", admission.from);
  link_ = link;
  link_->set_handlers([this](std::span<const uint8_t> payload) { on_frame(payload); },
                      [this](const std::string& why) { lose("the backup is gone: " + why); });
  link_->write(framed(detail::encode_welcome(admission.welcome_proof)), [this] { written(); });
  link_->read(detail::kMaxHandshakeBytes);
  cv_.notify_all();
  tick();
  uint64_t session;
  {
    std::lock_guard lock(mutex_);
    session = session_;
  }
  if (join && on_join_) on_join_(session);
}

// Why a backup (joining or not) cannot pair now, or empty.
std::string ChannelPrimary::refusal_locked(bool join) const {
  if (shut_down_) return "the primary is stopping";
  if (phase_ == Phase::kJoining) return fmt::format("a backup is joining pair '{}'", config_.pair);
  if (phase_ == Phase::kStreaming) {
    return fmt::format("pair '{}' already has a backup", config_.pair);
  }
  switch (accepting_) {
    case Accepting::kFirstBackup:
      if (!join) return {};
      return fmt::format(
          "the primary of pair '{}' has not started its guest: start the backup without --join",
          config_.pair);
    case Accepting::kJoiners:
      if (join) return {};
      return fmt::format("the primary of pair '{}' {}", config_.pair, detail::kPrimaryRunsRefusal);
    case Accepting::kNothing: break;
  }
  return fmt::format(
      "this side of pair '{}' takes no backup now (it is a backup itself, it lost its backup and "
      "the arbiter has not decided yet, or it runs alone without an arbiter to register a joiner "
      "with)",
      config_.pair);
}

// A backup passed the handshake: everything about the last one is forgotten.
void ChannelPrimary::start_session_locked(int fd) {
  ++session_;
  lost_.reset();
  backup_left_ = false;
  fd_ = session_fd_ = fd;
  writing_ = true;  // the welcome goes first
  send_posted_ = false;
  pending_.clear();
  preface_.clear();
  in_flight_.clear();
  unacked_bytes_ = 0;
  epoch_to_send_.reset();
  released_seq_ = sent_released_seq_ = 0;
  ran_.clear();
  sync_at_.reset();
  last_heard_ = last_sent_ = Clock::now();
}

void ChannelPrimary::accept(Accepting what) {
  std::lock_guard lock(mutex_);
  accepting_ = what;
}

bool ChannelPrimary::send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes) {
  std::unique_lock lock(mutex_);
  const auto gone = [&] { return phase_ != Phase::kJoining || session_ != session || shut_down_; };
  for (size_t done = 0; done < bytes.size();) {
    cv_.wait(lock, [&] { return gone() || (preface_.empty() && !writing_); });
    if (gone()) return false;
    const size_t n = std::min(kRamFrameBytes, bytes.size() - done);
    append_frame(detail::encode_ram({offset + done, bytes.subspan(done, n)}), preface_);
    done += n;
    schedule_send_locked();
  }
  return true;
}

bool ChannelPrimary::start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                                  const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                                  std::span<const uint8_t> snapshot) {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::kJoining || session_ != session || shut_down_) return false;
  for (const auto& [offset, bytes] : ram) {
    for (size_t done = 0; done < bytes.size(); done += kRamFrameBytes) {
      const auto run =
          std::span(bytes).subspan(done, std::min(kRamFrameBytes, bytes.size() - done));
      append_frame(detail::encode_ram({offset + done, run}), preface_);
    }
  }
  append_frame(detail::encode_snapshot_start({seq, icount, snapshot}), preface_);
  encoder_ = logchannel::RecordEncoder();  // the joiner decodes from a fresh state
  phase_ = Phase::kStreaming;
  appended_seq_ = pending_seq_ = acked_seq_ = released_seq_ = sent_released_seq_ = seq;
  mark_ = sent_mark_ = peer_icount_ = icount;
  ran_.clear();
  sync_at_ = icount;
  fd_ = session_fd_;
  schedule_send_locked();
  return true;
}

// It travels with the next batch or heartbeat: a backup that takes over before it arrives
// writes a few outputs twice, which is allowed; one it would lose is not.
void ChannelPrimary::released(uint64_t seq) {
  std::lock_guard lock(mutex_);
  released_seq_ = std::max(released_seq_, seq);
}

void ChannelPrimary::send_epoch(uint64_t epoch) {
  std::lock_guard lock(mutex_);
  epoch_to_send_ = epoch;
  schedule_send_locked();
}

bool ChannelPrimary::wait_for_backup() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return phase_ == Phase::kStreaming || shut_down_; });
  return phase_ == Phase::kStreaming && !shut_down_;
}

void ChannelPrimary::append(const logchannel::Record& record) {
  std::vector<uint8_t> bytes;
  encoder_.encode(record, bytes);
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] {
    return phase_ != Phase::kStreaming || shut_down_ || unacked_bytes_ < config_.buffer_bytes;
  });
  appended_seq_ = record.seq;
  if (phase_ != Phase::kStreaming || shut_down_) return;  // no backup: nobody to send it to
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  pending_seq_ = record.seq;
  unacked_bytes_ += bytes.size();
  if (pending_.size() >= kSendNowBytes) schedule_send_locked();
}

void ChannelPrimary::flush() {
  std::lock_guard lock(mutex_);
  schedule_send_locked();
}

void ChannelPrimary::close() { flush(); }

// A mark alone goes out at most every kMarkInterval (or with the next batch): the backup then
// trails a CPU-bound guest by about that much, without a write per block boundary.
// Past max_lag instructions ahead of where the backup has executed to, the vCPU waits (with
// its mark sent, so the backup can run up to it) until the backup is within half of it.
// Past max_lag_time of the guest's running time behind, it waits the same way: that is about
// what a backup that takes over has left to execute first.
void ChannelPrimary::progress(uint64_t icount) {
  const auto ran = config_.max_lag_time.count() ? vcpu_time() : Clock::duration{};
  std::unique_lock lock(mutex_);
  mark_ = icount;
  if (config_.max_lag_time.count() && phase_ == Phase::kStreaming) note_ran_locked(icount, ran);
  // `ran_now`: the vCPU's running time, which does not advance while it waits below.
  const auto lag_within = [&](uint64_t instructions, Clock::duration time,
                              Clock::duration ran_now) {
    return (!config_.max_lag || icount - peer_icount_ <= instructions) &&
           (!config_.max_lag_time.count() || icount - peer_icount_ <= kBackupStopsShort ||
            lag_time_locked(ran_now) <= time);
  };
  const bool too_far =
      phase_ == Phase::kStreaming && !lag_within(config_.max_lag, config_.max_lag_time, ran);
  if (too_far || Clock::now() - last_sent_ >= kMarkInterval) schedule_send_locked();
  if (!too_far) return;
  ++lag_waits_;
  cv_.wait(lock, [&] {
    return phase_ != Phase::kStreaming || shut_down_ ||
           lag_within(config_.max_lag / 2, config_.max_lag_time / 2, ran);
  });
}

// The vCPU thread's CPU time: it does not advance while the guest idles or waits for its
// backup, so it measures the guest's execution, which the backup has to repeat.
Clock::duration ChannelPrimary::vcpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Keeps a sample of (instruction count, vcpu_time()) every kRanSampleStep of running time.
void ChannelPrimary::note_ran_locked(uint64_t icount, Clock::duration ran) {
  if (!ran_.empty() && ran - ran_.back().second < kRanSampleStep) return;
  ran_.emplace_back(icount, ran);
  if (ran_.size() > kMaxRanSamples) ran_.pop_front();
}

// How much of the guest's running time ago the primary passed where the backup has executed
// to: the first sample at or past the backup's instruction count.
Clock::duration ChannelPrimary::lag_time_locked(Clock::duration ran_now) {
  while (!ran_.empty() && ran_.front().first < peer_icount_) ran_.pop_front();
  return ran_.empty() ? Clock::duration{} : ran_now - ran_.front().second;
}

// Sends what is pending. From the vCPU thread, when nothing else is being written, it writes
// straight to the socket (the common case: an output's batch leaves without waking the io
// thread); what the socket does not take at once, and everything while a write is in flight,
// goes through the io thread. Only one of the two paths writes at a time (writing_), so
// frames never interleave.
void ChannelPrimary::schedule_send_locked() {
  if (writing_ || send_posted_ || phase_ == Phase::kWaiting || shut_down_) return;
  if (fd_ < 0) {
    send_posted_ = true;
    asio::post(io_, [this] { send(); });
    return;
  }
  std::vector<uint8_t> bytes = take_batch_locked(false);
  if (bytes.empty()) return;
  const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(bytes.size())) return;
  bytes.erase(bytes.begin(), bytes.begin() + std::max<ssize_t>(n, 0));
  writing_ = true;
  asio::post(io_, [this, rest = std::move(bytes)]() mutable {
    if (link_ && !link_->closed()) link_->write(std::move(rest), [this] { written(); });
  });
}

// The bytes of one batch with everything pending and the latest progress mark (after the
// epoch message, if one waits), or none when there is nothing to say.
std::vector<uint8_t> ChannelPrimary::take_batch_locked(bool heartbeat) {
  std::vector<uint8_t> bytes = std::move(preface_);
  preface_.clear();
  if (phase_ == Phase::kJoining) {
    // Before the snapshot a batch means nothing to the joiner but that the primary is there.
    if (heartbeat && bytes.empty()) append_frame(detail::encode_batch(0, {}), bytes);
    if (!bytes.empty()) last_sent_ = Clock::now();
    bytes_sent_ += bytes.size();
    return bytes;
  }
  if (epoch_to_send_) {
    append_frame(detail::encode_epoch(*epoch_to_send_), bytes);
    epoch_to_send_.reset();
  }
  if (released_seq_ > sent_released_seq_) {
    append_frame(detail::encode_released(released_seq_), bytes);
    sent_released_seq_ = released_seq_;
  }
  if (pending_.empty() && mark_ == sent_mark_ && !heartbeat && bytes.empty()) return bytes;
  append_frame(detail::encode_batch(mark_, pending_), bytes);
  if (!pending_.empty()) in_flight_.emplace_back(pending_seq_, pending_.size());
  pending_.clear();
  sent_mark_ = mark_;
  bytes_sent_ += bytes.size();
  last_sent_ = Clock::now();
  return bytes;
}

// io thread: a batch (or a heartbeat) through asio.
void ChannelPrimary::send() {
  std::vector<uint8_t> bytes;
  {
    std::lock_guard lock(mutex_);
    send_posted_ = false;
    if (!link_ || writing_ || phase_ == Phase::kWaiting || shut_down_) return;
    bytes = take_batch_locked(Clock::now() - last_sent_ >= config_.heartbeat_interval);
    if (bytes.empty()) return;
    writing_ = true;
  }
  link_->write(std::move(bytes), [this] { written(); });
}

// io thread: a write through asio finished; send what piled up meanwhile.
void ChannelPrimary::written() {
  {
    std::lock_guard lock(mutex_);
    writing_ = false;
  }
  cv_.notify_all();  // a pre-copy waits for its RAM to be written
  send();
}

// io thread: an acknowledgement, of the log or of the epoch, or the backup's goodbye.
void ChannelPrimary::on_frame(std::span<const uint8_t> payload) {
  if (payload[0] == detail::kGoodbye) {
    {
      std::lock_guard lock(mutex_);
      backup_left_ = true;
    }
    return lose("the backup left: it was stopped");
  }
  if (payload[0] == detail::kEpochAck) {
    uint64_t epoch = 0;
    try {
      epoch = detail::decode_epoch_ack(payload);
    } catch (const LogError& e) {
      return lose(std::string("the backup sent a malformed message: ") + e.what());
    }
    {
      std::lock_guard lock(mutex_);
      last_heard_ = Clock::now();
      bytes_received_ += payload.size() + kFrameHeaderBytes;
    }
    if (on_epoch_acked_) on_epoch_acked_(epoch);
    return;
  }
  uint64_t acked = 0;
  bool rose = false, caught_up = false, in_sync = false;
  try {
    if (payload[0] != detail::kAck) throw LogError("unexpected message type");
    const detail::Ack ack = detail::decode_ack(payload);
    acked = ack.seq;
    const uint64_t icount = ack.icount;
    std::lock_guard lock(mutex_);
    if (acked > appended_seq_) {
      throw LogError(
          fmt::format("acknowledges record #{}, but only #{} was sent", acked, appended_seq_));
    }
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
    if (icount > peer_icount_) {
      peer_icount_ = icount;
      caught_up = true;  // a vCPU waiting for the backup looks again
    }
    if (sync_at_ && icount >= *sync_at_) {  // a joiner restored the snapshot and runs
      sync_at_.reset();
      in_sync = true;
    }
    if (acked > acked_seq_) {
      acked_seq_ = acked;
      rose = true;
      while (!in_flight_.empty() && in_flight_.front().first <= acked) {
        unacked_bytes_ -= in_flight_.front().second;
        in_flight_.pop_front();
      }
    }
  } catch (const LogError& e) {
    return lose(std::string("the backup sent a malformed message: ") + e.what());
  }
  if (rose || caught_up) cv_.notify_all();
  if (rose && on_ack_) on_ack_(acked);
  if (in_sync && on_in_sync_) on_in_sync_();
}

void ChannelPrimary::tick() {
  std::chrono::steady_clock::duration silent;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::kWaiting || shut_down_) return;
    silent = Clock::now() - last_heard_;
  }
  // Silence is what did not arrive: after a stall of this process (a loaded machine), the
  // backup's acks may be waiting in the socket, unread.
  if (silent > config_.peer_timeout && !(link_ && link_->has_unread_bytes())) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
    return lose(fmt::format("the backup sent nothing for {} ms", ms));
  }
  send();  // a heartbeat if nothing else went out lately
  timer_.expires_after(config_.heartbeat_interval);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) tick();
  });
}

void ChannelPrimary::lose(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (phase_ == Phase::kWaiting || shut_down_) return;
    lost_ = why;
    phase_ = Phase::kWaiting;
    // Before the socket closes: the vCPU must not write to a closed descriptor.
    fd_ = session_fd_ = -1;
    pending_.clear();
    preface_.clear();
  }
  cv_.notify_all();
  if (link_) link_->close();
  timer_.cancel();
  if (on_lost_) on_lost_(why);
}

bool ChannelPrimary::wait_acknowledged(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [this] {
    return phase_ != Phase::kStreaming || shut_down_ || acked_seq_ >= appended_seq_;
  });
  return phase_ == Phase::kStreaming && acked_seq_ >= appended_seq_;
}

std::optional<std::string> ChannelPrimary::lost() const {
  std::lock_guard lock(mutex_);
  return lost_;
}

bool ChannelPrimary::backup_left() const {
  std::lock_guard lock(mutex_);
  return backup_left_ && lost_;
}

void ChannelPrimary::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    fd_ = -1;
  }
  cv_.notify_all();
  asio::post(io_, [this] {
    handshake_->close();
    timer_.cancel();
    if (link_) link_->close();
  });
}

ChannelStats ChannelPrimary::stats() const {
  std::lock_guard lock(mutex_);
  ChannelStats s;
  s.bytes_sent = bytes_sent_;
  s.bytes_received = bytes_received_;
  s.last_seq = appended_seq_;
  s.acked_seq = acked_seq_;
  s.progress = mark_;
  s.peer_icount = peer_icount_;
  s.lag_waits = lag_waits_;
  s.buffered_bytes = unacked_bytes_;
  return s;
}

}  // namespace vmft::channel
