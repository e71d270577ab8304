#include "vmft/hypervisor/OutputGate.h"

namespace vmft::hypervisor {

// Under the mutex, so that a send released by an acknowledgement never overtakes one made
// before it.
void OutputGate::pass(Send& send) {
  switch (send.kind) {
    case Send::Kind::kUdp: net_.send_udp(send.conn_or_ip, send.port, std::move(send.data)); break;
    case Send::Kind::kTcp: net_.send_tcp(send.conn_or_ip, std::move(send.data)); break;
    case Send::Kind::kClose: net_.close_tcp(send.conn_or_ip); break;
    case Send::Kind::kFrame: net_.send_frame(std::move(send.data)); break;
    case Send::Kind::kConsole:
      if (console_) console_(send.seq, send.data);
      break;
  }
}

void OutputGate::submit(Send send) {
  std::lock_guard lock(mutex_);
  submitted_seq_ = send.seq;
  if (held_.empty() && (open_ || send.seq <= acked_)) return pass(send);
  held_bytes_ += send.data.size();
  send.held_at = std::chrono::steady_clock::now();
  held_.push_back(std::move(send));
}

void OutputGate::send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) {
  submit({Send::Kind::kUdp, hold_seq_.load(std::memory_order_relaxed), peer_ip, peer_port,
          std::move(data)});
}

void OutputGate::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  submit({Send::Kind::kTcp, hold_seq_.load(std::memory_order_relaxed), conn, 0, std::move(data)});
}

void OutputGate::close_tcp(uint32_t conn) {
  submit({Send::Kind::kClose, hold_seq_.load(std::memory_order_relaxed), conn, 0, {}});
}

void OutputGate::send_frame(std::vector<uint8_t> frame) {
  submit({Send::Kind::kFrame, hold_seq_.load(std::memory_order_relaxed), 0, 0, std::move(frame)});
}

void OutputGate::write_console(std::span<const uint8_t> bytes) {
  submit({Send::Kind::kConsole,
          hold_seq_.load(std::memory_order_relaxed),
          0,
          0,
          {bytes.begin(), bytes.end()}});
}

void OutputGate::acknowledged(uint64_t seq) {
  std::lock_guard lock(mutex_);
  acked_ = std::max(acked_, seq);
  while (!held_.empty() && (open_ || held_.front().seq <= acked_)) {
    held_bytes_ -= held_.front().data.size();
    pass(held_.front());
    held_.pop_front();
  }
}

void OutputGate::open() {
  {
    std::lock_guard lock(mutex_);
    open_ = true;
  }
  acknowledged(0);
}

void OutputGate::hold_again(uint64_t seq) {
  std::lock_guard lock(mutex_);
  open_ = false;
  acked_ = seq;
}

uint64_t OutputGate::left_through() const {
  std::lock_guard lock(mutex_);
  const uint64_t holding = hold_seq_.load(std::memory_order_acquire);
  return submitted_seq_ < holding ? std::min(acked_, holding - 1) : acked_;
}

size_t OutputGate::held() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

size_t OutputGate::held_bytes() const {
  std::lock_guard lock(mutex_);
  return held_bytes_;
}

std::chrono::steady_clock::duration OutputGate::oldest_held_age() const {
  std::lock_guard lock(mutex_);
  if (held_.empty()) return {};
  return std::chrono::steady_clock::now() - held_.front().held_at;
}

}  // namespace vmft::hypervisor
