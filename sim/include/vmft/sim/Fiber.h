#pragma once
// Code that cannot be cut into the scheduler's tasks (a guest's vCPU runs inside Unicorn until
// it returns) runs in a fiber: on a thread of its own, but only while the simulation lets it.
// resume() runs the body until it calls yield() (or returns) while the calling thread waits, so
// exactly one of them runs at any time, and everything the body does is ordered with the
// scheduler's tasks as if it ran on the scheduler's thread: a simulated run stays a function of
// its seed.
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace vmft::sim {

class Fiber {
 public:
  /// The body gets the fiber, to yield() from. It starts at the first resume().
  explicit Fiber(std::function<void(Fiber&)> body);
  /// The body must have returned (a fiber parked in yield() cannot be unwound from outside:
  /// end it the way its code ends, e.g. a stop request, and resume it until done()).
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  /// The scheduler's thread: runs the body until it yields or returns. Rethrows what the body
  /// threw. Returns whether the body can run again (false once it has returned).
  bool resume();
  /// The body's thread: hands control back to resume()'s caller, and waits to be resumed.
  void yield();
  bool done() const;

 private:
  enum class Turn { kCaller, kBody };

  void hand_over(Turn to, std::unique_lock<std::mutex>& lock);

  std::function<void(Fiber&)> body_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Turn turn_ = Turn::kCaller;
  bool started_ = false;
  bool done_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace vmft::sim
