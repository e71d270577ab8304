#pragma once
// The backup's end of the log channel, as a backup's stop sequence uses it. The real one is an
// adapter over channel::ChannelBackup (host/ChannelEnds.h); tests pass their own.

#include <chrono>

namespace vmft::ft {

class BackupEnd {
 public:
  virtual ~BackupEnd() = default;
  /// After the backup said it leaves: blocks until its goodbye is written (or there was nobody
  /// to say it to), at most `timeout`; returns at once if it did not say so.
  virtual void wait_goodbye(std::chrono::milliseconds timeout) = 0;
  /// Closes the end and wakes every waiter (any thread).
  virtual void shutdown() = 0;
};

}  // namespace vmft::ft
