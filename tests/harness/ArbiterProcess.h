#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "VmftProcess.h"
#include "vmft/arbiter/Arbiter.h"

namespace vmft::integration {

/// A real `vmft arbiter` on an ephemeral port of 127.0.0.1, with a data directory of its own
/// that is removed at the end. A test can kill it and start it again on the same port and
/// directory, as an operator restarts a crashed arbiter.
class ArbiterProcess {
 public:
  static constexpr Duration kStartTimeout{10000};
  static constexpr Duration kExitTimeout{10000};

  /// Starts it; throws std::runtime_error quoting its log if it does not start listening.
  ArbiterProcess() : ArbiterProcess(std::vector<std::string>{}) {}
  /// The same through `wrapper` (e.g. NetLab::in_lab(), where the sides of a pair on the frame
  /// NIC run and reach it on their own 127.0.0.1).
  explicit ArbiterProcess(std::vector<std::string> wrapper);
  ~ArbiterProcess();
  ArbiterProcess(const ArbiterProcess&) = delete;
  ArbiterProcess& operator=(const ArbiterProcess&) = delete;

  /// "127.0.0.1:<port>", for --arbiter.
  std::string address() const;
  /// SIGKILL, and waits until it has gone (and with it the lock on its data directory).
  /// Throws std::runtime_error if it has not gone within kExitTimeout.
  void kill();
  /// Starts it again on the same port and data directory, after kill().
  void restart();
  /// The pair's state, asked of the running arbiter (from this process's network namespace,
  /// so not of one started through a wrapper that enters another). Throws
  /// arbiter::ArbiterUnavailable.
  arbiter::ArbiterState read(const std::string& pair) const;

  VmftProcess& process() { return *process_; }
  /// What every arbiter this object started logged, the killed ones included.
  std::string log() const { return earlier_logs_ + (process_ ? process_->log() : ""); }

 private:
  void start(uint16_t port);

  std::vector<std::string> wrapper_;
  std::filesystem::path data_;
  std::unique_ptr<VmftProcess> process_;
  std::string earlier_logs_;  // of the arbiters killed before this one
  uint16_t port_ = 0;
};

}  // namespace vmft::integration
