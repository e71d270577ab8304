#pragma once
// Races that any arbiter (built-in or etcd) must decide the same way.
#include <cstdint>
#include <memory>
#include <vector>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::integration {

/// `rounds` times, every client test-and-sets the same epoch of pair "race" at once (client i
/// as "node-i"): exactly one wins, every one learns the winner, and the winner then registers
/// the next epoch. The pair must be registered at epoch 1 by "node-0" first. Fails the
/// current test otherwise.
void expect_one_test_and_set_winner_per_epoch(
    const std::vector<std::unique_ptr<arbiter::Arbiter>>& clients, arbiter::Arbiter& admin,
    uint64_t rounds);

}  // namespace vmft::integration
