#include "PosixLineWire.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace vmft::arbiter {

namespace {

using Clock = std::chrono::steady_clock;

int milliseconds_until(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// Waits until `fd` is ready for `events` (or has an error, which the next call on it reports);
// false if the deadline passes first.
bool wait_until_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, milliseconds_until(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;
  }
}

std::string error_text(int err) { return std::strerror(err); }

}  // namespace

PosixLineWire::~PosixLineWire() { close(); }

LineWire::TimePoint PosixLineWire::now() { return Clock::now(); }

LineWire::Status PosixLineWire::connect(const std::string& host, const std::string& port,
                                        TimePoint deadline) {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) throw WireError("cannot resolve " + host + ": " + ::gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = error_text(errno);
      continue;
    }
    int err = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (!wait_until_ready(fd, POLLOUT, deadline)) {
        ::close(fd);
        return Status::kTimedOut;
      }
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err != 0) {
      why = error_text(err);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    return Status::kDone;
  }
  throw WireError("cannot connect: " + why);
}

LineWire::Status PosixLineWire::send_line(const std::string& text, TimePoint deadline) {
  const std::string line = text + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_until_ready(fd_, POLLOUT, deadline)) return Status::kTimedOut;
    } else if (errno == EPIPE || errno == ECONNRESET) {
      return Status::kClosed;
    } else if (errno != EINTR) {
      throw WireError("cannot send: " + error_text(errno));
    }
  }
  return Status::kDone;
}

LineWire::Line PosixLineWire::receive_line(TimePoint deadline, size_t max_bytes) {
  std::string received;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
      const size_t newline = received.find('\n');
      if (newline != std::string::npos) {
        Line line{Status::kDone, received.substr(0, newline), newline + 1 != received.size()};
        if (!line.text.empty() && line.text.back() == '\r') line.text.pop_back();
        return line;
      }
      if (received.size() > max_bytes) {
        throw WireError("sent a reply line longer than " + std::to_string(max_bytes) + " bytes");
      }
    } else if (n == 0 || errno == ECONNRESET) {
      if (received.empty()) return {.status = Status::kClosed};
      throw WireError("closed the connection in the middle of a reply");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_until_ready(fd_, POLLIN, deadline)) return {.status = Status::kTimedOut};
    } else if (errno != EINTR) {
      throw WireError("cannot receive: " + error_text(errno));
    }
  }
}

void PosixLineWire::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace vmft::arbiter
