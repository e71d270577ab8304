#include "vmft/arbiter/Rules.h"

#include <limits>

namespace vmft::arbiter {

namespace {

std::string pair_text(const std::string& pair) { return "pair '" + pair + "'"; }

}  // namespace

Decision<RegisterResult> decide_register(const std::string& pair, const ArbiterState& current,
                                         uint64_t expected_epoch, const std::string& id) {
  const bool may_hold =
      current.mode == Mode::kNone || current.mode == Mode::kReleased || current.holder == id;
  if (current.epoch != expected_epoch || !may_hold) return {{false, current}, std::nullopt};
  if (expected_epoch == std::numeric_limits<uint64_t>::max()) {
    throw ArbiterUnavailable(pair_text(pair) + " is at the last epoch there is");
  }
  const ArbiterState next{expected_epoch + 1, Mode::kPaired, id};
  return {{true, next}, next};
}

Decision<TasResult> decide_test_and_set(const std::string& pair, const ArbiterState& current,
                                        uint64_t epoch, const std::string& id) {
  if (current.mode == Mode::kNone || epoch > current.epoch) {
    throw ArbiterUnavailable("unknown epoch " + std::to_string(epoch) + " for " + pair_text(pair) +
                             " (" + describe(current) + ")");
  }
  // A released epoch is over: no side may go on in it.
  if (epoch < current.epoch || current.mode == Mode::kReleased) {
    return {{false, current}, std::nullopt};
  }
  if (current.mode == Mode::kAlone) return {{current.holder == id, current}, std::nullopt};
  const ArbiterState next{epoch, Mode::kAlone, id};
  return {{true, next}, next};
}

Decision<ReleaseResult> decide_release(const ArbiterState& current, uint64_t epoch,
                                       const std::string& id) {
  if (current.epoch != epoch || current.mode == Mode::kNone) {
    return {{false, current}, std::nullopt};
  }
  if (current.mode == Mode::kReleased) return {{true, current}, std::nullopt};  // a retry
  if (current.holder != id) return {{false, current}, std::nullopt};
  const ArbiterState next{epoch, Mode::kReleased, {}};
  return {{true, next}, next};
}

RegisterResult count_repeated_registration(RegisterResult result, uint64_t expected_epoch,
                                           const std::string& id) {
  const ArbiterState ours{expected_epoch + 1, Mode::kPaired, id};
  if (!result.ok && expected_epoch + 1 != 0 && result.state == ours) result.ok = true;
  return result;
}

}  // namespace vmft::arbiter
