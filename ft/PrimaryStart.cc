#include "vmft/ft/PrimaryStart.h"

#include <spdlog/spdlog.h>

#include "vmft/ft/ExitCodes.h"

namespace vmft::ft {

std::optional<int> check_name_is_free(arbiter::Arbiter& arbiter, const std::string& address,
                                      const std::string& pair, const std::string& me) {
  arbiter::ArbiterState state;
  try {
    state = arbiter.read(pair);
  } catch (const arbiter::ArbiterUnavailable& e) {
    spdlog::error(
        "cannot reach the arbiter at {} ({}): a primary starts only once its arbiter "
        "answers",
        address, e.what());
    return kStartFailedExitCode;
  }
  const bool held = state.mode == arbiter::Mode::kPaired || state.mode == arbiter::Mode::kAlone;
  if (!held || state.holder == me) return std::nullopt;
  spdlog::error(
      "the arbiter holds pair '{}' for another side ({}): this primary ({}) does not start. If "
      "that side runs, join it with `vmft backup --join`; if neither side runs, `vmft arbiter "
      "release {} --arbiter {}` frees the name",
      pair, arbiter::describe(state), me, pair, address);
  return kNameHeldExitCode;
}

std::optional<int> register_pair(ArbiterClient& arbiter, LiveSide& live_side,
                                 const std::string& pair, const std::string& me,
                                 const hypervisor::InputQueue& inputs) {
  const auto registered = arbiter.register_next(pair, me, inputs);
  if (!registered) return kOkExitCode;  // stopped
  if (!registered->ok) {
    spdlog::error(
        "the arbiter will not register pair '{}' for this primary ({}): it is at {}. If "
        "that side runs, join it with `vmft backup --join`; if neither side runs, `vmft "
        "arbiter release {} --arbiter {}` frees the name",
        pair, me, arbiter::describe(registered->state), pair, arbiter.address());
    return kNameHeldExitCode;
  }
  const uint64_t epoch = registered->state.epoch;
  live_side.paired(epoch);
  live_side.announce_epoch(
      epoch, fmt::format("pair '{}' registered at the arbiter at epoch {}", pair, epoch),
      Registered{epoch});
  return std::nullopt;
}

}  // namespace vmft::ft
