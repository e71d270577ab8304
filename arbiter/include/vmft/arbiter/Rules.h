#pragma once
// The arbiter's decision rules (docs/arbiter-protocol.md) as pure functions: a pair's state and
// a request in, the answer and the state to store out. Every Arbiter that decides (ArbiterStore
// on its files, EtcdArbiter in etcd) decides through these, so the rules exist once; only how a
// new state is made durable differs.

#include <cstdint>
#include <optional>
#include <string>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

/// What a request does to a pair.
template <typename Result>
struct Decision {
  /// The answer. It may be given only once `next` (if any) is durable: a decision the store
  /// could forget is no decision.
  Result result;
  /// The pair's new state, or nullopt when the answer changes nothing (READ-like answers:
  /// refused, lost, the winner's repeated win).
  std::optional<ArbiterState> next;
};

/// REGISTER `pair` `expected_epoch` `id` on a pair at `current`. Throws ArbiterUnavailable if
/// the pair is at the last epoch there is. `pair` only names the pair in messages.
Decision<RegisterResult> decide_register(const std::string& pair, const ArbiterState& current,
                                         uint64_t expected_epoch, const std::string& id);

/// TAS `pair` `epoch` `id` on a pair at `current`. Throws ArbiterUnavailable for an epoch the
/// pair never had (above the current one, or a pair never registered).
Decision<TasResult> decide_test_and_set(const std::string& pair, const ArbiterState& current,
                                        uint64_t epoch, const std::string& id);

/// RELEASE `pair` `epoch` `id` on a pair at `current`.
Decision<ReleaseResult> decide_release(const ArbiterState& current, uint64_t epoch,
                                       const std::string& id);

/// For a client that may send a REGISTER again after losing the reply to it: a refusal
/// because the pair is at expected_epoch + 1, paired, held by `id` means the first one took
/// effect (only that very registration leads there), so it counts as success.
RegisterResult count_repeated_registration(RegisterResult result, uint64_t expected_epoch,
                                           const std::string& id);

}  // namespace vmft::arbiter
