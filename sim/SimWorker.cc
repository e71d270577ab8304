#include "vmft/sim/SimWorker.h"

namespace vmft::sim {

SimWorker::SimWorker(Scheduler& scheduler, std::string name)
    : scheduler_(scheduler), name_(std::move(name)), fiber_([this](Fiber&) { body(); }) {}

SimWorker::~SimWorker() { finish(); }

void SimWorker::finish() {
  stopping_ = true;
  if (!started_) return;
  while (!fiber_.done() && fiber_.resume()) {
  }
}

void SimWorker::body() {
  for (;;) {
    while (tasks_.empty() && !stopping_) park();
    if (stopping_) return;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    task();
  }
}

void SimWorker::park() { fiber_.yield(); }

void SimWorker::post(std::function<void()> task) {
  if (stopping_) return;
  tasks_.push_back(std::move(task));
  schedule_run();
}

void SimWorker::stop() {
  stopping_ = true;
  schedule_run();
}

void SimWorker::schedule_run() {
  if (run_scheduled_ || killed_) return;
  run_scheduled_ = true;
  scheduler_.after(Time(0), name_ + " runs", [this] { run(); });
}

void SimWorker::run() {
  run_scheduled_ = false;
  if (killed_) return;
  if (paused_) {
    run_held_ = true;
    return;
  }
  if (fiber_.done()) return;
  started_ = true;
  fiber_.resume();
  if (after_running_) after_running_();
}

bool SimWorker::wait(ft::Completion& done) {
  done.on_set([this] { schedule_run(); });
  while (!done.is_set() && !stopping_) park();
  done.on_set(nullptr);
  return done.is_set();
}

void SimWorker::pause() {
  paused_ = true;
  scheduler_.note(name_ + ": paused");
}

void SimWorker::resume() {
  paused_ = false;
  scheduler_.note(name_ + ": resumed");
  if (run_held_) {
    run_held_ = false;
    schedule_run();
  }
}

void SimWorker::kill() {
  killed_ = true;
  scheduler_.note(name_ + ": killed");
}

ft::Clock::TimePoint SimWorker::Clock::now() {
  return TimePoint(std::chrono::duration_cast<Duration>(worker_.scheduler_.now()));
}

void SimWorker::Clock::sleep_for(Duration d) {
  SimWorker& worker = worker_;
  const Time until = worker.scheduler_.now() + std::chrono::duration_cast<Time>(d);
  worker.scheduler_.at(until, worker.name_ + " wakes from a sleep",
                       [&worker] { worker.schedule_run(); });
  while (worker.scheduler_.now() < until && !worker.stopping_) worker.park();
}

}  // namespace vmft::sim
