#include "vmft/devices/AsioNetwork.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "vmft/guest/abi.h"

namespace vmft::devices {

namespace {

// Datagrams waiting for the guest beyond this are dropped, as a full socket buffer would.
constexpr size_t kMaxQueuedDatagrams = 1024;
// One TCP read; the guest sees it as one or more TCP_DATA events.
constexpr size_t kTcpReadSize = 16 * 1024;
// Replies a client has not read yet. The guest cannot be told to wait (what it sees must not
// depend on host socket state), so a client this far behind is disconnected, as Redis
// disconnects clients past its output buffer limit. The guest then sees TCP_CLOSE.
constexpr size_t kMaxUnsentBytes = 16 * 1024 * 1024;

asio::ip::address_v4 to_address(uint32_t ip) { return asio::ip::address_v4(ip); }

std::system_error BindError(const asio::error_code& ec, const char* proto, const std::string& host,
                            uint16_t port) {
  return std::system_error(
      ec, std::string("cannot bind ") + proto + " " + host + ":" + std::to_string(port));
}

}  // namespace

struct AsioNetwork::Connection {
  explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  uint32_t id = 0;
  asio::ip::tcp::socket socket;
  std::vector<uint8_t> read_buffer = std::vector<uint8_t>(kTcpReadSize);
  std::deque<std::vector<uint8_t>> writes;
  size_t unsent = 0;  ///< bytes in `writes`
  bool writing = false;
  bool read_closed = false;   ///< the guest was told TCP_CLOSE
  bool guest_closed = false;  ///< the guest closed it: finish writing, then close
};

AsioNetwork::AsioNetwork(asio::io_context& io, std::optional<Endpoint> udp,
                         std::optional<Endpoint> tcp, Sink sink, uint32_t first_conn)
    : io_(io), sink_(std::move(sink)), udp_buffer_(65536), next_conn_(first_conn) {
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
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
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
    if (!ec) {
      asio::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      const auto peer = socket.remote_endpoint(ignored);
      auto c = std::make_shared<Connection>(std::move(socket));
      c->id = next_conn_++;
      conns_[c->id] = c;
      sink_(NetEvent{
          VMFT_NIC_KIND_TCP_OPEN, c->id, peer.address().to_v4().to_uint(), peer.port(), {}});
      read_tcp(c);
    }
    accept_tcp();
  });
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
        // The next read starts when the guest has taken this one in.
        sink_(NetEvent{VMFT_NIC_KIND_TCP_DATA, c->id, 0, 0,
                       std::vector<uint8_t>(c->read_buffer.begin(), c->read_buffer.begin() + n)});
      });
}

void AsioNetwork::write_tcp(const std::shared_ptr<Connection>& c) {
  if (c->writing) return;
  if (c->writes.empty()) {
    if (c->guest_closed) finish_tcp(c);
    return;
  }
  c->writing = true;
  asio::async_write(c->socket, asio::buffer(c->writes.front()),
                    [this, c](const asio::error_code& ec, size_t) {
                      c->writing = false;
                      if (ec) {
                        c->writes.clear();  // the peer is gone; drop what it can't get
                        c->unsent = 0;
                      } else {
                        c->unsent -= c->writes.front().size();
                        c->writes.pop_front();
                      }
                      write_tcp(c);
                    });
}

void AsioNetwork::finish_tcp(const std::shared_ptr<Connection>& c) {
  asio::error_code ignored;
  c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  c->socket.close(ignored);
  conns_.erase(c->id);
}

void AsioNetwork::send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) {
  asio::post(io_, [this, peer_ip, peer_port, data = std::move(data)] {
    asio::error_code ignored;  // UDP is best effort, as on any host
    udp_->send_to(asio::buffer(data),
                  asio::ip::udp::endpoint(to_address(peer_ip), static_cast<uint16_t>(peer_port)), 0,
                  ignored);
  });
}

void AsioNetwork::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  asio::post(io_, [this, conn, data = std::move(data)]() mutable {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const auto& c = it->second;
    if (!c->socket.is_open()) return;
    if (c->unsent + data.size() > kMaxUnsentBytes) {
      spdlog::warn("tcp connection {} has {} bytes its client does not read; disconnecting it",
                   conn, c->unsent);
      asio::error_code ignored;
      c->socket.close(ignored);  // the pending read fails, and the guest is told TCP_CLOSE
      c->writes.clear();
      c->unsent = 0;
      return;
    }
    c->unsent += data.size();
    c->writes.push_back(std::move(data));
    write_tcp(c);
  });
}

void AsioNetwork::close_tcp(uint32_t conn) {
  asio::post(io_, [this, conn] {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    it->second->guest_closed = true;
    write_tcp(it->second);
  });
}

void AsioNetwork::delivered(const NetEvent& event) {
  if (event.kind == VMFT_NIC_KIND_UDP) {
    // Never below zero: a backup that went live delivers datagrams the old primary took in,
    // which this network never counted.
    size_t queued = udp_queued_.load();
    while (queued > 0 && !udp_queued_.compare_exchange_weak(queued, queued - 1)) {
    }
    return;
  }
  if (event.kind != VMFT_NIC_KIND_TCP_DATA) return;
  const uint32_t conn = event.conn;
  asio::post(io_, [this, conn] {
    auto it = conns_.find(conn);
    if (it != conns_.end() && !it->second->guest_closed && !it->second->read_closed) {
      read_tcp(it->second);
    }
  });
}

}  // namespace vmft::devices
