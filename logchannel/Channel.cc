#include "vmft/logchannel/Channel.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <time.h>

#include "ByteIo.h"
#include "ChannelMessages.h"
#include "vmft/logchannel/Frame.h"

namespace vmft::logchannel {

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

// The first byte of every message's frame payload.
enum MessageType : uint8_t {
  kHello = 1,       // backup -> primary: protocol version, pair name, header
  kWelcome = 2,     // primary -> backup: paired
  kRefuse = 3,      // primary -> backup: why not
  kBatch = 4,       // primary -> backup: progress mark, then records
  kAck = 5,         // backup -> primary: highest seq received, instruction count executed
  kEpoch = 6,       // primary -> backup: the epoch the arbiter registered the pair at
  kJoin = 7,        // backup -> primary: as hello, from a backup that joins a running primary
  kRam = 8,         // primary -> joining backup: offset, then bytes of guest RAM
  kSnapshot = 9,    // primary -> joining backup: seq, icount, the machine's snapshot
  kChallenge = 10,  // primary with a secret -> backup, first: the primary's nonce
  kProof = 11,      // backup -> primary with a secret, after its hello: its nonce, its MAC
  kEpochAck = 12,   // backup -> primary: it has the epoch (and can claim it at the arbiter)
  kReleased = 13,   // primary -> backup: the outputs of every record through a seq have left
  kGoodbye = 14,    // backup -> primary: it stops on purpose and will not claim the pair
};

// A handshake message is small: a pair name and a header.
constexpr uint32_t kMaxHandshakeBytes = 64 * 1024;
// The records of one batch, beyond which the primary sends what it has without waiting for a
// progress mark or an output.
constexpr size_t kSendNowBytes = 256 * 1024;
// How often progress marks alone are sent.
constexpr auto kMarkInterval = std::chrono::milliseconds(1);
// A backup runs a block only once the log is complete past its end: it stops short of the
// primary's last mark by up to a block (TCG_MAX_INSNS, 512 instructions), and goes no further
// until the primary does. A primary waiting for it in time waits no longer.
constexpr uint64_t kBackupStopsShort = 512;
// How often a backup that got further says so when it is not yet kExecutedReportStep further:
// a primary that bounds its lag in time must hear within about this much.
constexpr auto kExecutedReportInterval = std::chrono::milliseconds(1);
// Between attempts to reach a primary that does not listen yet.
constexpr auto kConnectRetry = std::chrono::milliseconds(100);
// RAM for a joining backup travels in frames of at most this much.
constexpr size_t kRamFrameBytes = 1u << 20;
// Connections in the handshake at once: a backup needs one, and retries after a refusal; more
// that say nothing would only hold the primary's descriptors until the handshake timeout.
constexpr size_t kMaxHandshaking = 16;
// How a primary whose guest runs refuses a backup that starts from boot; the backup
// recognises it (ChannelRefused::primary_runs) and may join instead. Part of the protocol.
constexpr std::string_view kPrimaryRunsRefusal = "is running: a new backup joins it with --join";
// A joining backup says how much RAM it has received this often.
constexpr auto kJoinProgressInterval = std::chrono::seconds(1);
// After an accept failed for want of descriptors or memory, before the next.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string text(std::span<const uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }
std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> frame;
  frame.reserve(payload.size() + kFrameHeaderBytes);
  append_frame(payload, frame);
  return frame;
}

std::vector<uint8_t> message(MessageType type, const std::string& body = {}) {
  std::vector<uint8_t> payload{type};
  detail::ByteWriter(payload).bytes(bytes_of(body));
  return framed(payload);
}

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string remote_text(const tcp::socket& socket) {
  asio::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown address") : endpoint_text(ep);
}

}  // namespace

namespace detail {

/// One TCP connection carrying frames. io thread only.
class FrameLink : public std::enable_shared_from_this<FrameLink> {
 public:
  using FrameHandler = std::function<void(std::span<const uint8_t>)>;
  using ErrorHandler = std::function<void(const std::string&)>;

  explicit FrameLink(tcp::socket socket) : socket_(std::move(socket)) {
    asio::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
  }

