#include "Handshake.h"

#include <spdlog/spdlog.h>

#include "vmft/logchannel/LogError.h"

namespace vmft::channel {

namespace {

// Between attempts to reach a primary that does not listen yet.
constexpr auto kConnectRetry = std::chrono::milliseconds(100);
// Connections in the handshake at once: a backup needs one, and retries after a refusal; more
// that say nothing would only hold the primary's descriptors until the handshake timeout.
constexpr size_t kMaxHandshaking = 16;
// After an accept failed for want of descriptors or memory, before the next.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

}  // namespace

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
      const logchannel::FrameNicConfig& f = *h.frames;
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

bool ChannelRefused::primary_runs() const {
  return std::string_view(what()).find(detail::kPrimaryRunsRefusal) != std::string_view::npos;
}

namespace detail {

using asio::ip::tcp;
using logchannel::LogError;

void refuse_backup(const std::shared_ptr<FrameLink>& link, const std::string& from,
                   const std::string& reason) {
  spdlog::warn("refused a backup from {}: {}", from, reason);
  link->write(framed(encode_refuse(reason)), [link] { link->close(); });
}

// ================================ primary ================================

PrimaryHandshake::PrimaryHandshake(asio::io_context& io, const tcp::endpoint& listen,
                                   const ChannelConfig& config, Admitted admitted)
    : io_(io), config_(config), admitted_(std::move(admitted)), acceptor_(io) {
  asio::error_code ec;
  acceptor_.open(listen.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen for a backup on " + endpoint_text(listen));
  local_ = acceptor_.local_endpoint();
  asio::post(io_, [this] { start_accept(); });
}

bool PrimaryHandshake::Pending::open() const {
  const auto l = link.lock();
  return l && !l->closed() && !*handed_over;
}

void PrimaryHandshake::close() {
  asio::error_code ec;
  acceptor_.close(ec);
  for (const Pending& p : pending_) {
    if (const auto l = p.link.lock()) l->close();
  }
}

void PrimaryHandshake::start_accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // close()
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
    const std::optional<Pending> pending = admit(link);
    if (!pending) return start_accept();
    if (config_.secret.empty()) {
      link->set_handlers(
          [this, p = *pending](std::span<const uint8_t> hello) {
            if (p.link.lock()) check_hello(p, hello, std::nullopt);
          },
          [](const std::string&) {});
    } else {
      challenge(*pending);
    }
    link->read(kMaxHandshakeBytes);
    start_accept();
  });
}

// Whether a new connection may start the handshake, and if so, its deadline. One that has not
// passed the handshake by then is closed, having sent nothing, or a hello and no proof; a peer
// that speaks too slowly never gets past it either.
std::optional<PrimaryHandshake::Pending> PrimaryHandshake::admit(
    const std::shared_ptr<FrameLink>& link) {
  std::erase_if(pending_, [](const Pending& p) { return !p.open(); });
  const std::string from = remote_text(link->socket());
  if (pending_.size() >= kMaxHandshaking) {
    const std::string reason = fmt::format(
        "{} other connections to the logging channel are in the handshake; try again later",
        pending_.size());
    // Once per crowd: a flood would otherwise flood the log too.
    if (!refusing_crowd_) spdlog::warn("refused a connection from {}: {}", from, reason);
    refusing_crowd_ = true;
    link->write(framed(encode_refuse(reason)), [link] { link->close(); });
    return std::nullopt;
  }
  refusing_crowd_ = false;
  const Pending pending{link, std::make_shared<bool>(false)};
  pending_.push_back(pending);
  auto deadline = std::make_shared<asio::steady_timer>(io_, config_.handshake_timeout);
  deadline->async_wait([this, deadline, pending, from](const asio::error_code& ec) {
    if (ec || !pending.open()) return;
    spdlog::warn(
        "closed a connection from {} to the logging channel: it did not finish the handshake "
        "within {} ms",
        from, config_.handshake_timeout.count());
    pending.link.lock()->close();
  });
  return pending;
}

// With a secret, the primary challenges every backup first, and its hello counts only once the
// answer that follows it proves the backup knows the secret.
void PrimaryHandshake::challenge(const Pending& pending) {
  struct Exchange {
    auth::Nonce nonce = auth::make_nonce();
    std::optional<std::vector<uint8_t>> hello;
    bool refused = false;  // logged already
  };
  const auto link = pending.link.lock();
  auto exchange = std::make_shared<Exchange>();
  const std::string from = remote_text(link->socket());
  const auto refuse = [from, exchange](const std::shared_ptr<FrameLink>& l,
                                       const std::string& how) {
    exchange->refused = true;
    const std::string reason =
        fmt::format("the backup at {} does not know the pair's secret", from);
    spdlog::warn("refused a backup: {}{}", reason, how);
    l->pause();
    l->write(framed(encode_refuse(reason)), [l] { l->close(); });
  };
  link->set_handlers(
      [this, pending, exchange, refuse](std::span<const uint8_t> payload) {
        auto l = pending.link.lock();
        if (!l) return;
        if (!exchange->hello) {
          exchange->hello.emplace(payload.begin(), payload.end());
          return;
        }
        if (payload[0] != kProof) return refuse(l, " (it did not answer the challenge)");
        Proof proof;
        try {
          proof = decode_proof(payload);
        } catch (const LogError& e) {
          return refuse(l, std::string(" (a malformed answer: ") + e.what() + ")");
        }
        const auth::Mac expected =
            backup_proof(config_.secret, exchange->nonce, proof.nonce, *exchange->hello);
        if (!auth::mac_matches(proof.mac, expected)) return refuse(l, "");
        check_hello(pending, *exchange->hello, proof.nonce);
      },
      [exchange, from](const std::string&) {
        if (!exchange->hello || exchange->refused) return;
        spdlog::warn(
            "refused a backup: the backup at {} does not know the pair's secret (it closed the "
            "connection instead of answering the challenge)",
            from);
      });
  link->write(framed(encode_challenge(exchange->nonce)));
}

