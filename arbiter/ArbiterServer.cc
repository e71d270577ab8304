#include "vmft/arbiter/ArbiterServer.h"

#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <unordered_set>
#include <vector>

#include "Protocol.h"

namespace vmft::arbiter {

using asio::ip::tcp;

namespace {

// After a failed accept (out of file descriptors, say): retrying at once would spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// Bytes taken from a connection per read.
constexpr size_t kReadChunkBytes = 4096;
// Replies held for one connection before it reads no more requests until they are written: a
// chunk of LIST requests would otherwise make a few hundred megabytes of replies at once.
constexpr size_t kMaxPendingReplyBytes = 1 << 20;

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string remote_text(const tcp::socket& socket) {
  asio::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown address") : endpoint_text(ep);
}

std::string register_reply(Arbiter& arbiter, const detail::Request& request) {
  const RegisterResult result = arbiter.register_epoch(request.pair, request.epoch, request.id);
  if (result.ok) {
    spdlog::info("pair '{}': epoch {} registered by {} (paired)", request.pair, result.state.epoch,
                 request.id);
  } else {
    spdlog::info("pair '{}': {} refused to register after epoch {}: {}", request.pair, request.id,
                 request.epoch, describe(result.state));
  }
  return detail::format_reply(result);
}

std::string test_and_set_reply(Arbiter& arbiter, const detail::Request& request) {
  const TasResult result = arbiter.test_and_set(request.pair, request.epoch, request.id);
  if (result.won) {
    spdlog::info("pair '{}': epoch {} won by {} (alone)", request.pair, result.state.epoch,
                 request.id);
  } else {
    spdlog::info("pair '{}': epoch {} lost by {}: {}", request.pair, request.epoch, request.id,
                 describe(result.state));
  }
  return detail::format_reply(result);
}

std::string release_reply(Arbiter& arbiter, const detail::Request& request) {
  const ReleaseResult result = arbiter.release(request.pair, request.epoch, request.id);
  if (result.ok) {
    spdlog::info("pair '{}': epoch {} released by {}", request.pair, request.epoch, request.id);
  } else {
    spdlog::info("pair '{}': {} refused to release epoch {}: {}", request.pair, request.id,
                 request.epoch, describe(result.state));
  }
  return detail::format_reply(result);
}

std::string answer(Arbiter& arbiter, const detail::Request& request) {
  switch (request.op) {
    case detail::Request::Op::kRead: return detail::format_reply(arbiter.read(request.pair));
    case detail::Request::Op::kRegister: return register_reply(arbiter, request);
    case detail::Request::Op::kTestAndSet: return test_and_set_reply(arbiter, request);
    case detail::Request::Op::kRelease: return release_reply(arbiter, request);
    case detail::Request::Op::kList:
      return detail::format_reply(arbiter.list(detail::kMaxListedPairs));
  }
  return detail::format_error("unhandled request");
}

}  // namespace

std::string answer_request(Arbiter& arbiter, std::string_view line) {
  detail::Request request;
  try {
    request = detail::parse_request(line);
  } catch (const std::exception& e) {
    spdlog::debug("bad arbiter request: {}", e.what());
    return detail::format_error(e.what());
  }
  try {
    return answer(arbiter, request);
  } catch (const std::exception& e) {
    spdlog::warn("no decision on '{}': {}", detail::format_request(request), e.what());
    return detail::format_error(e.what());
  }
}

struct ArbiterServer::Shared {
  Shared(Arbiter& a, ServerLimits l, std::string s) : arbiter(a), limits(l), secret(std::move(s)) {}

