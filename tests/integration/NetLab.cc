#include "NetLab.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

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

CommandResult NetLab::client(const std::string& command, Duration timeout) const {
  return run_shell(
      "ip netns exec " + shell_quote(name_ + "-client") + " sh -c " + shell_quote(command),
      timeout);
}

}  // namespace vmft::integration