// A hello (or join) from a backup that knows the secret if there is one: refused unless it is of
// this version and matches this primary; otherwise the primary's end has it.
void PrimaryHandshake::check_hello(const Pending& pending, std::span<const uint8_t> hello,
                                   const std::optional<auth::Nonce>& backup_nonce) {
  const auto link = pending.link.lock();
  Admission admission{link, {}, hello[0] == kJoin, remote_text(link->socket()), std::nullopt};
  std::string reason;
  try {
    if (hello[0] != kHello && !admission.join) throw LogError("not a hello message");
    admission.hello = decode_hello(hello);
    const Hello& h = admission.hello;
    if (h.version != kChannelVersion) {
      reason = fmt::format("the backup speaks channel protocol {}, the primary {}", h.version,
                           kChannelVersion);
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
  link->pause();
  if (!reason.empty()) return refuse_backup(link, admission.from, reason);
  if (backup_nonce) admission.welcome_proof = primary_proof(config_.secret, *backup_nonce);
  *pending.handed_over = true;
  admitted_(std::move(admission));
}

// ================================ backup ================================

BackupHandshake::BackupHandshake(asio::io_context& io, const ChannelConfig& config,
                                 Handlers handlers)
    : io_(io), config_(config), handlers_(std::move(handlers)), timer_(io) {}

void BackupHandshake::connect(const tcp::endpoint& primary, bool join) {
  auto link = std::make_shared<FrameLink>(tcp::socket(io_));
  link->socket().async_connect(primary, [this, link, primary, join](const asio::error_code& ec) {
    if (handlers_.stopped()) return;
    if (ec) {
      if (!said_waiting_) {
        spdlog::info("waiting for the primary at {} ({})", endpoint_text(primary), ec.message());
        said_waiting_ = true;
      }
      timer_.expires_after(kConnectRetry);
      timer_.async_wait([this, primary, join](const asio::error_code& e) {
        if (!e) connect(primary, join);
      });
      return;
    }
    asio::error_code nodelay;
    link->socket().set_option(tcp::no_delay(true), nodelay);
    greet(link, primary, join);
  });
}

// Connected: hello (or join), and with a challenge, the proof that this backup knows the
// secret; then the primary's answer, which with a secret must prove it knows it too.
void BackupHandshake::greet(std::shared_ptr<FrameLink> link, const tcp::endpoint& primary,
                            bool join) {
  auto hello = std::make_shared<std::vector<uint8_t>>(
      encode_hello(join ? kJoin : kHello, config_.pair, config_.id, config_.header));
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
          Proof proof;
          try {
            proof.nonce = auth::make_nonce();
            proof.mac = backup_proof(config_.secret, decode_challenge(reply), proof.nonce, *hello);
          } catch (const LogError& e) {
            return lost(std::string("the primary sent a malformed challenge: ") + e.what());
          }
          *nonce = proof.nonce;
          link->write(framed(encode_proof(proof)));
          expect_answer(link, where);
          return;
        }
        link->pause();
        if (reply[0] == kRefuse) return refused(link, decode_refuse(reply), false);
        if (reply[0] != kWelcome) return lost("the primary answered with an unknown message");
        if (!config_.secret.empty() &&
            (!*nonce ||
             !auth::mac_matches(decode_welcome(reply), primary_proof(config_.secret, **nonce)))) {
          return refused(link,
                         fmt::format("the primary at {} did not prove it knows the secret", where),
                         true);
        }
        stop_waiting();
        handlers_.welcomed(link);
      },
      [this](const std::string& why) {
        lost("the primary closed the channel before answering (" + why + ")");
      });
  link->write(framed(*hello));
  link->read(kMaxHandshakeBytes);
  expect_answer(link, where);
}

// A primary that says nothing for the peer timeout is lost, as it would be later (the
// connection may have gone dead as soon as it was made). Each message from the primary starts
// the wait again; the welcome ends it.
void BackupHandshake::expect_answer(const std::shared_ptr<FrameLink>& link,
                                    const std::string& where) {
  const uint64_t wait = ++answer_waits_;
  std::weak_ptr<FrameLink> weak = link;
  timer_.expires_after(config_.peer_timeout);
  timer_.async_wait([this, weak, where, wait](const asio::error_code& ec) {
    auto l = weak.lock();
    // A cancelled wait, a later one, an answer that came first: nothing to do.
    if (ec || wait != answer_waits_ || !l || l->closed()) return;
    l->close();
    lost(fmt::format("the primary at {} did not answer for {} ms", where,
                     config_.peer_timeout.count()));
  });
}

// The primary refused this backup, or (by_us) this backup the primary.
void BackupHandshake::refused(const std::shared_ptr<FrameLink>& link, std::string why, bool by_us) {
  link->pause();
  stop_waiting();
  link->close();
  handlers_.refused(std::move(why), by_us);
}

// Before the end hears of it, no wait for an answer is left to fire.
void BackupHandshake::lost(const std::string& why) {
  stop_waiting();
  handlers_.lost(why);
}

// A wait that expired already but has yet to run sees that it is stale.
void BackupHandshake::stop_waiting() {
  ++answer_waits_;
  timer_.cancel();
}

}  // namespace detail

}  // namespace vmft::channel