  tcp::socket& socket() { return socket_; }
  /// May be called from within the frame handler: the new ones take over after it returns.
  /// A closed link takes none: handlers often hold the link, and would keep it alive.
  void set_handlers(FrameHandler on_frame, ErrorHandler on_error) {
    if (closed_) return;
    if (in_handler_) {
      next_handlers_.emplace(std::move(on_frame), std::move(on_error));
      return;
    }
    on_frame_ = std::move(on_frame);
    on_error_ = std::move(on_error);
  }

  /// Reads frames, one after the other, into the frame handler, until paused or closed.
  void read(uint32_t max_payload) {
    max_payload_ = max_payload;
    paused_ = false;
    if (!reading_) read_header();
  }
  void pause() { paused_ = true; }

  /// Sends `frame` after those before it; `done` runs once it is written. A closed link
  /// drops it (and `done`).
  void write(std::vector<uint8_t> frame, std::function<void()> done = {}) {
    if (closed_) return;
    writes_.push_back({std::move(frame), std::move(done)});
    if (writes_.size() == 1) write_front();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    drop_handlers();
  }
  bool closed() const { return closed_; }
  /// Whether bytes from the peer wait in the socket, not yet read: the peer spoke, even if
  /// this process has not yet had the time to read what it said.
  bool has_unread_bytes() {
    asio::error_code ec;
    return !closed_ && socket_.available(ec) > 0 && !ec;
  }

 private:
  struct Write {
    std::vector<uint8_t> frame;
    std::function<void()> done;
  };

  // The error handler runs before the descriptor closes: the primary's vCPU writes to it
  // directly, and must be told to stop (lose()) before its number can go to another socket.
  void fail(const std::string& why) {
    if (closed_) return;
    const ErrorHandler on_error = std::move(on_error_);
    if (on_error) on_error(why);
    close();
  }

  // The handlers (and what they hold, often this link) go once the link is closed; within
  // the frame handler, once it returns.
  void drop_handlers() {
    if (in_handler_) {
      next_handlers_.emplace();
    } else {
      on_frame_ = {};
      on_error_ = {};
    }
  }

  void read_header() {
    reading_ = true;
    asio::async_read(socket_, asio::buffer(header_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t) {
                       if (ec) {
                         self->reading_ = false;
                         return self->fail(ec == asio::error::eof ? "the peer closed the channel"
                                                                  : ec.message());
                       }
                       if (self->closed_) {
                         self->reading_ = false;
                         return;
                       }
                       self->read_payload();
                     });
  }

  void read_payload() {
    const FrameHeader h = parse_frame_header(header_);
    if (h.payload_bytes > max_payload_) {
      reading_ = false;
      return fail("a frame of " + std::to_string(h.payload_bytes) + " bytes is over the limit");
    }
    checksum_ = h.checksum;
    payload_.resize(h.payload_bytes);
    asio::async_read(socket_, asio::buffer(payload_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (ec) return self->fail(ec.message());
                       if (self->closed_) return;  // read before the close; nobody listens
                       if (frame_checksum(self->payload_) != self->checksum_) {
                         return self->fail("a frame with a bad checksum");
                       }
                       if (self->payload_.empty()) return self->fail("an empty frame");
                       self->in_handler_ = true;
                       self->on_frame_(self->payload_);
                       self->in_handler_ = false;
                       if (self->next_handlers_) {
                         self->on_frame_ = std::move(self->next_handlers_->first);
                         self->on_error_ = std::move(self->next_handlers_->second);
                         self->next_handlers_.reset();
                       }
                       if (!self->closed_ && !self->paused_ && !self->reading_) self->read_header();
                     });
  }

  void write_front() {
    asio::async_write(socket_, asio::buffer(writes_.front().frame),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        if (ec) {
                          self->writes_.clear();  // and the links their `done`s may hold
                          return self->fail(ec.message());
                        }
                        auto done = std::move(self->writes_.front().done);
                        self->writes_.pop_front();
                        if (!self->writes_.empty()) self->write_front();
                        if (done) done();
                      });
  }

