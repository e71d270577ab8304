#include "TcpRelay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vmft::integration {

namespace {

// What one read takes from a socket; the relay holds at most this much per direction.
constexpr size_t kChunk = 64 * 1024;

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

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

// One relayed connection: fds[0] is the accepted end, fds[1] the one to the target;
// pending[d] holds bytes read from fds[d] that fds[1 - d] has not taken yet.
struct TcpRelay::Link {
  std::array<int, 2> fds{-1, -1};
  std::array<std::string, 2> pending;

  ~Link() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

TcpRelay::TcpRelay(uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw_errno("socket");
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(listen_fd_);
    errno = error;
    throw_errno("relay listen on 127.0.0.1:0");
  }
  port_ = ntohs(address.sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(listen_fd_);
    throw_errno("eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

TcpRelay::~TcpRelay() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  reset_done_.notify_all();
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  links_.clear();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void TcpRelay::stall() {
  std::lock_guard lock(mutex_);
  stalled_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
}

void TcpRelay::resume() {
  std::lock_guard lock(mutex_);
  stalled_ = false;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
}

void TcpRelay::reset() {
  std::unique_lock lock(mutex_);
  reset_requested_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  reset_done_.wait(lock, [this] { return !reset_requested_ || stopping_; });
}

int TcpRelay::connections() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void TcpRelay::run() {
  struct Watch {
    Link* link;  // null: the listening socket
    int direction;
  };
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    std::vector<Watch> watches = {{nullptr, 0}};
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (!stalled_) {
        fds.push_back({listen_fd_, POLLIN, 0});
        watches.push_back({nullptr, 0});
        for (const auto& link : links_) {
          for (int d = 0; d < 2; d++) {
            // Read a direction only once what it read before has gone on.
            const bool draining = !link->pending[d].empty();
            fds.push_back({link->fds[draining ? 1 - d : d], short(draining ? POLLOUT : POLLIN), 0});
            watches.push_back({link.get(), d});
          }
        }
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;

    std::lock_guard lock(mutex_);
    uint64_t wakes = 0;
    [[maybe_unused]] ssize_t ignored = ::read(wake_fd_, &wakes, sizeof wakes);
    if (stopping_) return;
    if (reset_requested_) {
      for (const auto& link : links_) {
        // A zero linger time makes close() send a RST instead of a FIN.
        const linger abort{1, 0};
        for (int fd : link->fds) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
      }
      links_.clear();
      reset_requested_ = false;
      reset_done_.notify_all();
      continue;  // what poll saw belonged to the links just closed
    }
    if (stalled_) continue;  // the cut: whatever poll saw stays where it is
    std::vector<Link*> broken;
    for (size_t i = 1; i < fds.size(); i++) {
      if (fds[i].revents == 0) continue;
      if (watches[i].link == nullptr) {
        accept_link();
      } else if (!forward(*watches[i].link, watches[i].direction, fds[i].revents)) {
        broken.push_back(watches[i].link);
      }
    }
    std::erase_if(links_, [&](const auto& link) {
      return std::find(broken.begin(), broken.end(), link.get()) != broken.end();
    });
  }
}

void TcpRelay::accept_link() {
  auto link = std::make_unique<Link>();
  link->fds[0] = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (link->fds[0] < 0) return;
  link->fds[1] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in target = loopback(target_port_);
  // On loopback the connect completes at once; a target that refuses closes the client too.
  if (link->fds[1] < 0 ||
      ::connect(link->fds[1], reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
    return;
  }
  set_nonblocking(link->fds[1]);
  links_.push_back(std::move(link));
  accepted_++;
}

bool TcpRelay::forward(Link& link, int direction, short revents) {
  std::string& pending = link.pending[direction];
  if (pending.empty()) {
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return true;
    char buffer[kChunk];
    const ssize_t n = ::read(link.fds[direction], buffer, sizeof buffer);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;
    pending.assign(buffer, static_cast<size_t>(n));
  }
  const ssize_t n = ::send(link.fds[1 - direction], pending.data(), pending.size(), MSG_NOSIGNAL);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  pending.erase(0, static_cast<size_t>(n));
  return true;
}

}  // namespace vmft::integration
