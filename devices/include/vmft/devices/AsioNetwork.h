#pragma once

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "vmft/devices/Nic.h"

namespace vmft::devices {

/// An IPv4 address and port, host byte order.
struct Endpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
};

/// The NIC's host side on asio: one UDP socket and one TCP listener, both optional. Socket
/// work runs on the io_context's thread; received data goes to `sink` (from that thread).
/// TCP reads are flow-controlled: a connection is not read again until the guest has taken
/// in the previous chunk, so memory per connection stays bounded.
class AsioNetwork final : public NetBackend {
 public:
  using Sink = std::function<void(NetEvent)>;
  /// Binds the sockets now; throws std::system_error naming the address if one cannot bind
  /// ("cannot bind tcp 127.0.0.1:6380: Address already in use").
  /// TCP connections get ids from `first_conn` up (a backup that goes live starts above the
  /// ids its guest already knows).
  AsioNetwork(asio::io_context& io, std::optional<Endpoint> udp, std::optional<Endpoint> tcp,
              Sink sink, uint32_t first_conn = 1);
  ~AsioNetwork() override;

  /// The bound addresses (port 0 in the request becomes the real port).
  std::optional<Endpoint> udp_endpoint() const;
  std::optional<Endpoint> tcp_endpoint() const;
  /// Starts receiving and accepting.
  void start();

  bool has_udp() const override { return udp_.has_value(); }
  bool has_tcp() const override { return acceptor_.has_value(); }
  void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) override;
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override;
  void close_tcp(uint32_t conn) override;
  void delivered(const NetEvent& event) override;

 private:
  struct Connection;
  void receive_udp();
  void accept_tcp();
  void read_tcp(const std::shared_ptr<Connection>& c);
  void write_tcp(const std::shared_ptr<Connection>& c);
  void finish_tcp(const std::shared_ptr<Connection>& c);

  asio::io_context& io_;
  Sink sink_;
  std::optional<asio::ip::udp::socket> udp_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  asio::ip::udp::endpoint udp_sender_;
  std::vector<uint8_t> udp_buffer_;
  std::atomic<size_t> udp_queued_{0};
  uint32_t next_conn_ = 1;
  std::map<uint32_t, std::shared_ptr<Connection>> conns_;  ///< io thread only
};

}  // namespace vmft::devices