  tcp::socket socket_;
  FrameHandler on_frame_;
  ErrorHandler on_error_;
  bool in_handler_ = false;
  std::optional<std::pair<FrameHandler, ErrorHandler>> next_handlers_;
  std::array<uint8_t, kFrameHeaderBytes> header_{};
  std::vector<uint8_t> payload_;
  uint32_t checksum_ = 0;
  uint32_t max_payload_ = kMaxHandshakeBytes;
  bool reading_ = false;
  bool paused_ = false;
  bool closed_ = false;
  std::deque<Write> writes_;
};

}  // namespace detail

using detail::FrameLink;

std::string pairing_mismatch(const std::string& primary_pair, const LogHeader& primary,
                             const std::string& backup_pair, const LogHeader& backup) {
  if (primary_pair != backup_pair) {
    return fmt::format("the primary serves pair '{}', the backup asked for pair '{}'", primary_pair,
                       backup_pair);
  }
  if (primary.guest_digest != backup.guest_digest) {
    return fmt::format(
        "the primary runs guest {} (XXH64 {:016x}), the backup guest {} (XXH64 {:016x})",
        primary.guest_name, primary.guest_digest, backup.guest_name, backup.guest_digest);
  }
  if (primary.ram_size != backup.ram_size) {
    return fmt::format("the primary's guest has {} bytes of RAM, the backup's {}", primary.ram_size,
                       backup.ram_size);
  }
  if (primary.has_udp != backup.has_udp || primary.has_tcp != backup.has_tcp) {
    const auto socks = [](const LogHeader& h) {
      return std::string(h.has_udp ? "udp" : "no udp") + " and " + (h.has_tcp ? "tcp" : "no tcp");
    };
    return fmt::format(
        "the primary's guest has {}, the backup's {}: give both the same --udp and "
        "--tcp options",
        socks(primary), socks(backup));
  }
  if (primary.frames != backup.frames) {
    const auto nic = [](const LogHeader& h) {
      if (!h.frames) return std::string("no frame NIC");
      const FrameNicConfig& f = *h.frames;
      return fmt::format("a frame NIC with MAC {:012x}, {}.{}.{}.{}/{}, gateway {:08x}, MTU {}",
                         f.mac, f.ip >> 24, (f.ip >> 16) & 255, (f.ip >> 8) & 255, f.ip & 255,
                         f.prefix_len, f.gateway, f.mtu);
    };
    return fmt::format(
        "the primary's guest has {}, the backup's {}: give both the same --tap settings "
        "(--guest-mac, --guest-ip, --gateway, --mtu)",
        nic(primary), nic(backup));
  }
  if (primary.emulator != backup.emulator) {
    return fmt::format(
        "the primary runs its guest on {}, the backup on {}: another emulator version may "
        "translate the same guest differently, so both must run the same",
        primary.emulator, backup.emulator);
  }
  if (primary.digest_interval != backup.digest_interval) {
    return fmt::format("the primary digests its state every {} instructions, the backup every {}",
                       primary.digest_interval, backup.digest_interval);
  }
  return {};
}

// ================================ primary ================================

ChannelPrimary::ChannelPrimary(asio::io_context& io, const tcp::endpoint& listen,
                               ChannelConfig config, Accepting accepting)
    : io_(io), config_(std::move(config)), acceptor_(io), timer_(io), accepting_(accepting) {
  asio::error_code ec;
  acceptor_.open(listen.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen for a backup on " + endpoint_text(listen));
  local_ = acceptor_.local_endpoint();
  asio::post(io_, [this] { start_accept(); });
}

ChannelPrimary::~ChannelPrimary() = default;

void ChannelPrimary::start_accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // shutdown()
    if (ec) {
      // Out of descriptors, say: the connection waits in the backlog; accepting again at once
      // would spin.
      spdlog::warn("cannot accept a connection to the logging channel: {}", ec.message());
      auto retry = std::make_shared<asio::steady_timer>(io_, kAcceptRetry);
      retry->async_wait([this, retry](const asio::error_code& e) {
        if (!e) start_accept();
      });
      return;
    }
    auto link = std::make_shared<FrameLink>(std::move(socket));
    if (!admit(link)) return start_accept();
    if (config_.secret.empty()) {
      std::weak_ptr<FrameLink> weak = link;
      link->set_handlers(
          [this, weak](std::span<const uint8_t> hello) {
            if (auto l = weak.lock()) handshake(l, hello, std::nullopt);
          },
          [](const std::string&) {});
    } else {
      challenge(link);
    }
    link->read(kMaxHandshakeBytes);
    start_accept();
  });
}

