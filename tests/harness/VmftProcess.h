#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "Subprocess.h"

namespace vmft::integration {

/// The path of a built guest: VMFT_GUEST_DIR/<name>.elf, or `name` itself if it is a path (has
/// a '/'), for a guest built elsewhere.
std::string guest_path(const std::string& name);

/// How a `vmft` command that was run to its end finished.
struct FinishedVmft {
  int exit_code = -1;  ///< -1 if it did not finish within the timeout (it is then killed)
  std::string out;
  std::string err;
};
/// Runs `vmft <args...>` to its end (at most `timeout`).
FinishedVmft run_vmft(const std::vector<std::string>& args, Duration timeout);

/// A lifecycle event a side of a pair wrote: "event", "time", "pair", "id", "role" and the
/// event's own fields (host/include/vmft/host/Events.h lists them).
using Event = nlohmann::json;

/// A real `vmft run` process. The guest console is its stdout, vmft's own log its stderr. A side
/// of a pair (`vmft primary` or `vmft backup`) also writes its lifecycle events, as JSON lines,
/// to a pipe this reads (`--events fd:3`), unless the test gave it --events itself: tests wait
/// for what a side does through these, not through the sentences of its log.
class VmftProcess {
 public:
  /// Starts `vmft run <guest_path(guest)> <args...>`.
  VmftProcess(const std::string& guest, const std::vector<std::string>& args);
  /// Starts `vmft <command> <guest_path(guest)> <args...>` (command: run, record, replay).
  VmftProcess(const std::string& command, const std::string& guest,
              const std::vector<std::string>& args);
  /// The same through `wrapper` (e.g. {"ip", "netns", "exec", NAME}, which execs vmft).
  VmftProcess(const std::vector<std::string>& wrapper, const std::string& command,
              const std::string& guest, const std::vector<std::string>& args);
  /// Starts `vmft <args...>`, for a command that runs no guest (args[0] names it: arbiter).
  explicit VmftProcess(const std::vector<std::string>& args);
  /// The same through `wrapper`.
  VmftProcess(const std::vector<std::string>& wrapper, const std::vector<std::string>& args);

  /// The port of the socket vmft bound for `protocol` ("tcp" or "udp"), read from its
  /// "listening on <protocol> 127.0.0.1:<port>" log line; nullopt if that line does not
  /// appear within the timeout.
  std::optional<uint16_t> listening_port(const std::string& protocol, Duration timeout);
  /// Waits until the guest console holds `text`; returns whether it did within the timeout.
  bool wait_for_console(const std::string& text, Duration timeout);
  /// Waits until vmft's log holds `text`; returns whether it did within the timeout.
  bool wait_for_log(const std::string& text, Duration timeout);
  /// Waits until `text` appears in vmft's log at or after byte `from` (the log's size taken
  /// earlier, so that only lines logged since count).
  bool wait_for_log(const std::string& text, size_t from, Duration timeout);
  /// Waits until `done` holds for vmft's whole log.
  bool wait_for_log(const std::function<bool(const std::string&)>& done, Duration timeout);

  /// Waits until the side has written an event named `name` whose fields include every one of
  /// `fields` (e.g. {{"epoch", 2}}), as its `from`-th event or later (from: events().size()
  /// taken earlier). Returns that event, or nullopt if none came within the timeout.
  std::optional<Event> wait_for_event(const std::string& name, const nlohmann::json& fields,
                                      size_t from, Duration timeout);
  std::optional<Event> wait_for_event(const std::string& name, const nlohmann::json& fields,
                                      Duration timeout) {
    return wait_for_event(name, fields, 0, timeout);
  }
  std::optional<Event> wait_for_event(const std::string& name, Duration timeout) {
    return wait_for_event(name, nlohmann::json::object(), 0, timeout);
  }
  /// Waits until the side has written any event named one of `names` (as its `from`-th or
  /// later), e.g. {"alone", "lost"} for whatever the arbiter decided; returns it.
  std::optional<Event> wait_for_any_event(const std::vector<std::string>& names, size_t from,
                                          Duration timeout);
  /// The events written so far, in order.
  std::vector<Event> events() const;
  /// Whether an event named `name` with `fields` was written (as the `from`-th or later).
  bool has_event(const std::string& name, const nlohmann::json& fields = nlohmann::json::object(),
                 size_t from = 0) const;

  std::string console() const { return process_.stdout_text(); }
  std::string log() const { return process_.stderr_text(); }

  void terminate();  ///< SIGTERM: asks vmft to stop cleanly
  void interrupt();  ///< SIGINT, as Ctrl-C sends
  void kill();       ///< SIGKILL
  /// SIGSTOP, then waits until every thread of vmft has stopped (its sockets stay open).
  /// Returns whether they all did within the timeout.
  bool freeze(Duration timeout);
  void thaw();  ///< SIGCONT, after freeze()

  /// Moves every thread of vmft onto CPU `cpu` at `niceness` (threads it starts later inherit
  /// both), so that a test can make one process slower than another. Returns whether every
  /// thread was moved.
  bool confine(int cpu, int niceness);
  /// The same for vmft's main thread only, which runs the guest's vCPU: the guest slows
  /// down, the thread that serves vmft's sockets does not.
  bool confine_vcpu(int cpu, int niceness);
  /// Undoes confine_vcpu: vmft's main thread may run again on every CPU this process may, at
  /// this process's own niceness. Lowering a niceness takes a right (may_lower_niceness()).
  bool release_vcpu();

  pid_t pid() const { return process_.pid(); }
  /// vmft's resident memory (VmRSS in /proc/<pid>/status), or nullopt once it has gone.
  std::optional<uint64_t> resident_bytes() const;
  /// A bound on resident_bytes() for a vmft that needs `bytes`, on this build: under ASan,
  /// freed memory waits in a 256 MiB quarantine and every byte has an eighth of one in shadow;
  /// under TSan, every byte touched has several in shadow (a flood that fills the host's
  /// bounded input queue, 1024 datagrams of 60 KB, costs some 300 MiB more there).
  static constexpr uint64_t resident_allowance(uint64_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    return bytes + bytes / 8 + (256u << 20);
#elif defined(__SANITIZE_THREAD__)
    return 2 * bytes;
#else
    return bytes;
#endif
  }
  /// vmft's exit code, or nullopt if it is still running at the timeout.
  std::optional<int> wait_for_exit(Duration timeout);

 private:
  struct Argv {
    std::vector<std::string> argv;  ///< the whole command line, wrapper and vmft included
  };
  explicit VmftProcess(Argv command);
  std::optional<Event> wait_for_first(const std::function<bool(const Event&)>& wanted, size_t from,
                                      Duration timeout);

  Subprocess process_;
};

/// Whether this process may set a thread's niceness back down to its own, as
/// VmftProcess::release_vcpu does: with CAP_SYS_NICE, or an RLIMIT_NICE that allows it.
bool may_lower_niceness();

/// The first CPU this process may run on: where a test or benchmark confines processes it
/// wants on one CPU (VmftProcess::confine).
int first_allowed_cpu();

}  // namespace vmft::integration
