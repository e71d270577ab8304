#include "NetClients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

namespace vmft::integration {

namespace {

using Clock = std::chrono::steady_clock;

// The largest datagram UDP carries over IPv4.
constexpr size_t kMaxDatagram = 65507;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Waits until fd is readable; false if the deadline passes first.
bool wait_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd readable{fd, POLLIN, 0};
    const int ready = ::poll(&readable, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_errno("poll");
    return ready > 0;
  }
}

}  // namespace

UdpClient::UdpClient() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  const sockaddr_in any_port = loopback(0);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&any_port), sizeof any_port) != 0) {
    ::close(fd_);
    throw_errno("bind udp 127.0.0.1:0");
  }
}

UdpClient::~UdpClient() { ::close(fd_); }

void UdpClient::send_to(uint16_t port, std::string_view datagram) {
  const sockaddr_in to = loopback(port);
  const ssize_t sent = ::sendto(fd_, datagram.data(), datagram.size(), 0,
                                reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (sent != static_cast<ssize_t>(datagram.size())) throw_errno("sendto");
}

std::optional<std::string> UdpClient::receive(Duration timeout) {
  if (!wait_readable(fd_, Clock::now() + scaled(timeout))) return std::nullopt;
  std::string datagram(kMaxDatagram, '\0');
  const ssize_t n = ::recv(fd_, datagram.data(), datagram.size(), 0);
  if (n < 0) throw_errno("recv");
  datagram.resize(static_cast<size_t>(n));
  return datagram;
}

TcpClient::TcpClient(uint16_t port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  if (receive_buffer != 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  const timeval send_timeout{kSendTimeout.count() / 1000, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  const sockaddr_in server = loopback(port);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
    const int error = errno;
    ::close(fd_);
    errno = error;
    throw_errno("connect to 127.0.0.1:" + std::to_string(port));
  }
}

TcpClient::~TcpClient() { ::close(fd_); }

void TcpClient::set_no_delay() {
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void TcpClient::send_all(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("send (" + std::to_string(data.size()) + " bytes left)");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void TcpClient::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

Received TcpClient::receive_until(size_t limit, Clock::time_point deadline) {
  Received received;
  char buffer[65536];
  while (received.data.size() < limit) {
    if (!wait_readable(fd_, deadline)) break;
    const size_t wanted = std::min(sizeof buffer, limit - received.data.size());
    const ssize_t n = ::recv(fd_, buffer, wanted, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      received.closed = true;
      break;
    }
    received.data.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

Received TcpClient::receive_exactly(size_t n, Duration timeout) {
  return receive_until(n, Clock::now() + scaled(timeout));
}

Received TcpClient::receive_line(Duration timeout) {
  const auto deadline = Clock::now() + scaled(timeout);
  Received line;
  while (line.data.empty() || line.data.back() != '\n') {
    const Received byte = receive_until(1, deadline);
    line.data += byte.data;
    if (byte.closed) line.closed = true;
    if (byte.data.empty()) break;
  }
  return line;
}

Received TcpClient::receive_until_closed(Duration timeout) {
  return receive_until(std::string::npos, Clock::now() + scaled(timeout));
}

Received TcpClient::exchange(std::string_view request, size_t reply_size, Duration timeout) {
  std::exception_ptr send_error;
  std::thread sender([&] {
    try {
      send_all(request);
    } catch (...) {
      send_error = std::current_exception();
    }
  });
  Received reply = receive_exactly(reply_size, timeout);
  sender.join();  // bounded: each blocked send gives up after kSendTimeout
  if (send_error) std::rethrow_exception(send_error);
  return reply;
}

}  // namespace vmft::integration