// io thread: whether a new connection may start the handshake, and if so, its deadline. One that
// has not passed the handshake by then (it is not link_) is closed, having sent nothing, or a
// hello and no proof; a peer that speaks too slowly never gets past it either.
bool ChannelPrimary::admit(const std::shared_ptr<FrameLink>& link) {
  std::erase_if(handshaking_, [this](const std::weak_ptr<FrameLink>& weak) {
    const auto l = weak.lock();
    return !l || l->closed() || l == link_;
  });
  const std::string from = remote_text(link->socket());
  if (handshaking_.size() >= kMaxHandshaking) {
    const std::string reason = fmt::format(
        "{} other connections to the logging channel are in the handshake; try again later",
        handshaking_.size());
    // Once per crowd: a flood would otherwise flood the log too.
    if (!refusing_crowd_) spdlog::warn("refused a connection from {}: {}", from, reason);
    refusing_crowd_ = true;
    link->write(message(kRefuse, reason), [link] { link->close(); });
    return false;
  }
  refusing_crowd_ = false;
  handshaking_.push_back(link);
  auto deadline = std::make_shared<asio::steady_timer>(io_, config_.handshake_timeout);
  std::weak_ptr<FrameLink> weak = link;
  deadline->async_wait([this, deadline, weak, from](const asio::error_code& ec) {
    const auto l = weak.lock();
    if (ec || !l || l->closed() || l == link_) return;
    spdlog::warn(
        "closed a connection from {} to the logging channel: it did not finish the handshake "
        "within {} ms",
        from, config_.handshake_timeout.count());
    l->close();
  });
  return true;
}

// io thread: with a secret, the primary challenges every backup first, and its hello counts
// only once the answer that follows it proves the backup knows the secret.
void ChannelPrimary::challenge(std::shared_ptr<FrameLink> link) {
  struct Exchange {
    auth::Nonce nonce = auth::make_nonce();
    std::optional<std::vector<uint8_t>> hello;
    bool refused = false;  // logged already
  };
  auto exchange = std::make_shared<Exchange>();
  const std::string from = remote_text(link->socket());
  const auto refuse = [from, exchange](const std::shared_ptr<FrameLink>& l,
                                       const std::string& how) {
    exchange->refused = true;
    const std::string reason =
        fmt::format("the backup at {} does not know the pair's secret", from);
    spdlog::warn("refused a backup: {}{}", reason, how);
    l->pause();
    l->write(message(kRefuse, reason), [l] { l->close(); });
  };
  std::weak_ptr<FrameLink> weak = link;
  link->set_handlers(
      [this, weak, exchange, refuse](std::span<const uint8_t> payload) {
        auto l = weak.lock();
        if (!l) return;
        if (!exchange->hello) {
          exchange->hello.emplace(payload.begin(), payload.end());
          return;
        }
        if (payload[0] != kProof) return refuse(l, " (it did not answer the challenge)");
        detail::Proof proof;
        try {
          proof = detail::decode_proof(payload);
        } catch (const LogError& e) {
          return refuse(l, std::string(" (a malformed answer: ") + e.what() + ")");
        }
        const auth::Mac expected =
            detail::backup_proof(config_.secret, exchange->nonce, proof.nonce, *exchange->hello);
        if (!auth::mac_matches(proof.mac, expected)) return refuse(l, "");
        handshake(l, *exchange->hello, proof.nonce);
      },
      [exchange, from](const std::string&) {
        if (!exchange->hello || exchange->refused) return;
        spdlog::warn(
            "refused a backup: the backup at {} does not know the pair's secret (it closed the "
            "connection instead of answering the challenge)",
            from);
      });
  std::vector<uint8_t> challenge{kChallenge};
  challenge.insert(challenge.end(), exchange->nonce.begin(), exchange->nonce.end());
  link->write(framed(challenge));
}

