#pragma once
// --on-live CMD: a command run when a side goes live, as keepalived's notify scripts are, to
// move a floating address to it, say. It runs through /bin/sh on a process of its own, with
// VMFT_PAIR, VMFT_ID, VMFT_ROLE and VMFT_EPOCH in its environment; vmft neither waits for it
// before serving nor stops it, and logs how it ended.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace vmft::host {

class OnLive {
 public:
  /// `command` empty: nothing is ever run.
  explicit OnLive(std::string command) : command_(std::move(command)) {}
  /// Does not wait for a command still running (it is left to finish on its own).
  ~OnLive();
  OnLive(const OnLive&) = delete;
  OnLive& operator=(const OnLive&) = delete;

  /// Starts the command (once; later calls do nothing). `role` is "primary" or "backup".
  void run(const std::string& pair, const std::string& id, const std::string& role, uint64_t epoch);

 private:
  std::string command_;
  bool ran_ = false;
  std::thread waiter_;
  /// Set when this object goes: the waiter then logs nothing more.
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> finished_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace vmft::host
