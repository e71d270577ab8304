#include "vmft/host/WaitForPrimary.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vmft::host {

WaitForPrimary::WaitForPrimary(channel::ChannelBackup& channel, std::string pair,
                               std::string address, double wait_for_primary)
    : channel_(channel),
      pair_(std::move(pair)),
      address_(std::move(address)),
      thread_([this, wait_for_primary] { watch(wait_for_primary); }) {}

WaitForPrimary::~WaitForPrimary() {
  done();
  thread_.join();
}

void WaitForPrimary::done() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
}

void WaitForPrimary::watch(double wait_for_primary) {
  const auto started = Clock::now();
  const auto deadline = wait_for_primary > 0
                            ? started + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(wait_for_primary))
                            : Clock::time_point::max();
  std::unique_lock lock(mutex_);
  for (auto next = started + kStillWaitingInterval;; next += kStillWaitingInterval) {
    const auto until = std::min(next, deadline);
    if (cv_.wait_until(lock, until, [this] { return done_; })) return;
    const double waited = std::chrono::duration<double>(Clock::now() - started).count();
    if (until == deadline) {
      spdlog::error("no primary of pair '{}' answered at {} within {:.1f} s (--wait-for-primary)",
                    pair_, address_, waited);
      gave_up_ = true;
      channel_.shutdown();
      return;
    }
    spdlog::info("still waiting for the primary of pair '{}' at {} ({:.1f} s so far)", pair_,
                 address_, waited);
  }
}

}  // namespace vmft::host
