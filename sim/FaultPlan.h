#pragma once
// What goes wrong in one run of the pair scenario, drawn from its seed (PairScenario.h says
// what each fault does to the pair). Private to sim/.
#include <vector>

#include "vmft/sim/PairScenario.h"
#include "vmft/sim/Random.h"
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

/// A brief partition or pause is shorter than this, a long one at least kLongFault: the peer
/// timeout (200 ms) counts from the last message heard, up to a heartbeat interval (25 ms)
/// before the fault, and is looked at every heartbeat interval.
inline constexpr Time kBriefFault = std::chrono::milliseconds(150);
inline constexpr Time kLongFault = std::chrono::milliseconds(250);
/// A long partition lasts up to this; a long pause, or a partition that cuts a side off the
/// arbiter, up to kLongestPause: one side serves from the peer timeout until the other resumes
/// (or hears the arbiter again) and settles, and serving is what costs.
inline constexpr Time kLongestPartition = std::chrono::milliseconds(500);
inline constexpr Time kLongestPause = std::chrono::milliseconds(300);
/// Between the end of a brief fault and the next fault: at least a heartbeat interval (25 ms)
/// and a latency, so that each end has heard the other again (a brief fault leaves nothing
/// behind that the next could add to).
inline constexpr Time kLeastBetweenFaults = std::chrono::milliseconds(30);
inline constexpr Time kMostBetweenFaults = std::chrono::milliseconds(60);

struct FaultStep {
  Fault fault = Fault::kKill;
  Time at{0};
  Time length{0};  ///< a partition's or a pause's; 0 for a death
  /// Shorter than the peer timeout: nobody may notice.
  bool brief() const { return length > Time(0) && length <= kBriefFault; }
  Time end() const { return at + length; }
};

struct FaultPlan {
  /// In time order, none overlapping; every one but the last is brief.
  std::vector<FaultStep> faults;
  /// The last fault, a long partition, cuts the primary, the backup or both off the arbiter
  /// too, until it heals.
  bool primary_isolated = false;
  bool backup_isolated = false;
  /// The arbiter down (answering nothing) from `down` to `back`.
  bool outage = false;
  Time down{0}, back{0};
  /// Its disk full (no decision persisted, ERR instead) from `full` to `freed`.
  bool disk_full = false;
  Time full{0}, freed{0};

  const FaultStep& last() const { return faults.back(); }
  /// Whether every fault is brief: the pair must stay paired.
  bool all_brief() const { return last().brief(); }
};

FaultPlan draw_fault_plan(Random& random);

}  // namespace vmft::sim