  Arbiter& arbiter;
  const ServerLimits limits;
  const std::string secret;  ///< empty: none
  std::unordered_set<Connection*> open;
  bool stopped = false;
};

// One client: reads request lines, answers those complete, writes the replies, and only then
// reads again, so a client that does not read its replies cannot make the server buffer more.
class ArbiterServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared)
      : socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        shared_(std::move(shared)),
        peer_(remote_text(socket_)) {
    shared_->open.insert(this);
    spdlog::debug("arbiter connection from {}", peer_);
  }
  ~Connection() { shared_->open.erase(this); }

  // With a secret, the challenge goes first.
  void start() {
    if (shared_->secret.empty()) return read();
    challenge_ = auth::make_nonce();
    replies_ = detail::format_challenge(*challenge_) + "\n";
    write();
  }

  void close() {
    asio::error_code ec;
    socket_.close(ec);
    idle_.cancel();
  }

 private:
  // The client has idle_timeout to send its next request or take its replies.
  void expect_client() {
    idle_.expires_after(shared_->limits.idle_timeout);
    idle_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      if (ec) return;
      if (const auto self = weak.lock()) {
        spdlog::debug("closing idle arbiter connection from {}", self->peer_);
        self->close();
      }
    });
  }

  void read() {
    expect_client();
    socket_.async_read_some(asio::buffer(chunk_),
                            [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(const asio::error_code& ec, size_t n) {
    if (ec || shared_->stopped) return finish(ec);
    unanswered_.assign(chunk_.data(), n);
    answer_some();
  }

  // Answers what was read until the replies are many, then writes them; reads more once all
  // is answered and written.
  void answer_some() {
    const size_t taken = take(unanswered_);
    unanswered_.erase(0, taken);
    if (replies_.empty()) {
      read();
    } else {
      write();
    }
  }

  void write() {
    expect_client();
    asio::async_write(
        socket_, asio::buffer(replies_),
        [self = shared_from_this()](const asio::error_code& ec, size_t) { self->on_written(ec); });
  }

  void on_written(const asio::error_code& ec) {
    if (ec || shared_->stopped) return finish(ec);
    if (close_after_write_) return close();
    replies_.clear();
    answer_some();
  }

  // Answers every line completed by `bytes`, up to kMaxPendingReplyBytes of replies; keeps an
  // unfinished line for the next read. Returns how many bytes it took.
  size_t take(std::string_view bytes) {
    const size_t limit = shared_->limits.max_line_bytes;
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\n') {
        replies_ += discarding_ ? detail::format_error("request line longer than " +
                                                       std::to_string(limit) + " bytes")
                                : respond(line_);
        replies_ += '\n';
        line_.clear();
        discarding_ = false;
        if (close_after_write_) return bytes.size();  // what follows a failed AUTH is not read
        if (replies_.size() >= kMaxPendingReplyBytes) return i + 1;
      } else if (!discarding_) {
        if (line_.size() < limit) {
          line_ += c;
        } else {
          spdlog::debug("arbiter request from {} longer than {} bytes", peer_, limit);
          discarding_ = true;
          line_.clear();
        }
      }
    }
    return bytes.size();
  }

  // The reply to one line: a request once the client authenticated (or if there is no
  // secret), before that only AUTH.
  std::string respond(std::string_view line) {
    if (!challenge_ || authenticated_) return answer_request(shared_->arbiter, line);
    if (!detail::is_auth_request(line)) {
      spdlog::warn("refused a request from the arbiter client at {}: it has not authenticated",
                   peer_);
      return detail::format_error("authentication required");
    }
    try {
      const detail::AuthRequest request = detail::parse_auth_request(line);
      if (auth::mac_matches(auth::bytes_of(request.mac),
                            detail::client_proof(shared_->secret, *challenge_))) {
        authenticated_ = true;
        return "OK " + auth::to_hex(detail::server_proof(shared_->secret, request.nonce));
      }
    } catch (const std::invalid_argument& e) {
      spdlog::debug("malformed AUTH from {}: {}", peer_, e.what());
    }
    spdlog::warn(
        "refused the arbiter client at {}: it does not know the secret; closing its connection",
        peer_);
    close_after_write_ = true;
    return detail::format_error("authentication failed");
  }

  void finish(const asio::error_code& ec) {
    if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted) {
      spdlog::debug("arbiter connection from {}: {}", peer_, ec.message());
    }
    close();
  }

  tcp::socket socket_;
  asio::steady_timer idle_;
  std::shared_ptr<Shared> shared_;
  const std::string peer_;
  std::array<char, kReadChunkBytes> chunk_{};
  std::string unanswered_;                // read, not yet answered (replies_ was full)
  std::string line_;                      // the request line read so far
  bool discarding_ = false;               // the current line passed the limit: skip to its newline
  std::string replies_;                   // replies not yet written
  std::optional<auth::Nonce> challenge_;  // with a secret: the one this client must answer
  bool authenticated_ = false;
  bool close_after_write_ = false;  // a failed AUTH: the reply is the last thing sent
};

ArbiterServer::ArbiterServer(asio::io_context& io, const tcp::endpoint& listen, Arbiter& arbiter,
                             ServerLimits limits, std::string secret)
    : acceptor_(io),
      accept_retry_(io),
      shared_(std::make_shared<Shared>(arbiter, limits, std::move(secret))) {
  asio::error_code ec;
  acceptor_.open(listen.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) local_ = acceptor_.local_endpoint(ec);
  if (ec) throw std::system_error(ec, "cannot bind arbiter " + endpoint_text(listen));
  accept();
}

ArbiterServer::~ArbiterServer() { stop(); }

size_t ArbiterServer::open_connections() const { return shared_->open.size(); }

void ArbiterServer::stop() {
  if (shared_->stopped) return;
  shared_->stopped = true;
  asio::error_code ec;
  acceptor_.close(ec);
  accept_retry_.cancel();
  for (Connection* connection : std::vector(shared_->open.begin(), shared_->open.end())) {
    connection->close();
  }
}

void ArbiterServer::accept() {
  // The handlers check `stopped` before touching `this`: the server may be gone by then.
  acceptor_.async_accept([this, shared = shared_](const asio::error_code& ec, tcp::socket socket) {
    if (shared->stopped) return;
    if (!ec) {
      admit(std::move(socket));
      accept();
      return;
    }
    spdlog::warn("arbiter cannot accept a connection: {}; trying again", ec.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this, shared](const asio::error_code& wait_ec) {
      if (!wait_ec && !shared->stopped) accept();
    });
  });
}

void ArbiterServer::admit(tcp::socket socket) {
  asio::error_code ec;
  if (shared_->open.size() >= shared_->limits.max_connections) {
    spdlog::warn("refusing an arbiter connection from {}: {} are open already", remote_text(socket),
                 shared_->open.size());
    // Best effort and never blocking: a fresh socket's send buffer takes one short line.
    const std::string reply = detail::format_error("too many connections") + "\n";
    socket.non_blocking(true, ec);
    asio::write(socket, asio::buffer(reply), ec);
    socket.close(ec);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  std::make_shared<Connection>(std::move(socket), shared_)->start();
}

}  // namespace vmft::arbiter
