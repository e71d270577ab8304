#include "vmft/devices/AsioNetwork.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <deque>
#include <string>
#include <utility>

#include "vmft/guest/abi.h"

namespace vmft::devices {

namespace {

using Clock = std::chrono::steady_clock;

// Datagrams waiting for the guest beyond this are dropped, as a full socket buffer would.
constexpr size_t kMaxQueuedDatagrams = 1024;
// One TCP read; the guest sees it as one or more TCP_DATA events.
constexpr size_t kTcpReadSize = 16 * 1024;
// The most queued replies one write gathers (below the kernel's IOV_MAX of 1024).
constexpr size_t kMaxGatheredWrites = 256;
// After an accept failed for want of descriptors or memory: accepting again at once would spin,
// as the connection that could not be accepted is still waiting.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// A flood of refused or idle connections gets one log line per this interval, with a count.
constexpr auto kTallyInterval = std::chrono::seconds(1);
// What a refused client had already sent is read (and dropped) before the close, so that the
// close is a FIN and not a reset that could discard the error line; at most this much.
constexpr size_t kRefusalDrainBytes = 64 * 1024;

asio::ip::address_v4 to_address(uint32_t ip) { return asio::ip::address_v4(ip); }

std::system_error BindError(const asio::error_code& ec, const char* proto, const std::string& host,
                            uint16_t port) {
  return std::system_error(
      ec, std::string("cannot bind ") + proto + " " + host + ":" + std::to_string(port));
}

std::string peer_text(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown address")
            : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

// Counts one more event of a kind; returns how many to report now (the first at once, then at
// most one line per kTallyInterval, with the count since the last), or 0.
size_t AsioNetwork::tally(Tally& t) {
  ++t.count;
  const auto now = Clock::now();
  if (now - t.last_report < kTallyInterval) return 0;
  t.last_report = now;
  return std::exchange(t.count, 0);
}

struct AsioNetwork::Connection {
  explicit Connection(asio::ip::tcp::socket s)
      : socket(std::move(s)), idle_timer(socket.get_executor()) {}
  uint32_t id = 0;
  std::string peer;
  asio::ip::tcp::socket socket;
  std::vector<uint8_t> read_buffer = std::vector<uint8_t>(kTcpReadSize);
  std::deque<std::vector<uint8_t>> writes;
  size_t unsent = 0;  ///< bytes in `writes`
  bool writing = false;
  bool read_closed = false;    ///< the guest was told TCP_CLOSE
  bool guest_closed = false;   ///< the guest closed it: finish writing, then close
  bool held_by_guest = false;  ///< a chunk read waits for the guest to take it in
  asio::steady_timer idle_timer;
  Clock::time_point last_active = Clock::now();  ///< the last byte either way
};

AsioNetwork::AsioNetwork(asio::io_context& io, std::optional<Endpoint> udp,
                         std::optional<Endpoint> tcp, Sink sink, uint32_t first_conn,
                         NetLimits limits)
    : io_(io),
      sink_(std::move(sink)),
      limits_(limits),
      udp_buffer_(65536),
      next_conn_(first_conn),
      accept_retry_(io) {
  asio::error_code ec;
  if (udp) {
    asio::ip::udp::endpoint ep(to_address(udp->ip), udp->port);
    udp_.emplace(io_);
    udp_->open(ep.protocol(), ec);
    if (!ec) udp_->bind(ep, ec);
    if (ec) throw BindError(ec, "udp", ep.address().to_string(), ep.port());
  }
  if (tcp) {
    asio::ip::tcp::endpoint ep(to_address(tcp->ip), tcp->port);
    acceptor_.emplace(io_);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (ec) throw BindError(ec, "tcp", ep.address().to_string(), ep.port());
  }
}

AsioNetwork::~AsioNetwork() = default;

std::optional<Endpoint> AsioNetwork::udp_endpoint() const {
  if (!udp_) return std::nullopt;
  auto ep = udp_->local_endpoint();
  return Endpoint{ep.address().to_v4().to_uint(), ep.port()};
}

std::optional<Endpoint> AsioNetwork::tcp_endpoint() const {
  if (!acceptor_) return std::nullopt;
  auto ep = acceptor_->local_endpoint();
  return Endpoint{ep.address().to_v4().to_uint(), ep.port()};
}

void AsioNetwork::start() {
  // Bound since construction, listening only now: until the guest serves (a primary waits for
  // its backup first), a client's connection is refused rather than left hanging.
  if (acceptor_) {
    asio::error_code ec;
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      const auto ep = acceptor_->local_endpoint();
      throw BindError(ec, "tcp", ep.address().to_string(), ep.port());
    }
  }
  asio::post(io_, [this] {
    if (udp_) receive_udp();
    if (acceptor_) accept_tcp();
  });
}

void AsioNetwork::receive_udp() {
  udp_->async_receive_from(
      asio::buffer(udp_buffer_), udp_sender_, [this](const asio::error_code& ec, size_t n) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec && udp_queued_.load() < kMaxQueuedDatagrams && udp_sender_.address().is_v4()) {
          ++udp_queued_;
          sink_(NetEvent{VMFT_NIC_KIND_UDP, 0, udp_sender_.address().to_v4().to_uint(),
                         udp_sender_.port(),
                         std::vector<uint8_t>(udp_buffer_.begin(), udp_buffer_.begin() + n)});
        }
        receive_udp();
      });
}

