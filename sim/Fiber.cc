#include "vmft/sim/Fiber.h"

#include <stdexcept>
#include <utility>

namespace vmft::sim {

Fiber::Fiber(std::function<void(Fiber&)> body) : body_(std::move(body)) {}

Fiber::~Fiber() {
  if (thread_.joinable()) thread_.join();  // done_: the body has returned
}

void Fiber::hand_over(Turn to, std::unique_lock<std::mutex>& lock) {
  turn_ = to;
  cv_.notify_all();
  cv_.wait(lock, [&] { return turn_ != to; });
}

bool Fiber::resume() {
  std::unique_lock lock(mutex_);
  if (done_) throw std::logic_error("resume() of a fiber whose body returned");
  if (!started_) {
    started_ = true;
    thread_ = std::thread([this] {
      {
        std::unique_lock body_lock(mutex_);
        cv_.wait(body_lock, [&] { return turn_ == Turn::kBody; });
      }
      try {
        body_(*this);
      } catch (...) {
        std::lock_guard error_lock(mutex_);
        error_ = std::current_exception();
      }
      std::lock_guard end_lock(mutex_);
      done_ = true;
      turn_ = Turn::kCaller;
      cv_.notify_all();
    });
  }
  hand_over(Turn::kBody, lock);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return !done_;
}

void Fiber::yield() {
  std::unique_lock lock(mutex_);
  hand_over(Turn::kCaller, lock);
}

bool Fiber::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

}  // namespace vmft::sim
