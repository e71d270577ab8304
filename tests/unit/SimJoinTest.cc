// Joins in the simulation: a backup joins the side a failover left alone, through that side's
// real ft::LiveSide (pre-copy, snapshot, a new epoch at the arbiter), and a fault the seed
// picks befalls the new pair (sim/JoinPhase.h).
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "Fakes.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/PairScenario.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/SimPrimaryEnd.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {
namespace {

TEST(SimPrimaryEnd, TakesOneJoinerAtATimeAndOnlyWhileItsLiveSideAcceptsJoiners) {
  Scheduler s(1);
  hypervisor::InputQueue inputs;
  Vcpu vcpu(s, "live", inputs);
  NoNetwork net;
  hypervisor::OutputGate gate(net);
  SimPrimaryEnd end;
  std::vector<uint64_t> joins;
  end.listen({.join = [&](uint64_t session) { joins.push_back(session); }});
  end.sink(vcpu, gate);
  LogLink first(s, {}, {}), second(s, {}, {});
  EXPECT_EQ(end.connect(first, {}), 0u) << "its live side accepts no joiner yet";
  end.accept_joiners();
  const uint64_t session = end.connect(first, {});
  EXPECT_NE(session, 0u);
  EXPECT_EQ(joins, std::vector<uint64_t>{session});
  EXPECT_EQ(end.connect(second, {}), 0u) << "one joiner at a time";
  EXPECT_FALSE(end.send_ram(session + 1, 0, {})) << "no such joiner";
}

// The simulation's counter (small tables, for the scenario's small RAM: PairScenario.h).
PairScenario counter_pair() { return {.counter = testing::test_guest("counter_small")}; }

// The first seed from 1 on whose outcome `wanted` says yes.
PairOutcome first_seed(const PairScenario& scenario,
                       const std::function<bool(const PairOutcome&)>& wanted) {
  for (uint64_t seed = 1; seed <= 200; seed++) {
    PairOutcome out = run_pair_scenario(scenario, seed);
    if (wanted(out)) return out;
  }
  ADD_FAILURE() << "no seed in 1-200 had the outcome wanted";
  return {};
}

TEST(SimJoin, ABackupJoinsTheSideLeftAloneAndThePairIsWholeAgainAtTheNextEpoch) {
  const PairOutcome out = first_seed(counter_pair(), [](const PairOutcome& o) {
    return o.joined && o.join_fault == JoinFault::kNone;
  });
  EXPECT_EQ(out.violations, std::vector<std::string>{}) << out.trace_tail;
  EXPECT_EQ(out.join_epoch, 2u);
  EXPECT_GT(out.join_registered_at, out.join_at);
  EXPECT_GT(out.joiner_digests, 0u);
}

TEST(SimJoin, EveryJoinFaultComesAndEveryInvariantHoldsAcrossBothEpochs) {
  const PairScenario scenario = counter_pair();
  std::set<JoinFault> faults;
  int joiners_live = 0, whole_again = 0;
  for (uint64_t seed = 1; seed <= 60; seed++) {
    const PairOutcome out = run_pair_scenario(scenario, seed);
    EXPECT_EQ(out.violations, std::vector<std::string>{}) << "seed " << seed << "\n"
                                                          << out.trace_tail;
    if (!out.joined) continue;
    faults.insert(out.join_fault);
    joiners_live += out.joiner_live_at > Time(0);
    whole_again += out.join_epoch != 0;
  }
  EXPECT_EQ(faults.size(), 5u);
  EXPECT_GT(joiners_live, 0);
  EXPECT_GT(whole_again, 0);
}

TEST(SimJoin, ASeedWithAJoinReplaysBitForBit) {
  const PairScenario scenario = counter_pair();
  const PairOutcome a = first_seed(
      scenario, [](const PairOutcome& o) { return o.joined && o.joiner_live_at > Time(0); });
  const PairOutcome b = run_pair_scenario(scenario, a.seed);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.join_registered_at, b.join_registered_at);
  EXPECT_EQ(a.joiner_live_at, b.joiner_live_at);
  EXPECT_EQ(a.joiner_digests, b.joiner_digests);
}

}  // namespace
}  // namespace vmft::sim