void ChannelPrimary::handshake(std::shared_ptr<FrameLink> link, std::span<const uint8_t> hello,
                               const std::optional<auth::Nonce>& backup_nonce) {
  const std::string from = remote_text(link->socket());
  const bool join = hello[0] == kJoin;
  std::string reason;
  try {
    if (hello[0] != kHello && !join) throw LogError("not a hello message");
    const detail::Hello h = detail::decode_hello(hello);
    if (h.version != detail::kChannelVersion) {
      reason = fmt::format("the backup speaks channel protocol {}, the primary {}", h.version,
                           detail::kChannelVersion);
    } else {
      reason = pairing_mismatch(config_.pair, config_.header, h.pair, h.header);
      if (reason.empty() && !config_.id.empty() && h.id == config_.id) {
        reason = fmt::format(
            "the backup has the primary's own id '{}' (--id), so the arbiter could not tell "
            "the two apart: give each side its own",
            config_.id);
      }
    }
  } catch (const LogError& e) {
    reason = std::string("malformed hello: ") + e.what();
  }
  {
    std::lock_guard lock(mutex_);
    if (reason.empty()) reason = refusal_locked(join);
    if (reason.empty()) {
      phase_ = join ? Phase::kJoining : Phase::kStreaming;
      start_session_locked(link->socket().native_handle());
      if (join) fd_ = -1;  // RAM goes through the io thread until the snapshot
    }
  }
  link->pause();
  if (!reason.empty()) {
    spdlog::warn("refused a backup from {}: {}", from, reason);
    link->write(message(kRefuse, reason), [link] { link->close(); });
    return;
  }
  spdlog::info("{} connected from {}", join ? "a joining backup" : "backup", from);
  link_ = link;
  link_->set_handlers([this](std::span<const uint8_t> payload) { on_frame(payload); },
                      [this](const std::string& why) { lose("the backup is gone: " + why); });
  std::vector<uint8_t> welcome{kWelcome};
  if (backup_nonce) {
    const auth::Mac mac = detail::primary_proof(config_.secret, *backup_nonce);
    welcome.insert(welcome.end(), mac.begin(), mac.end());
  }
  link_->write(framed(welcome), [this] { written(); });
  link_->read(kMaxHandshakeBytes);
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
      return fmt::format("the primary of pair '{}' {}", config_.pair, kPrimaryRunsRefusal);
    case Accepting::kNothing: break;
  }
  return fmt::format(
      "this side of pair '{}' takes no backup now (it is a backup itself, or it lost its backup "
      "and the arbiter has not decided yet)",
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
    std::vector<uint8_t> payload{kRam};
    detail::ByteWriter w(payload);
    w.varint(offset + done);
    w.bytes(bytes.subspan(done, n));
    append_frame(payload, preface_);
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
      std::vector<uint8_t> payload{kRam};
      detail::ByteWriter w(payload);
      w.varint(offset + done);
      w.bytes(std::span(bytes).subspan(done, std::min(kRamFrameBytes, bytes.size() - done)));
      append_frame(payload, preface_);
    }
  }
  std::vector<uint8_t> payload{kSnapshot};
  detail::ByteWriter w(payload);
  w.varint(seq);
  w.varint(icount);
  w.bytes(snapshot);
  append_frame(payload, preface_);
  encoder_ = RecordEncoder();  // the joiner decodes from a fresh state
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

