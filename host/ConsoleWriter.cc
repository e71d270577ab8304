#include "vmft/host/ConsoleWriter.h"

namespace vmft::host {

ConsoleWriter::ConsoleWriter(Write write) : write_(std::move(write)), thread_([this] { run(); }) {}

ConsoleWriter::~ConsoleWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ConsoleWriter::write(uint64_t seq, std::span<const uint8_t> bytes) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(seq, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  }
  cv_.notify_all();
}

uint64_t ConsoleWriter::released_through(uint64_t seq) const {
  std::lock_guard lock(mutex_);
  const uint64_t oldest = writing_ ? writing_seq_ : queue_.empty() ? 0 : queue_.front().first;
  if (oldest == 0 || oldest > seq) return seq;
  return oldest - 1;
}

void ConsoleWriter::flush() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

// Writes what is queued, in order; once stopping, what is left too.
void ConsoleWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and all written
    auto [seq, bytes] = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    writing_seq_ = seq;
    lock.unlock();
    write_(bytes);
    lock.lock();
    writing_ = false;
    cv_.notify_all();  // flush() waits for this
  }
}

}  // namespace vmft::host
