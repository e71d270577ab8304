#include "NetLab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>

#ifndef VMFT_SOURCE_DIR
#error "VMFT_SOURCE_DIR must name the source tree (for scripts/netlab)"
#endif

namespace vmft::integration {

namespace {

constexpr Duration kLabTimeout{30000};

std::string netlab(const std::string& args) {
  return std::string(VMFT_SOURCE_DIR) + "/scripts/netlab " + args;
}

}  // namespace

bool NetLab::available() { return geteuid() == 0; }

NetLab::NetLab() {
  static std::atomic<int> labs{0};
  name_ = "vmft-t" + std::to_string(getpid()) + "-" + std::to_string(labs++);
  const auto r = run_shell(netlab("up " + name_), kLabTimeout);
  if (r.exit_code != std::optional<int>(0)) {
    run_shell(netlab("down " + name_), kLabTimeout);
    throw std::runtime_error("scripts/netlab up " + name_ + " failed:\n" + r.out + r.err);
  }
}

NetLab::~NetLab() { run_shell(netlab("down " + name_), kLabTimeout); }

std::vector<std::string> NetLab::in_lab() const { return {"ip", "netns", "exec", name_ + "-lab"}; }
std::vector<std::string> NetLab::in_client() const {
  return {"ip", "netns", "exec", name_ + "-client"};
}

CommandResult NetLab::client(const std::string& command, Duration timeout) const {
  return run_shell(
      "ip netns exec " + shell_quote(name_ + "-client") + " sh -c " + shell_quote(command),
      timeout);
}

namespace {

// A socket belongs to the network namespace of the thread that makes it, and setns(2) moves
// only the calling thread: a thread of its own enters the namespace, runs `make`, and ends.
int in_namespace(const std::string& ns_name, const std::function<int(int&)>& make) {
  int fd = -1;
  int error = 0;
  std::thread([&] {
    const int ns = ::open(("/var/run/netns/" + ns_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
      error = errno;
      if (ns >= 0) ::close(ns);
      return;
    }
    ::close(ns);
    fd = make(error);
  }).join();
  if (fd < 0) errno = error;
  return fd;
}

}  // namespace

void NetLab::run_in_namespace(const std::string& ns_name, const std::function<void()>& run) {
  std::string failed;
  std::thread([&] {
    const int ns = ::open(("/var/run/netns/" + ns_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
      failed = std::string("cannot enter namespace ") + ns_name + ": " + std::strerror(errno);
      if (ns >= 0) ::close(ns);
      return;
    }
    ::close(ns);
    run();
  }).join();
  if (!failed.empty()) throw std::runtime_error(failed);
}

int NetLab::raw_socket_in_client() const {
  return in_namespace(name_ + "-client", [](int& error) {
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = static_cast<int>(::if_nametoindex("eth0"));
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error = errno;
      if (fd >= 0) ::close(fd);
      return -1;
    }
    return fd;
  });
}

int NetLab::connect_from_client(const std::string& ip, uint16_t port) const {
  return in_namespace(name_ + "-client", [&](int& error) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
    return fd;
  });
}

}  // namespace vmft::integration
