#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Subprocess.h"

namespace vmft::integration {

enum class Transport { kTcp, kUdp };

/// What one client of an IncrLoad got.
struct IncrClientRecord {
  std::vector<long long> values;         ///< every value an INCR was answered with, in order
  std::vector<std::string> bad_replies;  ///< replies that were not ":<number>\r\n"
};

/// Clients of the counter guest on 127.0.0.1 that INCR one key without pause, each on a thread
/// of its own, as clients of a fault-tolerant server do: a request that gets no reply in time
/// (the server died, or is taking over) is sent again, on a new connection for TCP (one
/// command per datagram for UDP). Every value a client was answered with is kept. Any thread
/// may call any method.
class IncrLoad {
 public:
  /// How long a client waits for a reply before it sends the request again. A dead server's
  /// TCP connections close at once, so TCP waits long; a lost datagram only shows as silence.
  static constexpr Duration kTcpRetryAfter{1000};
  static constexpr Duration kUdpRetryAfter{100};

  IncrLoad(Transport transport, uint16_t port, std::string key, int clients);
  ~IncrLoad();  ///< stops the clients
  IncrLoad(const IncrLoad&) = delete;
  IncrLoad& operator=(const IncrLoad&) = delete;

  /// INCRs acknowledged so far, by all clients together.
  size_t acknowledged() const;
  /// Waits until at least `count` INCRs were acknowledged; false if not within the timeout.
  bool wait_for_acknowledged(size_t count, Duration timeout);
  /// What each client got so far; they go on.
  std::vector<IncrClientRecord> records() const;
  /// Stops the clients (each within its retry time) and returns what each got.
  std::vector<IncrClientRecord> stop();

 private:
  void run_tcp_client(size_t index);
  void run_udp_client(size_t index);
  void record(size_t index, const std::string& reply);

  const uint16_t port_;
  const std::string key_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable acknowledged_changed_;
  size_t acknowledged_ = 0;
  std::vector<IncrClientRecord> records_;
  std::vector<std::thread> threads_;
};

}  // namespace vmft::integration
