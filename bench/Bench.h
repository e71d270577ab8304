#pragma once
// What the sections of vmft-bench share: the options, where the programs are, the figures'
// statistics, and how a failed run stops the benchmark (with the outputs that show why).

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ShellCommand.h"
#include "Subprocess.h"
#include "VmftProcess.h"

namespace vmft::bench {

using integration::Duration;

// ---- Limits on waits (none is a figure: each only bounds a wait for what should happen) ----

inline constexpr Duration kStartTimeout{10000};  // for a process to print what it listens on
inline constexpr Duration kExitTimeout{300000};  // for a coremark run to finish, or a backup to
                                                 // catch up
inline constexpr Duration kStopTimeout{10000};   // after SIGTERM before a process gets SIGKILL
inline constexpr Duration kLoadTimeout{120000};  // one redis-benchmark or echo client run
inline constexpr Duration kReplyTimeout{10000};  // one redis-cli command

/// The command line, parsed (BenchOptions.cc).
struct Options {
  int runs = 3;
  int kills = 20;     // kills of the failover section: the issue asks for at least 20
  int joins = 5;      // joins per guest size
  int catchups = 10;  // kills of the catch-up part of the failover section
  std::filesystem::path build_dir = "build";
  bool others = true;  // everything but the failover, join and frame NIC sections
  bool failover = true;
  bool join = true;
  bool frames = true;
};

/// Parses argv; prints the usage and exits 0 for --help, exits 2 for a bad command line.
Options parse_options(int argc, char** argv);

/// The programs a run uses besides vmft (the harness's VMFT_BINARY) and the guests.
struct Programs {
  std::string bare;         // vmft-bench-bare
  std::string echo_rtt;     // vmft-bench-echo-rtt
  std::string incr_client;  // vmft-incr-client
  std::filesystem::path guests;
  std::string guest(const std::string& name) const { return (guests / (name + ".elf")).string(); }
};

/// A scratch directory for logs, removed at the end.
const std::filesystem::path& workdir();

/// The network lab that is up (NetLab::name()), for a signal that stops the benchmark to
/// remove; empty: none. Any thread may call these.
void set_lab_to_remove(const std::string& name);
std::string lab_to_remove();

// ---- Failures ----

/// What a process wrote, shown when a run fails.
struct Output {
  std::string name;  // e.g. "primary"
  std::string text;
};
Output output_of(const std::string& name, const integration::VmftProcess& process);
Output output_of(const std::string& name, const integration::Subprocess& process);
Output output_of(const std::string& name, const integration::CommandResult& result);

/// A run failed: the benchmark stops, non-zero, after showing `shown` (the outputs of the run
/// named `what`) and saying `why`.
struct Failure : std::runtime_error {
  Failure(std::string why, std::string what, std::vector<Output> shown)
      : std::runtime_error(std::move(why)), what_run(std::move(what)), shown(std::move(shown)) {}
  std::string what_run;
  std::vector<Output> shown;
};

/// Stops the benchmark: "bench: FAILED: <why>", after the outputs of the `what` run.
[[noreturn]] void fail(const std::string& why, const std::string& what = "",
                       std::vector<Output> shown = {});
/// The run `what` did not complete: its outputs, and that.
[[noreturn]] void fail_run(const std::string& what, std::vector<Output> shown);

// ---- Processes ----

/// SIGTERM, or SIGKILL (with a word) if it still runs kStopTimeout later; returns its exit
/// code (128 + n for signal n).
int stop_process(integration::VmftProcess& process);
int stop_process(integration::Subprocess& process);

/// Waits up to kExitTimeout for `process` to exit by itself; one that does not fails the run
/// `what`, showing `shown`.
int finish_process(integration::VmftProcess& process, const std::string& what,
                   const std::vector<Output>& shown);
int finish_process(integration::Subprocess& process, const std::string& what,
                   const std::vector<Output>& shown);

/// `wrapper` followed by `argv`.
std::vector<std::string> wrapped(const std::vector<std::string>& wrapper,
                                 const std::vector<std::string>& argv);

// ---- Figures ----

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> values);
/// The largest of `values`; 0 for none.
double max_of(const std::vector<double>& values);
/// "met" or "NOT met".
const char* verdict(bool met);
/// The number `text` holds (a figure a process printed); fails the benchmark if it is none.
double number(const std::string& text, const std::string& what);

}  // namespace vmft::bench