void ChannelPrimary::append(const Record& record) {
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
    if (heartbeat && bytes.empty()) append_frame(std::vector<uint8_t>{kBatch, 0}, bytes);
    if (!bytes.empty()) last_sent_ = Clock::now();
    bytes_sent_ += bytes.size();
    return bytes;
  }
  if (epoch_to_send_) {
    std::vector<uint8_t> payload{kEpoch};
    detail::ByteWriter(payload).varint(*epoch_to_send_);
    append_frame(payload, bytes);
    epoch_to_send_.reset();
  }
  if (released_seq_ > sent_released_seq_) {
    std::vector<uint8_t> payload{kReleased};
    detail::ByteWriter(payload).varint(released_seq_);
    append_frame(payload, bytes);
    sent_released_seq_ = released_seq_;
  }
  if (pending_.empty() && mark_ == sent_mark_ && !heartbeat && bytes.empty()) return bytes;
  std::vector<uint8_t> payload{kBatch};
  detail::ByteWriter(payload).varint(mark_);
  payload.insert(payload.end(), pending_.begin(), pending_.end());
  if (!pending_.empty()) in_flight_.emplace_back(pending_seq_, pending_.size());
  pending_.clear();
  sent_mark_ = mark_;
  append_frame(payload, bytes);
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
  if (payload[0] == kGoodbye) {
    {
      std::lock_guard lock(mutex_);
      backup_left_ = true;
    }
    return lose("the backup left: it was stopped");
  }
  if (payload[0] == kEpochAck) {
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
    if (payload[0] != kAck) throw LogError("unexpected message type");
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
    accepting_ = Accepting::kNothing;  // until whoever decides what comes next says
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
    asio::error_code ec;
    acceptor_.close(ec);
    timer_.cancel();
    if (link_) link_->close();
    for (const auto& weak : handshaking_) {
      if (const auto l = weak.lock()) l->close();
    }
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

// ================================ backup ================================

ChannelBackup::ChannelBackup(asio::io_context& io, ChannelConfig config)
    : io_(io), config_(std::move(config)), timer_(io) {}

ChannelBackup::~ChannelBackup() = default;

bool ChannelBackup::connect(const tcp::endpoint& primary) {
  {
    std::lock_guard lock(mutex_);
    refused_.reset();  // a refused hello may be followed by a join
    refused_by_us_ = false;
  }
  asio::post(io_, [this, primary] { try_connect(primary); });
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return connected_ || refused_ || lost_ || shut_down_; });
  if (refused_ && refused_by_us_) throw ChannelUnauthenticated(*refused_);
  if (refused_) throw ChannelRefused(*refused_);
  if (lost_ && !connected_) throw LogError(*lost_);
  return connected_ && !shut_down_;
}

void ChannelBackup::try_connect(const tcp::endpoint& primary) {
  auto link = std::make_shared<FrameLink>(tcp::socket(io_));
  link->socket().async_connect(primary, [this, link, primary](const asio::error_code& ec) {
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) return;
    }
    if (ec) {
      if (!said_waiting_) {
        spdlog::info("waiting for the primary at {} ({})", endpoint_text(primary), ec.message());
        said_waiting_ = true;
      }
      timer_.expires_after(kConnectRetry);
      timer_.async_wait([this, primary](const asio::error_code& e) {
        if (!e) try_connect(primary);
      });
      return;
    }
    asio::error_code nodelay;
    link->socket().set_option(tcp::no_delay(true), nodelay);
    greet(link, primary);
  });
}

// io thread, connected: hello (or join), and with a challenge, the proof that this backup
// knows the secret; then the primary's answer, which with a secret must prove it knows it too.
void ChannelBackup::greet(std::shared_ptr<FrameLink> link, const tcp::endpoint& primary) {
  auto hello = std::make_shared<std::vector<uint8_t>>(1, joining_ ? kJoin : kHello);
  detail::encode_hello(config_.pair, config_.id, config_.header, *hello);
  auto nonce = std::make_shared<std::optional<auth::Nonce>>();  // ours, once challenged
  const std::string where = endpoint_text(primary);
  std::weak_ptr<FrameLink> weak = link;  // the handler belongs to the link: no cycle
  link->set_handlers(
      [this, weak, hello, nonce, where](std::span<const uint8_t> reply) {
        const auto link = weak.lock();
        if (!link) return;
        if (reply[0] == kChallenge) {
          if (config_.secret.empty()) {
            return refused(
                link, fmt::format("the primary at {} requires a secret: give --secret-file", where),
                true);
          }
          detail::Proof proof;
          try {
            proof.nonce = auth::make_nonce();
            proof.mac = detail::backup_proof(config_.secret, detail::decode_challenge(reply),
                                             proof.nonce, *hello);
          } catch (const LogError& e) {
            return lose(std::string("the primary sent a malformed challenge: ") + e.what());
          }
          *nonce = proof.nonce;
          std::vector<uint8_t> answer{kProof};
          detail::encode_proof(proof, answer);
          link->write(framed(answer));
          expect_answer(link, where);
          return;
        }
        link->pause();
        if (reply[0] == kRefuse) return refused(link, text(reply.subspan(1)), false);
        if (reply[0] != kWelcome) return lose("the primary answered with an unknown message");
        if (!config_.secret.empty() &&
            (!*nonce || !auth::mac_matches(reply.subspan(1),
                                           detail::primary_proof(config_.secret, **nonce)))) {
          return refused(link,
                         fmt::format("the primary at {} did not prove it knows the secret", where),
                         true);
        }
        link_ = link;
        link_->set_handlers(
            [this](std::span<const uint8_t> payload) { on_frame(payload); },
            [this](const std::string& why) { lose("the primary is gone: " + why); });
        link_->read(kMaxFramePayload);
        {
          std::lock_guard lock(mutex_);
          connected_ = true;
          last_heard_ = Clock::now();
        }
        cv_.notify_all();
        tick();
      },
      [this](const std::string& why) {
        lose("the primary closed the channel before answering (" + why + ")");
      });
  link->write(framed(*hello));
  link->read(kMaxHandshakeBytes);
  expect_answer(link, where);
}

