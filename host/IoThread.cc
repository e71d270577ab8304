#include "vmft/host/IoThread.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "vmft/host/LiveRun.h"

namespace vmft::host {

IoThread::IoThread()
    : work_(asio::make_work_guard(io_)),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      status_signal_(io_, SIGUSR1),
      status_(io_) {}

void IoThread::on_signal(std::function<void()> f) {
  signals_.async_wait([f = std::move(f)](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signal_name(signo));
    f();
  });
}

void IoThread::every(double seconds, std::function<void(double)> f) {
  status_fn_ = std::move(f);
  last_status_ = Clock::now();
  wait_for_status_signal();
  if (seconds <= 0) return;
  interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  asio::post(io_, [this] { schedule(); });
}

void IoThread::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { io_.run(); });
}

void IoThread::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void IoThread::schedule() {
  status_.expires_after(interval_);
  status_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    write_status();
    schedule();
  });
}

void IoThread::wait_for_status_signal() {
  status_signal_.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;
    write_status();
    wait_for_status_signal();
  });
}

void IoThread::write_status() {
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_status_).count();
  last_status_ = now;
  status_fn_(std::max(seconds, 1e-3));
}

}  // namespace vmft::host
