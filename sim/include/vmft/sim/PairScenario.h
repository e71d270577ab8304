#pragma once
// One simulated run of a pair, from its seed: the counter guest on a primary and a backup (the
// real roles, output gate and backup role on a LogLink whose ends time each other out as
// vmft's channel does), the primary's real ft::LiveSide deciding on a SimWorker when it loses
// its backup, clients INCRing throughout, and the faults the seed picks (sim/FaultPlan.h): half
// the runs have one or two brief faults first (a partition, or either side paused, each shorter
// than the peer timeout and over before the next), then one more fault, at a moment in [2, 30]
// ms or after the brief ones:
//   - the primary killed (what it sent still arrives, then its close), or with its host (what
//     was on its way is lost; the backup times out); the same for the backup (the primary
//     hears its close at once, or times out);
//   - the log partitioned, both sides alive: for longer than the peer timeout (both give the
//     other up and ask the arbiter: one goes on, the other stops; half the time the primary,
//     the backup or both cannot reach the arbiter either until the partition heals), or
//     briefly (nobody notices but the clients, whose replies wait);
//   - the primary paused (SIGSTOP): past the peer timeout (the backup takes over; the primary,
//     resumed, hears it lost its backup, asks, and stops), or briefly;
//   - the backup paused: past the peer timeout (the primary goes on alone; the backup,
//     resumed, hears its primary closed, replays the rest of its log, asks, and stops), or
//     briefly;
// and, a third of the time, the arbiter down (its node crashed, then restarted) for up to 40 ms
// around when the sides ask, and a quarter of the time its disk full for up to 60 ms about then
// (it answers `ERR cannot persist ...` to what would change the pair): they keep asking, and act
// only on an answer. The sides reach the arbiter (SimArbiterServer) through the real
// arbiter::ArbiterClient over the simulated network (ArbiterLink); a side cut off it is a
// partition between their nodes. The backup claims the pair as `vmft backup` does
// (ft::claim_pair, through ft::ArbiterClient) and goes live or stops; the primary decides in its
// live side as `vmft primary` does. Checked after
// every step:
//   - never two sides live at one epoch (the primary gone on alone, the backup gone live);
//   - a primary that lost the pair releases nothing more;
// as the last fault comes:
//   - the brief faults before it went unnoticed: nobody gave up, the pair is paired;
// and after the run:
//   - nothing acknowledged was lost: no client saw a value go back, and no value was answered
//     twice (a second answer means the counter went back past an acknowledged INCR);
//   - the backup's state matched the primary's at every digest (its run did not diverge);
//   - at most one side won each epoch at the arbiter, and a primary that went on alone won
//     its epoch there;
//   - no side is stuck: a side that gave its peer up decided within one retry interval
//     (ft::kArbiterRetry) and one client timeout (ArbiterLink::kTimeout) of the arbiter
//     answering again, a side that lost stopped, one side
//     is live and served; after brief faults only, nobody gave up and the pair served on.
// Half the seeds whose fault was not brief go on: a backup joins the side left alone, and a
// fault the seed picks befalls the new pair (sim/JoinPhase.h, with its invariants).
#include <cstdint>
#include <string>
#include <vector>

#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

