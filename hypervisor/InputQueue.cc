#include "vmft/hypervisor/InputQueue.h"

namespace vmft::hypervisor {

void InputQueue::push(HostInput input) {
  {
    std::lock_guard lock(mutex_);
    inputs_.push_back(std::move(input));
    attention_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
}

void InputQueue::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_release);
    attention_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
}

void InputQueue::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_one();
}

std::deque<HostInput> InputQueue::take_all() {
  std::lock_guard lock(mutex_);
  std::deque<HostInput> out;
  out.swap(inputs_);
  attention_.store(stop_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return out;
}

void InputQueue::wait() {
  std::unique_lock lock(mutex_);
  const auto arrived = [this] {
    return !inputs_.empty() || stop_.load(std::memory_order_relaxed) || wake_;
  };
  if (idle_) {
    while (!arrived()) {
      lock.unlock();
      idle_();
      lock.lock();
    }
  } else {
    cv_.wait(lock, arrived);
  }
  wake_ = false;
}

}  // namespace vmft::hypervisor