// io thread, during the handshake: a primary that says nothing for the peer timeout is lost,
// as it would be later (the connection may have gone dead as soon as it was made). Each
// message from the primary starts the wait again; the welcome ends it (tick() takes the timer).
void ChannelBackup::expect_answer(const std::shared_ptr<FrameLink>& link,
                                  const std::string& where) {
  const uint64_t wait = ++answer_waits_;
  std::weak_ptr<FrameLink> weak = link;
  timer_.expires_after(config_.peer_timeout);
  timer_.async_wait([this, weak, where, wait](const asio::error_code& ec) {
    auto l = weak.lock();
    // A cancelled wait, a later one, an answer that came first: nothing to do.
    if (ec || wait != answer_waits_ || !l || l->closed() || link_ == l) return;
    l->close();
    lose(fmt::format("the primary at {} did not answer for {} ms", where,
                     config_.peer_timeout.count()));
  });
}

// io thread: the primary refused this backup, or (by_us) this backup the primary.
void ChannelBackup::refused(std::shared_ptr<FrameLink> link, std::string why, bool by_us) {
  link->pause();
  timer_.cancel();  // the handshake's wait for an answer
  {
    std::lock_guard lock(mutex_);
    refused_ = std::move(why);
    refused_by_us_ = by_us;
  }
  link->close();
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
    if (payload[0] == kRam) {
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
  if (payload[0] == kRam || payload[0] == kSnapshot) return on_join_frame(payload);
  if (joining_ && payload[0] == kBatch) {  // a heartbeat before the snapshot
    report_join_progress();
    std::lock_guard lock(mutex_);
    last_heard_ = Clock::now();
    bytes_received_ += payload.size() + kFrameHeaderBytes;
    return;
  }
  if (payload[0] == kReleased) {
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
  if (payload[0] == kEpoch) {
    uint64_t epoch = 0;
    try {
      epoch = detail::decode_epoch(payload);
    } catch (const LogError& e) {
      return lose(std::string("the primary sent a malformed message: ") + e.what());
    }
    std::vector<uint8_t> ack{kEpochAck};
    detail::ByteWriter(ack).varint(epoch);
    auto frame = framed(ack);
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
  std::vector<std::pair<Record, size_t>> records;
  uint64_t mark = 0;
  uint64_t seq;
  {
    std::lock_guard lock(mutex_);
    seq = received_seq_;
  }
  try {
    if (payload[0] != kBatch) throw LogError("unexpected message type");
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
  std::vector<uint8_t> payload{kAck};
  {
    std::lock_guard lock(mutex_);
    detail::ByteWriter w(payload);
    w.varint(received_seq_);
    const uint64_t executed = executed_.load(std::memory_order_relaxed);
    w.varint(executed);
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

std::optional<Record> ChannelBackup::next_record() {
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
    if (link_ && !link_->closed()) link_->read(kMaxFramePayload);
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
    link->write(message(kGoodbye), [link, said] {
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

bool ChannelRefused::primary_runs() const {
  return std::string_view(what()).find(kPrimaryRunsRefusal) != std::string_view::npos;
}

}  // namespace vmft::logchannel
