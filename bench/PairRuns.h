#pragma once
// A primary/backup pair run to its end or stopped: the backup must have executed its primary's
// whole log.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "Bench.h"
#include "PairProcesses.h"

namespace vmft::bench {

/// The --name of the pairs the coremark, echo and counter measurements start.
inline constexpr const char* kPairName = "bench";

/// Both sides' outputs, for failure reports.
std::vector<Output> pair_outputs(const integration::VmftProcess& primary,
                                 const integration::VmftProcess& backup);

/// The backup, which exited with `exit_code`, must have executed its primary's whole log, up to
/// instruction `primary_end` where the primary ended. It ends with a complete replay (exit 0)
/// when the log has an end record, and with the pair broken (exit 4) when the primary closed
/// the channel first, as it does when stopped by a signal; a divergence, or any other end,
/// fails the benchmark.
void check_backup_end(int exit_code, uint64_t primary_end, const integration::VmftProcess& primary,
                      const integration::VmftProcess& backup);

/// Stops a server pair with SIGTERM to the primary, which must exit 0 and say where it stopped;
/// its backup then ends by itself, and is checked as above.
void stop_pair(const std::string& what, integration::VmftProcess& primary,
               integration::VmftProcess& backup);

/// Waits until `process`'s console holds `line`; a process that exits first, or takes longer
/// than kStartTimeout, fails the run `what`, showing `shown` after its own output.
void wait_for_console(integration::VmftProcess& process, const std::string& line,
                      const std::string& what, std::vector<Output> shown);

/// Starts a pair per `spec` and pairs it; a pair that does not get ready fails the run `what`.
std::unique_ptr<integration::PairProcesses> start_pair(const integration::PairSpec& spec,
                                                       const std::string& what);

/// Kills the primary with SIGKILL and returns when, in wall-clock ms since the epoch, read just
/// before the signal. One that outlives it fails the run `what`.
double kill_primary(integration::VmftProcess& primary, const std::string& what);

}  // namespace vmft::bench
