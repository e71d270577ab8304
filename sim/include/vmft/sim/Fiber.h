#pragma once
// Code that cannot be cut into the scheduler's tasks (a guest's vCPU runs inside Unicorn until
// it returns) runs in a fiber: on a stack of its own, on the thread that resumes it, and only
// while the simulation lets it. resume() runs the body until it calls yield() (or returns), so
// exactly one of them runs at any time, and everything the body does is ordered with the
// scheduler's tasks as if it were one of them: a simulated run stays a function of its seed.
//
// A switch changes context on the one thread (getcontext/setcontext), not a hand-off between
// threads: a futex wake-up and a thread that has to be scheduled onto a core cost microseconds,
// which a simulation that switches at every slice of every vCPU pays hundreds of thousands of times
// a second. Nothing the bodies run keeps per-thread state between switches (Unicorn's only
// thread-local belongs to the TriCore translator). ASan and TSan are told of every switch
// (Fiber.cc), so the sanitizer runs check the same code.
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>

namespace vmft::sim {

class Fiber {
 public:
  /// The stack a body gets: Unicorn's translator and the roles' calls run on it. Reserved, not
  /// committed: only the pages a body touches take memory.
  static constexpr size_t kStackBytes = 8 << 20;

  /// The body gets the fiber, to yield() from. It starts at the first resume().
  explicit Fiber(std::function<void(Fiber&)> body);
  /// The body should have returned (end it the way its code ends, e.g. a stop request, and
  /// resume it until done()): a fiber parked in yield() is dropped where it stands, without
  /// unwinding its stack.
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  /// Runs the body until it yields or returns. Rethrows what the body threw. Returns whether
  /// the body can run again (false once it has returned).
  bool resume();
  /// The body: hands control back to resume()'s caller, and waits to be resumed.
  void yield();
  bool done() const { return done_; }

 private:
  struct Context;  // the two saved contexts, the stack and the sanitizers' view of them

  static void entry(unsigned high, unsigned low);

  std::function<void(Fiber&)> body_;
  std::unique_ptr<Context> context_;
  bool started_ = false;
  bool running_ = false;
  bool done_ = false;
  std::exception_ptr error_;
};

}  // namespace vmft::sim
