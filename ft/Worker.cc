#include "vmft/ft/Worker.h"

namespace vmft::ft {

void Completion::set(bool ok) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    ok_ = ok;
    wake = wake_;
  }
  cv_.notify_all();
  if (wake) wake();
}

bool Completion::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, d, [this] { return ok_.has_value(); });
}

bool Completion::is_set() const {
  std::lock_guard lock(mutex_);
  return ok_.has_value();
}

bool Completion::ok() const {
  std::lock_guard lock(mutex_);
  return ok_.value_or(false);
}

void Completion::on_set(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

ThreadWorker::ThreadWorker() : thread_([this] { work(); }) {}

ThreadWorker::~ThreadWorker() { stop(); }

void ThreadWorker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void ThreadWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ThreadWorker::wait(Completion& done) {
  while (!done.wait_for(kStopPoll)) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
  }
  return true;
}

void ThreadWorker::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace vmft::ft