struct PairScenario {
  /// The counter guest as the simulation builds it (examples/counter, counter_small.elf: 16
  /// clients and 16 keys), loaded for a RAM of ram_size.
  hypervisor::GuestImage counter;
  /// Every side's guest RAM: what counter_small takes (its image and stack, 0.6 MiB, then the
  /// 0.6 MiB of tables and receive buffers it allocates at startup; it exits if they do not
  /// fit, which the run reports), rounded up to a power of two. Each state digest hashes all
  /// of it, and each side's machine starts with it untouched: the less, the cheaper a seed.
  uint64_t ram_size = 2ULL << 20;
  /// How long the winner serves once live before the run ends (the loser settled).
  Time serve_after_failover = std::chrono::milliseconds(20);
  /// The run ends by then whatever happened: after the latest decision there can be (two
  /// brief faults of up to 150 ms and 60 ms after each, the last fault at up to 30 ms after
  /// them, a partition of up to 500 ms, an outage of up to 40 ms or a full disk of up to 60,
  /// one retry interval of 100 ms) and some serving.
  Time run_at_most = std::chrono::milliseconds(1500);
  int clients = 4;
  /// For the test that shows the invariants catch a broken pair: the primary's replies leave
  /// at once instead of waiting for the backup's acknowledgement.
  bool without_output_rule = false;
  /// Whether a backup may join the side left alone (half the seeds with a failover: see
  /// JoinPhase.h); off, each seed runs as before joins were simulated.
  bool joins = true;
  /// What a run with a join may take beyond run_at_most: the join itself, a fault on the new
  /// pair within 30 ms of its new epoch, a partition of up to 500 ms, a retry interval and
  /// some serving.
  Time join_takes_at_most = std::chrono::milliseconds(900);
  /// For the test that shows the invariants catch a broken live side: the primary's live side
  /// has no arbiter, and a side without one whose backup left goes on alone (SimPrimaryEnd
  /// says every lost backup left): the primary goes on without asking.
  bool primary_goes_on_without_asking = false;
  /// For the test that shows the invariants catch a broken arbiter client: both sides take
  /// the arbiter's `ERR cannot persist ...` to a test-and-set for a win.
  bool errors_are_wins = false;
};

enum class Fault {
  kKill,
  kHostLost,
  kPartition,
  kPause,
  kBackupKill,
  kBackupHostLost,
  kBackupPause,
};
inline constexpr int kFaults = 7;
const char* fault_name(Fault fault);
/// What befalls a pair made whole again by a joiner: nothing, the joiner's host lost as a piece
/// of the join reaches it, the new pair's primary (the side the joiner joined) killed or its
/// host lost, or their log partitioned past the peer timeout.
enum class JoinFault { kNone, kJoinerDies, kKill, kHostLost, kPartition };
const char* join_fault_name(JoinFault fault);

struct PairOutcome {
  uint64_t seed = 0;
  std::vector<std::string> violations;  ///< empty: every invariant held
  // What happened, for the summary and for a failing seed's report: the last fault, and how
  // many brief ones came before it.
  Fault fault = Fault::kKill;
  Time fault_at{0};
  Time fault_length{0};  ///< a partition's or a pause's; 0 for a death
  int brief_before = 0;
  bool arbiter_outage = false;
  bool primary_isolated = false;  ///< the partition cut the primary off the arbiter too
  bool backup_isolated = false;   ///< the partition cut the backup off the arbiter too
  Time arbiter_back{0};           ///< when the arbiter answered again (0: no outage)
  bool disk_full = false;         ///< the arbiter could not persist a decision for a while
  Time disk_freed_at{0};          ///< when it could again (0: its disk was never full)
  Time went_live_at{0};           ///< the backup; 0: it did not
  Time alone_at{0};               ///< the primary went on alone; 0: it did not
  Time lost_at{0};  ///< a side lost at the arbiter (the primary, or the backup's claim)
  // The join, if the seed had one.
  bool joined = false;  ///< a backup joined (connected to the side left alone)
  JoinFault join_fault = JoinFault::kNone;
  Time join_at{0};              ///< when it connected
  Time join_registered_at{0};   ///< when the live side registered the new epoch
  uint64_t join_epoch = 0;      ///< the epoch the live side registered with it; 0: none
  Time join_fault_at{0};        ///< when the fault on the new pair came
  Time joiner_live_at{0};       ///< the joiner went live
  uint64_t joiner_digests = 0;  ///< state digests the joiner checked
  uint64_t answered_before = 0;
  uint64_t answered_after = 0;
  uint64_t trace_digest = 0;
  std::string trace_tail;  ///< the trace's last lines, for a failing seed
};

/// Runs the scenario for `seed`. The same seed gives the same outcome, bit for bit.
PairOutcome run_pair_scenario(const PairScenario& scenario, uint64_t seed);

}  // namespace vmft::sim
