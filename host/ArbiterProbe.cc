#include "vmft/host/ArbiterProbe.h"

namespace vmft::host {

ArbiterProbe::ArbiterProbe(std::unique_ptr<arbiter::Arbiter> arbiter, std::string pair)
    : arbiter_(std::move(arbiter)), pair_(std::move(pair)), thread_([this] { probe(); }) {}

ArbiterProbe::~ArbiterProbe() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::optional<bool> ArbiterProbe::reachable() const {
  const int r = reachable_;
  return r < 0 ? std::nullopt : std::optional<bool>(r == 1);
}

void ArbiterProbe::probe() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    bool answered = true;
    try {
      arbiter_->read(pair_);
    } catch (const arbiter::ArbiterUnavailable&) {
      answered = false;
    }
    reachable_ = answered ? 1 : 0;
    lock.lock();
    cv_.wait_for(lock, kArbiterProbeInterval, [this] { return stopping_; });
  }
}

}  // namespace vmft::host
