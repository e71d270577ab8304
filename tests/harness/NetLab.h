#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ShellCommand.h"

namespace vmft::integration {

/// A network lab of scripts/netlab, made for one test and removed after it: the namespaces
/// NAME-lab (a bridge and the TAP devices tap0 and tap1) and NAME-client (198.18.0.2), with a
/// name of this process's own. Needs root: available() says whether it can be made.
class NetLab {
 public:
  /// Whether this process may make a lab (it runs as root).
  static bool available();

  /// Runs `scripts/netlab up`; throws std::runtime_error with its output if it fails.
  NetLab();
  /// Runs `scripts/netlab down`.
  ~NetLab();
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  /// The lab's name, as scripts/netlab knows it.
  const std::string& name() const { return name_; }
  /// The command line prefix that runs a program in the lab's namespace, where the TAP devices
  /// are ({"ip", "netns", "exec", "NAME-lab"}).
  std::vector<std::string> in_lab() const;
  /// The same for the client namespace, where the clients run.
  std::vector<std::string> in_client() const;
  /// Runs a shell command in the client namespace.
  CommandResult client(const std::string& command, Duration timeout) const;
  /// A TCP connection from the client namespace to ip:port (blocking; its fd is the caller's
  /// to close), or -1 with errno set.
  int connect_from_client(const std::string& ip, uint16_t port) const;
  /// A packet socket on the client namespace's eth0 that sends whole Ethernet frames as given
  /// (AF_PACKET, SOCK_RAW), or -1 with errno set. The fd is the caller's to close.
  int raw_socket_in_client() const;

  /// Runs `make` on a thread of its own in the lab's namespace and returns what it made: the
  /// sockets it opens and the threads it starts are in that namespace (a TcpRelay between the
  /// sides of a pair, say). Throws std::runtime_error if the thread cannot enter it.
  template <typename T>
  T in_lab_namespace(const std::function<T()>& make) const {
    T made{};
    run_in_namespace(name_ + "-lab", [&] { made = make(); });
    return made;
  }

  static constexpr const char* kGuestIp = "198.18.0.10";

 private:
  static void run_in_namespace(const std::string& ns_name, const std::function<void()>& run);
  std::string name_;
};

}  // namespace vmft::integration
