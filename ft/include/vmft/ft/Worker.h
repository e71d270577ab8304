#pragma once
// Where a live side's decisions run: one task at a time, in the order posted, apart from the io
// and vCPU threads, so that neither ever waits for the arbiter. A task that waits for another
// thread (a pre-copy waits for the vCPU) waits through its worker too, and sleeps on the clock
// its worker gives it, so that a simulation runs the same code on its own clock and scheduler
// (sim/SimWorker.h). vmft's worker is ThreadWorker: a thread of its own.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace vmft::ft {

/// What a worker's task waits for another thread to do: set once, with whether it went well.
/// Shared by the two (std::shared_ptr), so that either may be gone first.
class Completion {
 public:
  /// Any thread, once.
  void set(bool ok);
  /// Blocks up to `d` for set(); whether it came.
  bool wait_for(std::chrono::milliseconds d);
  /// Whether set() came, and what it said (false before it came).
  bool is_set() const;
  bool ok() const;
  /// Called by set(), after it: how a worker that does not block a thread (the simulation's)
  /// hears of it. Set by that worker before it waits; none: nobody to wake.
  void on_set(std::function<void()> wake);

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<bool> ok_;
  std::function<void()> wake_;
};

class Worker {
 public:
  virtual ~Worker() = default;
  /// Any thread: `task` runs after the tasks posted before it; dropped once stop() was called.
  virtual void post(std::function<void()> task) = 0;
  /// Any thread but the worker's own: no task starts after this, and it returns once the
  /// current one is over.
  virtual void stop() = 0;
  /// A task: waits until `done` is set (true) or stop() was called (false).
  virtual bool wait(Completion& done) = 0;
};

/// A thread of its own, started at construction and ended by stop() (or the destructor).
class ThreadWorker final : public Worker {
 public:
  ThreadWorker();
  ~ThreadWorker() override;
  ThreadWorker(const ThreadWorker&) = delete;
  ThreadWorker& operator=(const ThreadWorker&) = delete;

  void post(std::function<void()> task) override;
  void stop() override;
  /// Looks for a stop every kStopPoll while it waits.
  bool wait(Completion& done) override;

 private:
  /// How often a wait looks for a stop: often enough that a stop waits little for it.
  static constexpr auto kStopPoll = std::chrono::milliseconds(20);

  void work();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vmft::ft
