#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <thread>

namespace vmft::host {

/// A side's asio on its own thread, SIGINT, SIGTERM and SIGHUP as a clean stop, and a status
/// line at a steady interval and on SIGUSR1.
class IoThread {
 public:
  IoThread();
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  asio::io_context& io() { return io_; }

  /// Calls `f` on the io thread at the first of SIGINT, SIGTERM and SIGHUP, having logged it.
  void on_signal(std::function<void()> f);
  /// `f` writes a status line, given the seconds since the last one; every `seconds` (none if
  /// 0) and at each SIGUSR1.
  void every(double seconds, std::function<void(double)> f);

  void start();
  /// No io callback runs once it returns.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;

  void schedule();
  void wait_for_status_signal();
  void write_status();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::signal_set signals_;
  asio::signal_set status_signal_;
  asio::steady_timer status_;
  Clock::time_point last_status_;
  Clock::duration interval_{};
  std::function<void(double)> status_fn_;
  std::thread thread_;
};

}  // namespace vmft::host
