#pragma once
// One simulated run of a pair, from its seed: the counter guest on a primary and a backup (the
// real roles, output gate and backup role on a LogLink), clients INCRing throughout, and the
// faults the seed picks:
//   - the primary dies at a moment in [2, 30] ms: killed (what it sent still arrives), or with
//     its host (what was on its way is lost);
//   - a third of the time the arbiter is down from before the death until up to 20 ms after
//     it: the backup keeps asking, and acts only on an answer.
// The backup claims the pair at the arbiter (ft::claim_pair, through ft::ArbiterClient, as
// `vmft backup` does) and goes live. After the run the invariants are checked:
//   - no client saw a value go back, and none after the failover at or below one answered
//     before it: nothing acknowledged was lost;
//   - the backup's state matched the primary's at every digest (its run did not diverge);
//   - at most one side won each epoch at the arbiter;
//   - no side is stuck: the backup went live within one retry interval (ft::kArbiterRetry) of
//     the arbiter answering again, and served.
#include <cstdint>
#include <string>
#include <vector>

#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

struct PairScenario {
  hypervisor::GuestImage counter;  ///< the counter guest (examples/counter), loaded
  /// How long the backup serves once live before the run ends.
  Time serve_after_failover = std::chrono::milliseconds(20);
  /// The run ends by then whatever happened: after the latest failover there can be (an outage
  /// of up to 20 ms after a death at up to 30 ms, then one retry interval of the arbiter
  /// client, 100 ms) and some serving.
  Time run_at_most = std::chrono::milliseconds(200);
  int clients = 4;
  /// For the test that shows the invariants catch a broken pair: the primary's replies leave
  /// at once instead of waiting for the backup's acknowledgement.
  bool without_output_rule = false;
};

struct PairOutcome {
  uint64_t seed = 0;
  std::vector<std::string> violations;  ///< empty: every invariant held
  // What happened, for the summary and for a failing seed's report.
  Time died_at{0};
  bool host_lost = false;
  bool arbiter_outage = false;
  Time arbiter_back{0};  ///< when the arbiter answered again (the death, without an outage)
  Time went_live_at{0};  ///< 0: it did not
  uint64_t answered_before = 0;
  uint64_t answered_after = 0;
  uint64_t trace_digest = 0;
  std::string trace_tail;  ///< the trace's last lines, for a failing seed
};

/// Runs the scenario for `seed`. The same seed gives the same outcome, bit for bit.
PairOutcome run_pair_scenario(const PairScenario& scenario, uint64_t seed);

}  // namespace vmft::sim
