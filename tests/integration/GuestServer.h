#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "VmftProcess.h"

namespace vmft::integration {

/// How long a test waits for any one reply. Generous, because a loaded CI machine may be
/// slow; a passing test never waits this long.
constexpr Duration kReplyTimeout{10000};

/// A guest server under `vmft run`, with a TCP listener and a UDP socket on ephemeral ports
/// of 127.0.0.1. Ready once constructed: vmft has logged both ports and the guest has printed
/// "<guest>: ready" (so it has named its receive buffer).
class GuestServer {
 public:
  static constexpr Duration kStartTimeout{10000};
  static constexpr Duration kStopTimeout{10000};

  /// Throws std::runtime_error quoting vmft's output if it is not ready within kStartTimeout.
  /// `options` go to `vmft run` besides the sockets.
  explicit GuestServer(const std::string& guest, const std::vector<std::string>& options = {});

  uint16_t tcp_port() const { return tcp_port_; }
  uint16_t udp_port() const { return udp_port_; }
  VmftProcess& vmft() { return vmft_; }

  /// Sends SIGTERM and waits. Returns vmft's exit code, or nullopt if it had not stopped
  /// within kStopTimeout (it is then killed).
  std::optional<int> stop();
  /// vmft's log and the guest console, for failure messages.
  std::string diagnostics() const;

 private:
  VmftProcess vmft_;
  uint16_t tcp_port_ = 0;
  uint16_t udp_port_ = 0;
};

/// A fixture that runs one guest server per test and, after the test, checks that SIGTERM
/// stops vmft with exit code 0 (so a guest fault or a hang during the test shows up too).
class GuestServerTest : public ::testing::Test {
 protected:
  /// `options`: more flags for `vmft run`, e.g. {"--idle-timeout", "1"}.
  explicit GuestServerTest(std::string guest, std::vector<std::string> options = {})
      : guest_(std::move(guest)), options_(std::move(options)) {}

  void SetUp() override;
  void TearDown() override;

  GuestServer& server() { return *server_; }

 private:
  std::string guest_;
  std::vector<std::string> options_;
  std::optional<GuestServer> server_;
};

}  // namespace vmft::integration
