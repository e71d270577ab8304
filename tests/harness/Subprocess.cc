#include "Subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace vmft::integration {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Resolved in the parent: between fork and exec only async-signal-safe calls are allowed,
// and execvp's PATH search is not one.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("cannot start " + name + ": not found in PATH");
}

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Runs in the child: the fds become stdin/stdout/stderr (and fd 3, if fd3 is not -1), then the
// program replaces it.
[[noreturn]] void exec_child(const std::string& path, const std::vector<char*>& argv, pid_t parent,
                             int stdin_fd, int stdout_fd, int stderr_fd, int fd3) {
  ::setpgid(0, 0);
  // A signal mask survives exec: a parent that waits for SIGINT and SIGTERM on a thread of its
  // own (vmft-bench) blocks them, and its children must still get them.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  ::dup2(stdin_fd, STDIN_FILENO);
  ::dup2(stdout_fd, STDOUT_FILENO);
  ::dup2(stderr_fd, STDERR_FILENO);
  if (fd3 == 3) {
    ::fcntl(3, F_SETFD, 0);  // dup2 onto itself would leave it close-on-exec
  } else if (fd3 >= 0) {
    ::dup2(fd3, 3);
  }
  ::execve(path.c_str(), argv.data(), environ);
  static const char kMessage[] = "exec failed\n";
  [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(127);
}

}  // namespace

Subprocess::Subprocess(const std::vector<std::string>& argv, bool capture_fd3) {
  if (argv.empty()) throw std::invalid_argument("Subprocess needs a program to run");
  const std::string path = find_program(argv[0]);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  std::array<int, 2> out_pipe{}, err_pipe{}, fd3_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0 ||
      (capture_fd3 && ::pipe2(fd3_pipe.data(), O_CLOEXEC) != 0)) {
    throw_errno("pipe2");
  }
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null < 0) throw_errno("open /dev/null");

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw_errno("fork");
  if (pid_ == 0) exec_child(path, args, parent, dev_null, out_pipe[1], err_pipe[1], fd3_pipe[1]);

  ::setpgid(pid_, pid_);  // also here, so the group exists before any signal_group()
  ::close(dev_null);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_.fd = out_pipe[0];
  err_.fd = err_pipe[0];
  if (capture_fd3) {
    ::close(fd3_pipe[1]);
    fd3_ = {fd3_pipe[0], true, {}};
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (pidfd_ < 0 || wake_fd_ < 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    throw_errno("pidfd_open/eventfd");
  }
  reader_ = std::thread([this] { drain_pipes(); });
}

Subprocess::~Subprocess() {
  {
    std::lock_guard lock(exit_mutex_);
    if (!exit_code_) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  reader_.join();
  ::close(out_.fd);
  ::close(err_.fd);
  if (fd3_.fd >= 0) ::close(fd3_.fd);
  ::close(pidfd_);
  ::close(wake_fd_);
}

void Subprocess::drain_pipes() {
  for (;;) {
    std::array<pollfd, 4> fds{};
    std::array<Stream*, 3> streams{};
    size_t count = 0;
    for (Stream* stream : {&out_, &err_, &fd3_}) {
      if (!stream->open) continue;
      streams[count] = stream;
      fds[count++] = {stream->fd, POLLIN, 0};
    }
    if (count == 0) break;
    fds[count] = {wake_fd_, POLLIN, 0};
    if (::poll(fds.data(), count + 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[count].revents != 0) break;
    for (size_t i = 0; i < count; i++) {
      if (fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n > 0) {
        streams[i]->text.append(buffer, static_cast<size_t>(n));
      } else {
        streams[i]->open = false;
      }
      output_changed_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  out_.open = false;
  err_.open = false;
  fd3_.open = false;
  output_changed_.notify_all();
}

std::string Subprocess::stdout_text() const {
  std::lock_guard lock(mutex_);
  return out_.text;
}

std::string Subprocess::stderr_text() const {
  std::lock_guard lock(mutex_);
  return err_.text;
}

std::string Subprocess::fd3_text() const {
  std::lock_guard lock(mutex_);
  return fd3_.text;
}

bool Subprocess::wait_for(const Stream& stream, const std::function<bool(const std::string&)>& done,
                          Duration timeout) {
  std::unique_lock lock(mutex_);
  output_changed_.wait_for(lock, scaled(timeout),
                           [&] { return done(stream.text) || !stream.open; });
  return done(stream.text);
}

bool Subprocess::wait_for_stdout(const std::function<bool(const std::string&)>& done,
                                 Duration timeout) {
  return wait_for(out_, done, timeout);
}

bool Subprocess::wait_for_stderr(const std::function<bool(const std::string&)>& done,
                                 Duration timeout) {
  return wait_for(err_, done, timeout);
}

bool Subprocess::wait_for_fd3(const std::function<bool(const std::string&)>& done,
                              Duration timeout) {
  return wait_for(fd3_, done, timeout);
}

void Subprocess::signal(int signo) {
  std::lock_guard lock(exit_mutex_);
  if (!exit_code_) ::kill(pid_, signo);
}

void Subprocess::signal_group(int signo) {
  std::lock_guard lock(exit_mutex_);
  if (!exit_code_) ::kill(-pid_, signo);
}

std::optional<int> Subprocess::wait_for_exit(Duration timeout) {
  const auto deadline = Clock::now() + scaled(timeout);
  for (;;) {
    {
      std::lock_guard lock(exit_mutex_);
      if (exit_code_) break;
    }
    // Polled without the lock, so that other threads can signal the child meanwhile.
    pollfd exited{pidfd_, POLLIN, 0};
    const int ready = ::poll(&exited, 1, milliseconds_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    std::lock_guard lock(exit_mutex_);
    if (exit_code_) break;  // another thread reaped it
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) throw_errno("waitpid");
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // The pipes close once every process holding them has gone; normally that is now.
  std::unique_lock lock(mutex_);
  output_changed_.wait_until(lock, deadline,
                             [&] { return !out_.open && !err_.open && !fd3_.open; });
  return exit_code_;
}

}  // namespace vmft::integration
