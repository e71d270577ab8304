#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vmft::integration {

using Duration = std::chrono::milliseconds;

#ifndef VMFT_TEST_TIME_SCALE
#define VMFT_TEST_TIME_SCALE 1
#endif
/// A test's timeout on this build: the sanitized builds run vmft several times slower, so
/// every wait of the test support (for output, an exit, a reply, an acknowledgement) is
/// stretched by VMFT_TEST_TIME_SCALE (cmake/sanitize.cmake). A timeout only bounds a wait for
/// something that should happen, so a longer one changes no verdict, only how long a failing
/// test takes to say so.
constexpr Duration scaled(Duration timeout) { return timeout * VMFT_TEST_TIME_SCALE; }

/// A child process with stdout and stderr captured through pipes, and optionally its fd 3 too
/// (where `vmft --events fd:3` writes its lifecycle events). A reader thread drains every pipe
/// all the time, so the child never blocks on a full pipe; every wait is for a condition on
/// the captured output or on the child's exit, bounded by a timeout.
/// Any thread may call any method.
class Subprocess {
 public:
  /// Starts argv[0] (looked up in PATH) with stdin from /dev/null, as the leader of a new
  /// process group so that signal_group() also reaches its children. The child is killed if
  /// the thread that started it dies. Throws std::runtime_error if it cannot be started.
  /// With `capture_fd3`, the child's fd 3 is a third pipe, read as fd3_text().
  explicit Subprocess(const std::vector<std::string>& argv, bool capture_fd3 = false);
  /// Kills the process group if the child has not been reaped yet, then reaps it.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  std::string stdout_text() const;
  std::string stderr_text() const;
  std::string fd3_text() const;  ///< empty unless constructed with capture_fd3

  /// Waits until `done(captured stdout)` (or stderr) holds, or the timeout passes, or the
  /// stream ends without it holding. Returns whether it held.
  bool wait_for_stdout(const std::function<bool(const std::string&)>& done, Duration timeout);
  bool wait_for_stderr(const std::function<bool(const std::string&)>& done, Duration timeout);
  bool wait_for_fd3(const std::function<bool(const std::string&)>& done, Duration timeout);

  void signal(int signo);        ///< to the child only
  void signal_group(int signo);  ///< to its whole process group

  /// Waits until the child has exited and its output is fully captured. Returns its exit
  /// code (128 + n if signal n killed it), or nullopt if it is still running at the timeout.
  std::optional<int> wait_for_exit(Duration timeout);

 private:
  struct Stream {
    int fd = -1;
    bool open = true;  // false once the pipe has ended, or from the start if there is none
    std::string text;
  };

  void drain_pipes();
  bool wait_for(const Stream& stream, const std::function<bool(const std::string&)>& done,
                Duration timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;         // readable once the child has exited (Linux >= 5.3)
  int wake_fd_ = -1;       // an eventfd that stops the reader thread early
  std::mutex exit_mutex_;  // guards exit_code_: once it is set the pid is reaped, never signalled
  std::optional<int> exit_code_;

  mutable std::mutex mutex_;
  std::condition_variable output_changed_;
  Stream out_;
  Stream err_;
  Stream fd3_{-1, false, {}};
  std::thread reader_;
};

}  // namespace vmft::integration
