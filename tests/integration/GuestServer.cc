#include "GuestServer.h"

#include <iostream>
#include <stdexcept>

namespace vmft::integration {

namespace {

std::vector<std::string> with_sockets(std::vector<std::string> options) {
  options.insert(options.begin(), {"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  return options;
}

}  // namespace

GuestServer::GuestServer(const std::string& guest, const std::vector<std::string>& options)
    : vmft_(guest, with_sockets(options)) {
  const auto tcp = vmft_.listening_port("tcp", kStartTimeout);
  const auto udp = vmft_.listening_port("udp", kStartTimeout);
  const bool ready = vmft_.wait_for_console(guest + ": ready\n", kStartTimeout);
  if (!tcp || !udp || !ready) {
    throw std::runtime_error("vmft run " + guest + " did not get ready (both ports logged and \"" +
                             guest + ": ready\" printed)\n" + diagnostics());
  }
  tcp_port_ = *tcp;
  udp_port_ = *udp;
}

std::optional<int> GuestServer::stop() {
  vmft_.terminate();
  const auto exit_code = vmft_.wait_for_exit(kStopTimeout);
  if (!exit_code) vmft_.kill();
  return exit_code;
}

std::string GuestServer::diagnostics() const {
  return "--- vmft log (stderr) ---\n" + vmft_.log() + "--- guest console (stdout) ---\n" +
         vmft_.console() + "---\n";
}

void GuestServerTest::SetUp() { server_.emplace(guest_, options_); }

void GuestServerTest::TearDown() {
  if (!server_) return;
  const bool failed = HasFailure();
  const auto exit_code = server_->stop();
  EXPECT_EQ(exit_code, std::optional<int>(0)) << "vmft did not stop cleanly on SIGTERM\n"
                                              << server_->diagnostics();
  if (failed && exit_code == 0) std::cerr << server_->diagnostics();
}

}  // namespace vmft::integration