void AsioNetwork::accept_tcp() {
  acceptor_->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec || ec == asio::error::connection_aborted) {
      if (!ec) admit(std::move(socket));
      accept_failing_ = false;
      accept_tcp();
      return;
    }
    // Out of file descriptors (EMFILE, ENFILE) or memory: the connection stays in the
    // listen backlog; try again a little later instead of spinning.
    if (!accept_failing_) {
      spdlog::warn("cannot accept a tcp connection: {}; trying again every {} ms", ec.message(),
                   kAcceptRetry.count());
    }
    accept_failing_ = true;
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([this](const asio::error_code& wait_ec) {
      if (!wait_ec) accept_tcp();
    });
  });
}

void AsioNetwork::admit(asio::ip::tcp::socket socket) {
  if (open_sockets_ >= limits_.max_connections) return refuse(std::move(socket));
  asio::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  const auto peer = socket.remote_endpoint(ignored);
  auto c = std::make_shared<Connection>(std::move(socket));
  c->id = next_conn_++;
  c->peer = peer_text(c->socket);
  conns_[c->id] = c;
  ++open_sockets_;
  sink_(NetEvent{VMFT_NIC_KIND_TCP_OPEN, c->id, peer.address().to_v4().to_uint(), peer.port(), {}});
  read_tcp(c);
  watch_idle(c);
}

// The guest never hears of a refused connection, so nothing about it is logged for a backup.
void AsioNetwork::refuse(asio::ip::tcp::socket socket) {
  asio::error_code ignored;
  const std::string peer = peer_text(socket);
  socket.non_blocking(true, ignored);
  // A new connection's empty send buffer takes the line whole.
  socket.write_some(asio::buffer(kTooManyConnections), ignored);
  std::array<uint8_t, 4096> drain;
  for (size_t drained = 0; drained < kRefusalDrainBytes;) {
    asio::error_code ec;
    const size_t n = socket.read_some(asio::buffer(drain), ec);
    if (ec || n == 0) break;
    drained += n;
  }
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  if (const size_t n = tally(refused_)) {
    spdlog::warn(
        "refused {} tcp connection(s), the last from {}: {} are open, all that "
        "--max-connections allows",
        n, peer, open_sockets_);
  }
}

void AsioNetwork::read_tcp(const std::shared_ptr<Connection>& c) {
  c->socket.async_read_some(
      asio::buffer(c->read_buffer), [this, c](const asio::error_code& ec, size_t n) {
        if (c->guest_closed) return;
        if (ec) {
          c->read_closed = true;
          sink_(NetEvent{VMFT_NIC_KIND_TCP_CLOSE, c->id, 0, 0, {}});
          return;
        }
        c->last_active = Clock::now();
        // The next read starts when the guest has taken this one in.
        c->held_by_guest = true;
        sink_(NetEvent{VMFT_NIC_KIND_TCP_DATA, c->id, 0, 0,
                       std::vector<uint8_t>(c->read_buffer.begin(), c->read_buffer.begin() + n)});
      });
}

// While the guest holds a chunk, the wait is the guest's, not the client's: the idle clock
// starts again when reading resumes.
void AsioNetwork::watch_idle(const std::shared_ptr<Connection>& c) {
  if (limits_.idle_timeout.count() == 0) return;
  const auto now = Clock::now();
  auto deadline = c->last_active + limits_.idle_timeout;
  if (deadline <= now) deadline = now + limits_.idle_timeout;
  c->idle_timer.expires_at(deadline);
  c->idle_timer.async_wait([this, c](const asio::error_code& ec) {
    if (ec || !c->socket.is_open()) return;
    if (!c->held_by_guest && Clock::now() - c->last_active >= limits_.idle_timeout) {
      if (const size_t n = tally(idle_closed_)) {
        spdlog::info(
            "closed {} tcp connection(s) on which nothing moved for {} ms, the last from {} "
            "(--idle-timeout)",
            n, limits_.idle_timeout.count(), c->peer);
      }
      return cut(*c);
    }
    watch_idle(c);
  });
}

// The host ends a connection the guest still has: the pending read fails (or the next one,
// when the guest takes in the chunk it holds), and the guest is told TCP_CLOSE as for a peer's
// close. Once the guest closed it, there is nothing to tell, and it goes when writes end.
void AsioNetwork::cut(Connection& c) {
  close_socket(c);
  c.writes.clear();
  c.unsent = 0;
}

