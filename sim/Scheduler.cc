#include "vmft/sim/Scheduler.h"

#include <fmt/format.h>

namespace vmft::sim {

std::string format_time(Time t) { return fmt::format("{:.6f} ms", t.count() / 1e6); }

void Trace::add(Time at, const std::string& what) {
  std::string line = format_time(at) + " " + what;
  for (unsigned char c : line) {
    digest_ ^= c;
    digest_ *= 0x100000001b3ULL;  // FNV-1a's prime
  }
  digest_ ^= '\n';
  digest_ *= 0x100000001b3ULL;
  ++entries_;
  kept_.push_back(std::move(line));
  if (kept_.size() > kKeptLines) kept_.pop_front();
}

std::string Trace::tail() const {
  std::string text;
  if (entries_ > kept_.size()) {
    text = fmt::format("({} earlier entries not kept)\n", entries_ - kept_.size());
  }
  for (const std::string& line : kept_) text += line + "\n";
  return text;
}

Scheduler::Scheduler(uint64_t seed) : random_(seed) {}

Scheduler::TaskId Scheduler::after(Time delay, std::string what, Task task, Kind kind) {
  return at(now_ + std::max(delay, Time{0}), std::move(what), std::move(task), kind);
}

Scheduler::TaskId Scheduler::at(Time when, std::string what, Task task, Kind kind) {
  const TaskId id = next_id_++;
  const Time due = std::max(when, now_);
  queue_.emplace(Key{due, id}, Entry{std::move(what), std::move(task), kind});
  due_.emplace(id, due);
  return id;
}

void Scheduler::cancel(TaskId id) {
  const auto it = due_.find(id);
  if (it == due_.end()) return;
  queue_.erase(Key{it->second, id});
  due_.erase(it);
}

std::optional<Time> Scheduler::next_due(std::optional<Kind> skip) const {
  // Slices are one per vCPU: skipping them looks at a handful of entries at most.
  for (const auto& [key, entry] : queue_) {
    if (!skip || entry.kind != *skip) return key.first;
  }
  return std::nullopt;
}

bool Scheduler::step() {
  if (queue_.empty()) return false;
  auto first = queue_.begin();
  const auto [when, id] = first->first;
  Entry entry = std::move(first->second);
  queue_.erase(first);
  due_.erase(id);
  now_ = when;
  trace_.add(now_, entry.what);
  entry.task();
  return true;
}

void Scheduler::run_until(Time deadline) {
  while (!queue_.empty() && queue_.begin()->first.first <= deadline) step();
  now_ = std::max(now_, deadline);
}

}  // namespace vmft::sim
