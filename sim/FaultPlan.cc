#include "FaultPlan.h"

#include <algorithm>
#include <utility>

namespace vmft::sim {

namespace {

using std::chrono::milliseconds;

Time between(Random& random, Time lo, Time hi) {
  return Time(random.between(static_cast<uint64_t>(lo.count()), static_cast<uint64_t>(hi.count())));
}

Time brief_length(Random& random) { return between(random, milliseconds(5), kBriefFault); }

bool is_pause_or_partition(Fault fault) {
  return fault == Fault::kPartition || fault == Fault::kPause || fault == Fault::kBackupPause;
}

// About when the sides ask the arbiter after `last`, and over how long a spread: at once after
// a kill (the peer hears the close), a peer timeout later otherwise; after a long pause, the
// side paused asks as it resumes.
std::pair<Time, Time> when_sides_ask(const FaultStep& last) {
  switch (last.fault) {
    case Fault::kKill:
    case Fault::kBackupKill: return {last.at, milliseconds(40)};
    case Fault::kPause:
    case Fault::kBackupPause: return {last.at + milliseconds(200), last.length};
    default: return {last.at + milliseconds(190), milliseconds(40)};
  }
}

}  // namespace

FaultPlan draw_fault_plan(Random& random) {
  FaultPlan plan;
  Time at = between(random, milliseconds(2), milliseconds(30));
  // Half the runs: one brief fault (a third) or two (a sixth) before the last.
  const int brief_before = random.chance(0.5) ? 0 : random.chance(2.0 / 3) ? 1 : 2;
  constexpr Fault kBriefKinds[] = {Fault::kPartition, Fault::kPause, Fault::kBackupPause};
  for (int i = 0; i < brief_before; i++) {
    const FaultStep brief{kBriefKinds[random.below(3)], at, brief_length(random)};
    plan.faults.push_back(brief);
    at = brief.end() + between(random, kLeastBetweenFaults, kMostBetweenFaults);
  }
  FaultStep last{static_cast<Fault>(random.below(kFaults)), at, Time(0)};
  if (is_pause_or_partition(last.fault)) {
    const Time longest = last.fault == Fault::kPartition ? kLongestPartition : kLongestPause;
    last.length = random.chance(0.25) ? brief_length(random) : between(random, kLongFault, longest);
  }
  // Half the long partitions cut the primary, the backup or both off the arbiter as well: a
  // side cut off asks until the partition heals, and meanwhile must neither go on nor release
  // what waits for its peer. The other serves until then: no longer than a long pause.
  if (last.fault == Fault::kPartition && !last.brief() && random.chance(0.5)) {
    const uint64_t who = random.below(3);
    plan.primary_isolated = who != 1;
    plan.backup_isolated = who != 0;
    last.length = between(random, kLongFault, kLongestPause);
  }
  plan.faults.push_back(last);
  const auto [asks, spread] = when_sides_ask(last);
  plan.outage = random.chance(1.0 / 3);
  if (plan.outage) {
    plan.down = asks - milliseconds(1) + between(random, Time(0), spread);
    plan.back = plan.down + between(random, Time(0), milliseconds(40));
  }
  // The disk fills up a little before the sides ask, or while they do.
  plan.disk_full = random.chance(0.25);
  if (plan.disk_full) {
    plan.full =
        std::max<Time>(milliseconds(1), asks - milliseconds(20) + between(random, Time(0), spread));
    plan.freed = plan.full + between(random, Time(0), milliseconds(60));
  }
  return plan;
}

}  // namespace vmft::sim
