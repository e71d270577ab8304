#include "FreePort.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace vmft::integration {

namespace {

// The lowest port picked below the ephemeral range: well above the ports services own.
constexpr int kFirstPicked = 10000;
// Below this many candidates, the kernel picks instead.
constexpr int kFewestCandidates = 1000;
constexpr int kAttempts = 100;

// The first port of the kernel's ephemeral range (Linux's default if it cannot be read).
int first_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  range >> low;
  return low;
}

// Binds a socket of `socket_type` to 127.0.0.1:port (0: any) and returns the port it got,
// or 0 if the bind failed; the socket is closed again.
uint16_t try_bind(int socket_type, uint16_t port) {
  const int fd = ::socket(AF_INET, socket_type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

}  // namespace

uint16_t unused_port(int socket_type) {
  static std::mutex mutex;
  // Seeded by the process, so that tests running side by side start from different ports.
  static std::minstd_rand random(static_cast<unsigned>(::getpid()));
  // A port handed out once is not handed out again by this process: it is free while its
  // owner has not started, and a test that asks for several ports at once (a pair's client,
  // log and status ports) got the same one twice.
  static std::set<uint16_t> handed_out;
  const int candidates = first_ephemeral_port() - kFirstPicked;
  if (candidates >= kFewestCandidates) {
    std::lock_guard lock(mutex);
    for (int attempt = 0; attempt < kAttempts; attempt++) {
      const auto port = static_cast<uint16_t>(kFirstPicked + random() % candidates);
      if (handed_out.contains(port) || try_bind(socket_type, port) != port) continue;
      handed_out.insert(port);
      return port;
    }
  }
  const uint16_t port = try_bind(socket_type, 0);
  if (port == 0) throw std::runtime_error("cannot bind a socket to 127.0.0.1:0");
  return port;
}

}  // namespace vmft::integration
