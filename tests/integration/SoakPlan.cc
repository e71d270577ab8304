#include "SoakPlan.h"

#include <cstdlib>
#include <random>
#include <stdexcept>

namespace vmft::integration {

namespace {

static_assert(static_cast<int>(SoakFault::kKillBackupNoArbiter) + 1 == kSoakFaults);

// Three joins in seven go plainly; one in seven meets each fault.
constexpr SoakJoinFault kJoinFaults[] = {
    SoakJoinFault::kNone,
    SoakJoinFault::kNone,
    SoakJoinFault::kNone,
    SoakJoinFault::kKillJoiner,
    SoakJoinFault::kStallJoiner,
    SoakJoinFault::kArbiterDown,
    SoakJoinFault::kKillLiveOnceJoined,
};

uint64_t parse_decimal(const char* name, const char* text, uint64_t low, uint64_t high) {
  const std::string s(text);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 20) {
    throw std::invalid_argument(std::string(name) + " must be a decimal number, not '" + s + "'");
  }
  try {
    const unsigned long long value = std::stoull(s);
    if (value >= low && value <= high) return value;
  } catch (const std::out_of_range&) {
  }
  throw std::invalid_argument(std::string(name) + " must be from " + std::to_string(low) + " to " +
                              std::to_string(high) + ", not " + s);
}

}  // namespace

std::vector<SoakStep> plan_soak(uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  // One of n, from one draw; the modulo's bias (n / 2^64) does not matter here.
  auto below = [&rng](uint64_t n) { return rng() % n; };
  std::vector<SoakStep> plan;
  for (int i = 0; i < steps; i++) {
    SoakStep step;
    // Every draw every step, whatever the fault: the plan never depends on what happened.
    step.fault = static_cast<SoakFault>(below(kSoakFaults));
    step.join_fault = kJoinFaults[below(std::size(kJoinFaults))];
    step.join_fault_late = below(2) == 1;
    step.arbiter_frozen = below(2) == 1;
    step.pause_ms = static_cast<int>(below(kSoakMaxPauseMs + 1));
    plan.push_back(step);
  }
  return plan;
}

std::string describe(const SoakStep& step) {
  const std::string arbiter_down =
      step.arbiter_frozen ? "SIGSTOP the arbiter" : "kill -9 the arbiter";
  const std::string arbiter_back =
      step.arbiter_frozen ? "SIGCONT the arbiter" : "restart the arbiter";
  const std::string pause = std::to_string(step.pause_ms) + " ms";
  std::string text;
  bool joins = true;
  switch (step.fault) {
    case SoakFault::kKillLive: text = "kill -9 the live side"; break;
    case SoakFault::kKillBackup: text = "kill -9 the backup"; break;
    case SoakFault::kStallChannel: text = "stall the logging channel"; break;
    case SoakFault::kResetChannel: text = "reset the logging channel"; break;
    case SoakFault::kHiccupChannel:
      text = "stall the logging channel for " + pause + ", then resume it";
      break;
    case SoakFault::kFreezeLive: text = "SIGSTOP the live side until the backup won"; break;
    case SoakFault::kFreezeBackup: text = "SIGSTOP the backup until the live side won"; break;
    case SoakFault::kPauseLive: text = "SIGSTOP the live side for " + pause; break;
    case SoakFault::kPauseBackup: text = "SIGSTOP the backup for " + pause; break;
    case SoakFault::kFreezeBoth:
      text = "SIGSTOP both sides for the peer timeout and " + pause + ", then SIGCONT both";
      break;
    case SoakFault::kArbiterOutage:
      text = arbiter_down + " while the pair serves, then " + arbiter_back;
      joins = false;
      break;
    case SoakFault::kKillLiveNoArbiter:
      text = arbiter_down + ", kill -9 the live side, then " + arbiter_back;
      break;
    case SoakFault::kKillBackupNoArbiter:
      text = arbiter_down + ", kill -9 the backup, then " + arbiter_back;
      break;
  }
  if (!joins) return text;
  const std::string when = step.join_fault_late ? "once the guest paused for it" : "as it connects";
  switch (step.join_fault) {
    case SoakJoinFault::kNone: break;
    case SoakJoinFault::kKillJoiner: text += "; if a backup joins, kill -9 it " + when; break;
    case SoakJoinFault::kStallJoiner:
      text += "; if a backup joins, stall its channel " + when;
      break;
    case SoakJoinFault::kArbiterDown:
      text += "; if a backup joins, " + arbiter_down + " until it registers, then " + arbiter_back;
      break;
    case SoakJoinFault::kKillLiveOnceJoined:
      text += "; if a backup joins, kill -9 the live side the moment it has joined";
      break;
  }
  return text;
}

uint64_t soak_seed() {
  if (const char* text = std::getenv("VMFT_SOAK_SEED")) {
    return parse_decimal("VMFT_SOAK_SEED", text, 0, UINT64_MAX);
  }
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

int soak_steps(int fallback) {
  if (const char* text = std::getenv("VMFT_SOAK_STEPS")) {
    return static_cast<int>(parse_decimal("VMFT_SOAK_STEPS", text, 1, 100000));
  }
  return fallback;
}

}  // namespace vmft::integration
