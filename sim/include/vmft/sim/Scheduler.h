#pragma once
// The simulation's clock and its only thread of control. Everything that happens in a simulated
// run is a task the scheduler runs at a simulated time: a message arriving, a timer firing, a
// fault. Tasks due at the same time run in the order they were scheduled, so a run depends on
// nothing but its seed. Each task runs to its end before the next; time moves only between
// tasks, straight to the next one due (a second of simulated quiet costs nothing).
//
// Every task that runs is written to the trace, with its time: a failing seed prints the end of
// it, and two runs of one seed must have the same digest, which is how the simulation proves it
// is deterministic.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "vmft/sim/Random.h"

namespace vmft::sim {

/// Simulated time since the run started.
using Time = std::chrono::nanoseconds;

/// Simulated times, for messages: "12.345678 ms".
std::string format_time(Time t);

/// What the scheduler ran, in order. The digest covers every entry; only the last kKeptLines
/// are kept, which is what a failure prints.
class Trace {
 public:
  /// Enough to show the faults and decisions before a failure, small enough to print.
  static constexpr size_t kKeptLines = 2000;

  void add(Time at, const std::string& what);
  uint64_t digest() const { return digest_; }
  uint64_t entries() const { return entries_; }
  /// The kept lines, oldest first, each "<time> <what>".
  std::string tail() const;

 private:
  std::deque<std::string> kept_;
  uint64_t digest_ = 0xcbf29ce484222325ULL;  // FNV-1a's offset basis
  uint64_t entries_ = 0;
};

class Scheduler {
 public:
  using Task = std::function<void()>;
  /// Names a scheduled task, to cancel it. 0 is never one.
  using TaskId = uint64_t;

  explicit Scheduler(uint64_t seed);

  Time now() const { return now_; }
  Random& random() { return random_; }
  Trace& trace() { return trace_; }
  const Trace& trace() const { return trace_; }

  /// What a task is, for next_due(): a vCPU's slice, or anything else.
  enum class Kind { kOther, kSlice };

  /// Runs `task` at now() + delay (a negative delay counts as none). `what` names it in the
  /// trace.
  TaskId after(Time delay, std::string what, Task task, Kind kind = Kind::kOther);
  /// Runs `task` at `when`, or now if that has passed.
  TaskId at(Time when, std::string what, Task task, Kind kind = Kind::kOther);
  /// Forgets a task that has not run; a task that ran or was cancelled is ignored.
  void cancel(TaskId id);
  /// Writes a line to the trace at now(), for what happens inside a task.
  void note(const std::string& what) { trace_.add(now_, what); }

  /// Runs the next task due, moving time to it. Returns false if none is left.
  bool step();
  /// Runs every task due at or before `deadline`, then moves time to it.
  void run_until(Time deadline);
  size_t pending() const { return queue_.size(); }
  /// When the next task is due, or nullopt if none is; `skip`: of the tasks of another kind
  /// (a vCPU's slice asks when the next task that is not a slice is due).
  std::optional<Time> next_due(std::optional<Kind> skip = std::nullopt) const;

 private:
  struct Entry {
    std::string what;
    Task task;
    Kind kind = Kind::kOther;
  };
  // Keyed by (time, order of scheduling): the first entry is the next to run.
  using Key = std::pair<Time, TaskId>;

  Time now_{0};
  TaskId next_id_ = 1;
  Random random_;
  Trace trace_;
  std::map<Key, Entry> queue_;
  std::map<TaskId, Time> due_;  // to find a task to cancel
};

}  // namespace vmft::sim