void AsioNetwork::close_socket(Connection& c) {
  if (!c.socket.is_open()) return;
  asio::error_code ignored;
  c.socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  c.socket.close(ignored);
  c.idle_timer.cancel();
  --open_sockets_;
}

// One write gathers the replies queued when it starts; replies queued meanwhile wait for the
// next.
void AsioNetwork::write_tcp(const std::shared_ptr<Connection>& c) {
  if (c->writing) return;
  if (c->writes.empty()) {
    if (c->guest_closed) finish_tcp(c);
    return;
  }
  c->writing = true;
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(std::min(c->writes.size(), kMaxGatheredWrites));
  for (const auto& w : c->writes) {
    if (buffers.size() == kMaxGatheredWrites) break;
    buffers.push_back(asio::buffer(w));
  }
  asio::async_write(c->socket, buffers,
                    [this, c, count = buffers.size()](const asio::error_code& ec, size_t) {
                      c->writing = false;
                      if (ec) {
                        c->writes.clear();  // the peer is gone; drop what it can't get
                        c->unsent = 0;
                      } else {
                        c->last_active = Clock::now();
                        for (size_t i = 0; i < count; i++) {
                          c->unsent -= c->writes.front().size();
                          c->writes.pop_front();
                        }
                      }
                      write_tcp(c);
                    });
}

void AsioNetwork::finish_tcp(const std::shared_ptr<Connection>& c) {
  close_socket(*c);
  conns_.erase(c->id);
}

void AsioNetwork::request(Request r) {
  bool post = false;
  {
    std::lock_guard lock(requests_mutex_);
    requests_.push_back(std::move(r));
    post = !std::exchange(drain_posted_, true);
  }
  if (post) asio::post(io_, [this] { drain_requests(); });
}

// In the order they were made; every connection written to gets one write for all of it.
void AsioNetwork::drain_requests() {
  std::vector<Request> batch;
  {
    std::lock_guard lock(requests_mutex_);
    batch.swap(requests_);
    drain_posted_ = false;
  }
  std::vector<std::shared_ptr<Connection>> touched;
  for (Request& r : batch) {
    switch (r.kind) {
      case Request::Kind::kUdp: {
        asio::error_code ignored;  // UDP is best effort, as on any host
        udp_->send_to(
            asio::buffer(r.data),
            asio::ip::udp::endpoint(to_address(r.conn_or_ip), static_cast<uint16_t>(r.port)), 0,
            ignored);
        break;
      }
      case Request::Kind::kTcp: send_tcp_now(r.conn_or_ip, std::move(r.data), touched); break;
      case Request::Kind::kClose: {
        auto it = conns_.find(r.conn_or_ip);
        if (it == conns_.end()) break;
        it->second->guest_closed = true;
        touched.push_back(it->second);
        break;
      }
      case Request::Kind::kDelivered: delivered_now(r.conn_or_ip); break;
    }
  }
  for (const auto& c : touched) write_tcp(c);
}

void AsioNetwork::send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) {
  request({Request::Kind::kUdp, peer_ip, peer_port, std::move(data)});
}

void AsioNetwork::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  request({Request::Kind::kTcp, conn, 0, std::move(data)});
}

void AsioNetwork::send_tcp_now(uint32_t conn, std::vector<uint8_t> data,
                               std::vector<std::shared_ptr<Connection>>& touched) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const auto& c = it->second;
  if (!c->socket.is_open()) return;
  if (c->unsent + data.size() > limits_.max_unread_bytes) {
    spdlog::warn(
        "tcp connection {} from {} has {} bytes its client does not read; disconnecting it "
        "(--max-unread-bytes {})",
        conn, c->peer, c->unsent, limits_.max_unread_bytes);
    return cut(*c);
  }
  c->unsent += data.size();
  c->writes.push_back(std::move(data));
  touched.push_back(c);
}

void AsioNetwork::close_tcp(uint32_t conn) { request({Request::Kind::kClose, conn, 0, {}}); }

void AsioNetwork::delivered(const NetEvent& event) {
  if (event.kind == VMFT_NIC_KIND_UDP) {
    // Never below zero: a backup that went live delivers datagrams the old primary took in,
    // which this network never counted.
    size_t queued = udp_queued_.load();
    while (queued > 0 && !udp_queued_.compare_exchange_weak(queued, queued - 1)) {
    }
    return;
  }
  if (event.kind == VMFT_NIC_KIND_TCP_DATA) request({Request::Kind::kDelivered, event.conn, 0, {}});
}

void AsioNetwork::delivered_now(uint32_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const auto& c = it->second;
  if (!c->held_by_guest) return;  // a backup that went live delivers what it never read
  c->held_by_guest = false;
  c->last_active = Clock::now();
  if (!c->guest_closed && !c->read_closed) read_tcp(c);
}

}  // namespace vmft::devices
