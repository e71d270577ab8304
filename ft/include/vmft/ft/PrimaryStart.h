#pragma once
// A primary's start at the arbiter: before it binds any client address, whether the pair's
// name is free for it; once its first backup is in sync, registering the pair's next epoch.

#include <optional>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::ft {

/// A primary starts only if its arbiter (at `address`) answers and does not hold `pair` for
/// another side than `me`. nullopt if it may; else the exit code, having said why.
std::optional<int> check_name_is_free(arbiter::Arbiter& arbiter, const std::string& address,
                                      const std::string& pair, const std::string& me);

/// Registers the next epoch of `pair` for `me`, asking until the arbiter answers, and has
/// `live_side` announce it to the backup. nullopt once registered; else the exit code: 0 if a
/// stop came first, kNameHeldExitCode if the arbiter gave the pair to another side.
std::optional<int> register_pair(ArbiterClient& arbiter, LiveSide& live_side,
                                 const std::string& pair, const std::string& me,
                                 const hypervisor::InputQueue& inputs);

}  // namespace vmft::ft
