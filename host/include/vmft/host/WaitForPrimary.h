#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "vmft/channel/BackupEnd.h"

namespace vmft::host {

/// How often a backup still waiting for its primary says so.
inline constexpr auto kStillWaitingInterval = std::chrono::seconds(10);

/// A backup waiting for its primary says so every kStillWaitingInterval, and gives up after
/// `wait_for_primary` seconds (if not 0) by shutting the channel. On a thread of its own, so
/// that the io thread has nothing of it left to run once it is gone.
class WaitForPrimary {
 public:
  /// `pair` and `address` (the primary's) are for messages.
  WaitForPrimary(channel::ChannelBackup& channel, std::string pair, std::string address,
                 double wait_for_primary);
  ~WaitForPrimary();
  WaitForPrimary(const WaitForPrimary&) = delete;
  WaitForPrimary& operator=(const WaitForPrimary&) = delete;

  /// The primary answered, or the backup stops: no more reminders.
  void done();
  /// Whether it gave up (the channel was shut because the deadline passed).
  bool gave_up() const { return gave_up_; }

 private:
  using Clock = std::chrono::steady_clock;

  void watch(double wait_for_primary);

  channel::ChannelBackup& channel_;
  std::string pair_;
  std::string address_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> gave_up_{false};
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace vmft::host
