#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::host {

/// How often the status's arbiter probe asks.
inline constexpr auto kArbiterProbeInterval = std::chrono::seconds(2);

/// Whether the arbiter answers, asked every kArbiterProbeInterval through a client of its own,
/// so that a probe never holds up a decision. Only with --status-listen.
class ArbiterProbe {
 public:
  /// Asks `arbiter` about `pair` on a thread of its own from now on.
  ArbiterProbe(std::unique_ptr<arbiter::Arbiter> arbiter, std::string pair);
  ~ArbiterProbe();
  ArbiterProbe(const ArbiterProbe&) = delete;
  ArbiterProbe& operator=(const ArbiterProbe&) = delete;

  /// Any thread: whether it answered the last question; nullopt before the first answer.
  std::optional<bool> reachable() const;

 private:
  void probe();

  std::unique_ptr<arbiter::Arbiter> arbiter_;
  std::string pair_;
  std::atomic<int> reachable_{-1};  ///< -1: not asked yet
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace vmft::host
