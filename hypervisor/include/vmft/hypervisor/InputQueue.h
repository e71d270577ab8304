#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <variant>

#include "vmft/devices/Nic.h"

namespace vmft::hypervisor {

/// The host timer armed for `generation` went off.
struct TimerExpired {
  uint64_t generation = 0;
};
/// An input from the host on its way to the vCPU.
using HostInput = std::variant<TimerExpired, devices::NetEvent>;

/// Carries host inputs from I/O threads to the vCPU thread. Producers push from any thread;
/// the vCPU polls `attention()` cheaply at every block boundary and takes the inputs there,
/// or blocks in wait() while the guest idles.
class InputQueue {
 public:
  void push(HostInput input);
  /// Asks the vCPU to stop at its next block boundary (any thread).
  void request_stop();
  /// Makes one wait() return without an input (any thread): the machine has a task for its
  /// next safe point (Machine::at_next_boundary) while the guest idles.
  void wake();

  /// True when there are inputs or a stop request (relaxed; vCPU thread).
  bool attention() const { return attention_.load(std::memory_order_relaxed); }
  /// The flag attention() reads, for a caller that polls it without a call.
  const std::atomic<bool>& attention_flag() const { return attention_; }
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  /// Moves every queued input out (vCPU thread).
  std::deque<HostInput> take_all();
  /// Blocks until an input, a stop request or a wake() arrives (vCPU thread).
  void wait();
  /// How wait() waits while nothing has arrived: by default on a condition variable, for a
  /// push from another thread. A simulation runs the producers on its scheduler's thread while
  /// the vCPU is parked (sim/Fiber.h), so it passes a function that hands control back to the
  /// scheduler and returns once the vCPU runs again. Set before the vCPU runs.
  void set_idler(std::function<void()> idle) { idle_ = std::move(idle); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<HostInput> inputs_;
  std::atomic<bool> attention_{false};
  std::atomic<bool> stop_{false};
  bool wake_ = false;  ///< under mutex_
  std::function<void()> idle_;
};

}  // namespace vmft::hypervisor
