#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "VmftProcess.h"

namespace vmft::integration {

/// How a pair is started: both sides run `guest`, with the same --name, the same presence of
/// --udp and --tcp (127.0.0.1:0 each), and `options`.
struct PairSpec {
  std::string guest;
  bool udp = true;
  bool tcp = true;
  std::string name = "test-pair";
  std::vector<std::string> options;              ///< both sides, e.g. {"--peer-timeout", "20000"}
  std::vector<std::string> primary_options;      ///< the primary only, e.g. --status-interval
  std::vector<std::string> backup_side_options;  ///< the backup only, e.g. its own --tap
  /// What both sides run through, e.g. {"ip", "netns", "exec", NAME}; empty: nothing.
  std::vector<std::string> wrapper;
  /// A line the primary's guest prints once it serves (e.g. "counter: ready\n"); empty: none.
  std::string ready_line;
};

/// A real `vmft primary` and, once pair() is called, a matching `vmft backup` connected to
/// it over the logging channel on an ephemeral port of 127.0.0.1. Both are killed when this is
/// destroyed, if they are still running.
class PairProcesses {
 public:
  static constexpr Duration kStartTimeout{10000};
  static constexpr Duration kStopTimeout{10000};

  /// Starts the primary and waits until it has logged its ports (the guest waits for a backup,
  /// so it has not started). Throws std::runtime_error quoting its log if it does not.
  explicit PairProcesses(PairSpec spec);

  /// Starts a matching backup and waits until the primary logged "backup connected" and the
  /// guest printed spec.ready_line. Throws std::runtime_error quoting both logs if not.
  void pair();

  /// The options a matching backup gets besides the guest: --name, --log-connect, the same
  /// --udp/--tcp presence as the primary, and spec.options.
  std::vector<std::string> backup_options() const;
  /// Starts `vmft backup <guest_path(guest)> <options>` (which need not match), for tests of
  /// the handshake; pair() uses it too.
  std::unique_ptr<VmftProcess> start_backup(const std::string& guest,
                                            const std::vector<std::string>& options) const;

  VmftProcess& primary() { return *primary_; }
  VmftProcess& backup() { return *backup_; }  ///< after pair()
  uint16_t log_port() const { return log_port_; }
  uint16_t tcp_port() const { return tcp_port_; }  ///< 0 without --tcp
  uint16_t udp_port() const { return udp_port_; }  ///< 0 without --udp

  struct Exits {
    std::optional<int> primary;  ///< nullopt: still running after kStopTimeout (then killed)
    std::optional<int> backup;
  };
  /// SIGTERM to the primary, then waits for both sides to exit.
  Exits stop();
  /// Waits for both sides to exit on their own (a guest that exits).
  Exits wait_for_exits();

  /// Both sides' logs and the primary's guest console, for failure messages.
  std::string diagnostics() const;

 private:
  std::vector<std::string> side_options() const;

  PairSpec spec_;
  std::unique_ptr<VmftProcess> primary_;
  std::unique_ptr<VmftProcess> backup_;
  uint16_t log_port_ = 0;
  uint16_t tcp_port_ = 0;
  uint16_t udp_port_ = 0;
};

}  // namespace vmft::integration
