#pragma once
// The seeded fault soak's plan: which fault each step applies, drawn from one seed and from
// nothing else, so that a seed printed by a failed run replays the same faults (the timing of
// the processes, and so who wins a race to the arbiter, still varies from run to run).
#include <cstdint>
#include <string>
#include <vector>

namespace vmft::integration {

/// What a step does to a pair that is fault tolerant (a live side with a backup in step).
enum class SoakFault {
  kKillLive,           ///< SIGKILL the live side: the backup takes over
  kKillBackup,         ///< SIGKILL the backup: the live side goes on alone
  kStallChannel,       ///< the logging channel falls silent: the arbiter picks either side
  kResetChannel,       ///< the logging channel is reset at both ends: the same, at once
  kHiccupChannel,      ///< the logging channel falls silent for pause_ms, then flows again
  kFreezeLive,         ///< SIGSTOP the live side until the backup has won, then SIGCONT
  kFreezeBackup,       ///< SIGSTOP the backup until the live side has won, then SIGCONT
  kPauseLive,          ///< SIGSTOP the live side for pause_ms, then SIGCONT
  kPauseBackup,        ///< SIGSTOP the backup for pause_ms, then SIGCONT
  kFreezeBoth,         ///< SIGSTOP both sides past the peer timeout, as a stalled machine; SIGCONT
  kArbiterOutage,      ///< the arbiter is down a while: the pair needs no decision, serves on
  kKillLiveNoArbiter,  ///< the arbiter down, then SIGKILL the live side; the arbiter comes back
  kKillBackupNoArbiter,  ///< the arbiter down, then SIGKILL the backup; the arbiter comes back
};
inline constexpr int kSoakFaults = 13;

/// What happens to the first backup that joins after a step left one side alone.
enum class SoakJoinFault {
  kNone,
  kKillJoiner,          ///< SIGKILL it as it joins; another joins
  kStallJoiner,         ///< its channel falls silent as it joins: either side may end up live
  kArbiterDown,         ///< the arbiter is down when the join would register; then comes back
  kKillLiveOnceJoined,  ///< SIGKILL the live side the moment the pair is fault tolerant again
};
inline constexpr int kSoakJoinFaults = 5;

struct SoakStep {
  SoakFault fault = SoakFault::kKillLive;
  SoakJoinFault join_fault = SoakJoinFault::kNone;
  /// The join fault strikes once the guest paused for the snapshot, not when the joiner
  /// connects (whichever phase the join has reached by then).
  bool join_fault_late = false;
  /// "The arbiter down" is SIGSTOP (clients time out on it) rather than SIGKILL and restart.
  bool arbiter_frozen = false;
  /// kHiccupChannel, kPauseLive, kPauseBackup: 0 to kSoakMaxPauseMs; kFreezeBoth: that much
  /// past the peer timeout.
  int pause_ms = 0;
  bool operator==(const SoakStep&) const = default;
};

/// The longest hiccup or pause: well below the soak's peer timeout, so that it mostly passes
/// unnoticed (a failover it causes on a slow machine is checked like any other).
inline constexpr int kSoakMaxPauseMs = 300;

/// `steps` steps drawn from `seed`, the same on every platform (mt19937_64 is specified, and
/// the draws use no library distribution, whose results the standard leaves open).
std::vector<SoakStep> plan_soak(uint64_t seed, int steps);

/// "kill -9 the live side; the first joiner killed as it connects", for logs.
std::string describe(const SoakStep& step);

/// The seed from VMFT_SOAK_SEED (decimal), or a fresh one from std::random_device. Throws
/// std::invalid_argument if the variable is set to something else.
uint64_t soak_seed();
/// The number of steps from VMFT_SOAK_STEPS, or `fallback`. Throws std::invalid_argument if
/// the variable is set to something other than a number from 1 to 100000.
int soak_steps(int fallback);

}  // namespace vmft::integration
