#include "vmft/devices/TapNetwork.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace vmft::devices {

namespace {

int open_tap(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "cannot open tap '" + ifname + "': a name of 1 to " +
                                std::to_string(IFNAMSIZ - 1) + " characters");
  }
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open tap " + ifname + ": /dev/net/tun");
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "cannot open tap " + ifname);
  }
  return fd;
}

}  // namespace

TapNetwork::TapNetwork(asio::io_context& io, const std::string& ifname, FrameConfig config,
                       Sink sink, FrameFaultRates faults)
    : config_(config),
      sink_(std::move(sink)),
      io_(io),
      tap_(io, open_tap(ifname)),
      in_release_(io),
      out_release_(io),
      buffer_(65536) {
  if (faults.any()) {
    in_faults_.emplace(faults);
    faults.seed = ~faults.seed;  // the other direction rolls its own dice
    out_faults_.emplace(faults);
  }
}

void TapNetwork::start() {
  if (reading_) return;
  reading_ = true;
  read_next();
}

void TapNetwork::start_standby() {
  {
    std::lock_guard lock(standby_mutex_);
    standby_ = true;
  }
  start();
}

std::optional<size_t> after_last_logged(const std::deque<std::vector<uint8_t>>& heard,
                                        const std::deque<std::vector<uint8_t>>& last) {
  if (last.empty()) return std::nullopt;
  for (size_t i = heard.size(); i-- > 0;) {
    if (heard[i] != last.back()) continue;
    if (last.size() >= 2 && i >= 1 && heard[i - 1] != last[last.size() - 2]) continue;
    return i + 1;
  }
  return std::nullopt;
}

size_t TapNetwork::take_over(const std::deque<std::vector<uint8_t>>& last_logged) {
  std::lock_guard lock(standby_mutex_);
  sink_({VMFT_NIC_KIND_LINK, 0, 0, 0, {}});
  size_t from = 0;
  if (!last_logged.empty()) {
    const auto after = after_last_logged(heard_, last_logged);
    from = after ? *after : heard_.size();
  }
  const size_t missed = heard_.size() - from;
  for (size_t i = from; i < heard_.size(); ++i) {
    undelivered_.fetch_add(1, std::memory_order_relaxed);
    sink_({VMFT_NIC_KIND_FRAME, 0, 0, 0, std::move(heard_[i])});
  }
  heard_.clear();
  standby_ = false;
  return missed;
}

// One read is one frame. A frame longer than the MTU allows is read whole (into a buffer
// larger than any frame) and dropped.
void TapNetwork::read_next() {
  tap_.async_read_some(asio::buffer(buffer_), [this](const asio::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (ec && ec != asio::error::interrupted && ec != asio::error::would_block) {
      // The device went away (deleted, or its namespace): nothing more will come, and reading
      // again would only spin.
      spdlog::error("tap: cannot read frames any more: {}", ec.message());
      return;
    }
    if (!ec) {
      if (n < VMFT_NIC_ETH_HEADER || n > config_.max_frame() ||
          undelivered_.load(std::memory_order_relaxed) >= kMaxUndelivered) {
        dropped_in_.fetch_add(1, std::memory_order_relaxed);
      } else if (in_faults_) {
        const auto take = [this](std::vector<uint8_t> f) { take_in(std::move(f)); };
        in_faults_->apply({buffer_.begin(), buffer_.begin() + n}, take);
        if (in_faults_->holding()) {
          in_release_.expires_after(kReorderHold);
          in_release_.async_wait([this, take](const asio::error_code& e) {
            if (!e) in_faults_->release(take);
          });
        }
      } else {
        take_in({buffer_.begin(), buffer_.begin() + n});
      }
    }
    read_next();
  });
}

void TapNetwork::take_in(std::vector<uint8_t> frame) {
  std::lock_guard lock(standby_mutex_);
  if (standby_) {
    if (heard_.size() == kHeardFrames) heard_.pop_front();
    heard_.push_back(std::move(frame));
    return;
  }
  undelivered_.fetch_add(1, std::memory_order_relaxed);
  sink_({VMFT_NIC_KIND_FRAME, 0, 0, 0, std::move(frame)});
}

void TapNetwork::send_frame(std::vector<uint8_t> frame) {
  if (!out_faults_) return write_out(frame);
  std::lock_guard lock(out_mutex_);
  out_faults_->apply(std::move(frame), [this](std::vector<uint8_t> f) { write_out(f); });
  if (out_faults_->holding()) asio::post(io_, [this] { release_out(); });
}

// On the io thread: a held send goes on after kReorderHold if no other send took it along.
void TapNetwork::release_out() {
  out_release_.expires_after(kReorderHold);
  out_release_.async_wait([this](const asio::error_code& e) {
    if (e) return;
    std::lock_guard lock(out_mutex_);
    out_faults_->release([this](std::vector<uint8_t> f) { write_out(f); });
  });
}

void TapNetwork::write_out(const std::vector<uint8_t>& frame) {
  if (::write(tap_.native_handle(), frame.data(), frame.size()) !=
      static_cast<ssize_t>(frame.size())) {
    dropped_out_.fetch_add(1, std::memory_order_relaxed);
  }
}

// Only frames this device read count: the guest is also handed events that never were (the
// link event at a failover, frames a backup replayed or a snapshot carried), and a count that
// went below zero would wrap, and every frame after it be dropped as if the guest were behind.
void TapNetwork::delivered(const NetEvent& event) {
  if (event.kind != VMFT_NIC_KIND_FRAME) return;
  size_t n = undelivered_.load(std::memory_order_relaxed);
  while (n > 0 && !undelivered_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

}  // namespace vmft::devices
