#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vmft::integration {

/// A fault-injecting TCP relay: it listens on an ephemeral port of 127.0.0.1 and forwards each
/// connection it accepts to 127.0.0.1:<target>, byte for byte in both directions, on a thread
/// of its own, until the test breaks it: stall() (mended by resume()) or reset(). A connection
/// that one end closes is closed at the other end too. Any thread may call any method.
class TcpRelay {
 public:
  /// Throws std::runtime_error if it cannot listen.
  explicit TcpRelay(uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  uint16_t port() const { return port_; }

  /// Cuts every connection without closing it: from the return on, the relay reads, forwards
  /// and accepts nothing, so each end hears only silence, as behind a broken switch.
  void stall();
  /// Ends a stall: what the relay held goes on, as when a broken switch comes back. An end
  /// that gave up on its connection meanwhile has closed it, and the relay then closes the
  /// other end too.
  void resume();
  /// Resets every connection at both ends (each end's next read fails with ECONNRESET), as a
  /// link that breaks where both ends notice at once; what the relay held is dropped. Returns
  /// once they are closed. Connections accepted later are relayed as before, unless stalled.
  void reset();
  /// Connections accepted (and connected onwards) so far.
  int connections() const;

 private:
  struct Link;

  void run();
  void accept_link();
  // Moves bytes of `link` that poll found ready; false once an end closed or failed.
  bool forward(Link& link, int direction, short revents);

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: every call that changes the relay wakes the thread with it
  mutable std::mutex mutex_;  // held while the thread moves bytes, so that stall() is a cut
  std::condition_variable reset_done_;
  bool stalled_ = false;
  bool reset_requested_ = false;  // the thread closes the links: it may be polling them
  bool stopping_ = false;
  int accepted_ = 0;
  std::vector<std::unique_ptr<Link>> links_;
  std::thread thread_;
};

}  // namespace vmft::integration
