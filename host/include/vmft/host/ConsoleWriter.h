#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace vmft::host {

/// Writes the guest's console output of a live side of a pair on a thread of its own, in the
/// order it is given, so that the thread that releases it (the io thread, on the backup's
/// acknowledgement) never waits for stdout: a stdout nobody drains would otherwise silence the
/// side's heartbeats. It knows which of the output it was given has been written.
class ConsoleWriter {
 public:
  using Write = std::function<void(std::span<const uint8_t>)>;
  explicit ConsoleWriter(Write write);
  /// Writes everything given to it, then stops its thread.
  ~ConsoleWriter();
  ConsoleWriter(const ConsoleWriter&) = delete;
  ConsoleWriter& operator=(const ConsoleWriter&) = delete;

  /// Any thread: writes `bytes`, the output of log record `seq`, after what came before.
  void write(uint64_t seq, std::span<const uint8_t> bytes);
  /// Any thread: every output of the records through `seq` was released. Returns through which
  /// record they have all left, console output included: `seq`, or less while console output
  /// of a record up to `seq` waits to be written.
  uint64_t released_through(uint64_t seq) const;
  /// Blocks until everything given so far is written.
  void flush();

 private:
  void run();

  Write write_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, std::vector<uint8_t>>> queue_;  ///< not yet written
  bool writing_ = false;  ///< the thread writes what it took off the queue
  uint64_t writing_seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vmft::host
