#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "vmft/devices/Nic.h"

namespace vmft::devices {

/// An IPv4 address and port, host byte order.
struct Endpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
};

/// What the host lets TCP clients hold, whatever the guest does (`--max-connections`,
/// `--max-unread-bytes`, `--idle-timeout`). These are host decisions, made where the sockets
/// are: a connection refused here never reaches the guest, and one closed here reaches it as
/// TCP_CLOSE through the sink, the input a peer's close is, logged at the instruction where the
/// guest takes it. So a backup replays what its primary decided and never decides itself; a
/// backup that goes live applies its own limits from then on.
struct NetLimits {
  /// Each open connection costs a file descriptor and, in host memory, up to max_unread_bytes
  /// plus 32 KiB (its read buffer and the chunk waiting for the guest); 1024 is four times the
  /// example guests' 256 client slots.
  static constexpr size_t kDefaultMaxConnections = 1024;
  /// The guest cannot be told to wait (what it sees must not depend on host socket state), so
  /// a client this far behind is disconnected, as Redis disconnects a client past its output
  /// buffer limit; a client that reads its replies never gets near 16 MiB.
  static constexpr size_t kDefaultMaxUnreadBytes = 16u << 20;

  /// TCP connections open at once; the next is sent kTooManyConnections and closed.
  size_t max_connections = kDefaultMaxConnections;
  /// Bytes of replies a client has not read; a client this far behind is disconnected.
  size_t max_unread_bytes = kDefaultMaxUnreadBytes;
  /// A connection that moves no byte either way for this long is closed; zero: never. Time the
  /// guest takes to take in what a client sent does not count.
  std::chrono::milliseconds idle_timeout{0};
};

/// What a TCP client refused for --max-connections reads before the host closes it: an error
/// line the way Redis words its own (a RESP error, which redis-cli shows as "(error) ERR ...").
inline constexpr std::string_view kTooManyConnections = "-ERR vmft: too many connections\r\n";

/// The NIC's host side on asio: one UDP socket and one TCP listener, both optional. Socket
/// work runs on the io_context's thread; received data goes to `sink` (from that thread).
/// TCP reads are flow-controlled: a connection is not read again until the guest has taken
/// in the previous chunk, so memory per connection stays bounded.
/// Sends and deliveries made on other threads queue up and reach the io thread together: one
/// wake-up for all that queued while it was busy, and one gathered write per connection.
class AsioNetwork final : public NetBackend {
 public:
  using Sink = std::function<void(NetEvent)>;
  /// Binds the sockets now; throws std::system_error naming the address if one cannot bind
  /// ("cannot bind tcp 127.0.0.1:6380: Address already in use").
  /// TCP connections get ids from `first_conn` up (a backup that goes live starts above the
  /// ids its guest already knows).
  AsioNetwork(asio::io_context& io, std::optional<Endpoint> udp, std::optional<Endpoint> tcp,
              Sink sink, uint32_t first_conn = 1, NetLimits limits = {});
  ~AsioNetwork() override;

  /// The bound addresses (port 0 in the request becomes the real port).
  std::optional<Endpoint> udp_endpoint() const;
  std::optional<Endpoint> tcp_endpoint() const;
  /// TCP clients connected now (io thread).
  size_t open_connections() const { return open_sockets_; }
  /// Starts receiving and accepting: the TCP listener listens only from here on, so that
  /// until then a client is refused, not left waiting. Throws std::system_error if it cannot.
  void start();

  bool has_udp() const override { return udp_.has_value(); }
  bool has_tcp() const override { return acceptor_.has_value(); }
  std::optional<FrameConfig> frames() const override { return std::nullopt; }
  /// The socket NIC carries no frames (the NIC never asks it to).
  void send_frame(std::vector<uint8_t>) override {}
  void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) override;
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override;
  void close_tcp(uint32_t conn) override;
  void delivered(const NetEvent& event) override;

 private:
  struct Connection;
  /// A send, a close or a delivery, queued for the io thread.
  struct Request {
    enum class Kind { kUdp, kTcp, kClose, kDelivered } kind;
    uint32_t conn_or_ip = 0;
    uint32_t port = 0;
    std::vector<uint8_t> data;
  };
  /// Events of one kind, for log lines that say how many.
  struct Tally {
    size_t count = 0;
    std::chrono::steady_clock::time_point last_report{};
  };
  static size_t tally(Tally& t);
  void request(Request r);
  void drain_requests();
  void send_tcp_now(uint32_t conn, std::vector<uint8_t> data,
                    std::vector<std::shared_ptr<Connection>>& touched);
  void delivered_now(uint32_t conn);
  void receive_udp();
  void accept_tcp();
  void admit(asio::ip::tcp::socket socket);
  void refuse(asio::ip::tcp::socket socket);
  void read_tcp(const std::shared_ptr<Connection>& c);
  void write_tcp(const std::shared_ptr<Connection>& c);
  void finish_tcp(const std::shared_ptr<Connection>& c);
  void watch_idle(const std::shared_ptr<Connection>& c);
  void cut(Connection& c);
  void close_socket(Connection& c);

  asio::io_context& io_;
  Sink sink_;
  NetLimits limits_;
  std::optional<asio::ip::udp::socket> udp_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  asio::ip::udp::endpoint udp_sender_;
  std::vector<uint8_t> udp_buffer_;
  std::atomic<size_t> udp_queued_{0};
  uint32_t next_conn_ = 1;
  std::map<uint32_t, std::shared_ptr<Connection>> conns_;  ///< io thread only
  // io thread only:
  size_t open_sockets_ = 0;  ///< connections in conns_ whose socket is open
  asio::steady_timer accept_retry_;
  bool accept_failing_ = false;
  Tally refused_;      ///< connections refused for max_connections
  Tally idle_closed_;  ///< connections closed for idle_timeout

  std::mutex requests_mutex_;
  std::vector<Request> requests_;  ///< under requests_mutex_
  bool drain_posted_ = false;      ///< under requests_mutex_: drain_requests() is on its way
};

}  // namespace vmft::devices
