#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "Subprocess.h"

namespace vmft::integration {

/// A UDP socket bound to an ephemeral port of 127.0.0.1. Not thread-safe.
class UdpClient {
 public:
  UdpClient();  ///< throws std::runtime_error if the socket cannot be made
  ~UdpClient();
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  void send_to(uint16_t port, std::string_view datagram);
  /// The next datagram to arrive, or nullopt if none does within the timeout.
  std::optional<std::string> receive(Duration timeout);

 private:
  int fd_ = -1;
};

/// What a read got before it stopped.
struct Received {
  std::string data;
  bool closed = false;  ///< the peer closed the connection (EOF or reset)
};

/// A TCP connection to 127.0.0.1. Sends block for at most kSendTimeout; receives take a
/// timeout. One thread may send while another receives.
class TcpClient {
 public:
  static constexpr Duration kSendTimeout{10000};

  /// Connects; throws std::runtime_error on failure. A `receive_buffer` other than 0 is set as
  /// SO_RCVBUF before connecting, so that the window the server may fill stays that small.
  explicit TcpClient(uint16_t port, int receive_buffer = 0);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  /// Disables Nagle's algorithm, so each send leaves as its own segment.
  void set_no_delay();
  /// Sends all of data; throws std::runtime_error if that fails or stalls.
  void send_all(std::string_view data);
  /// Half-closes: the server sees the end of the stream, replies can still arrive.
  void shutdown_write();

  /// Reads until n bytes have arrived, the peer closes, or the timeout passes.
  Received receive_exactly(size_t n, Duration timeout);
  /// Reads one line, up to and including its LF (a byte at a time, so nothing after it is
  /// consumed), or what arrived before the peer closed or the timeout passed.
  Received receive_line(Duration timeout);
  /// Reads until the peer closes or the timeout passes.
  Received receive_until_closed(Duration timeout);
  /// Sends request from a second thread while reading reply_size bytes, so that neither
  /// side can stall on a full socket buffer however large both are.
  Received exchange(std::string_view request, size_t reply_size, Duration timeout);

 private:
  /// Reads until `limit` bytes have arrived, the peer closes, or the deadline passes.
  Received receive_until(size_t limit, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
};

}  // namespace vmft::integration
