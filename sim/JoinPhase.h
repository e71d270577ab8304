#pragma once
// The second half of a pair scenario's run (PairScenario.h), for the seeds that have one: once
// the failover is over and one side runs alone, a backup joins it through that side's real
// ft::LiveSide (its pre-copy on the side's SimWorker, the snapshot, a new epoch registered at
// the arbiter and sent to the joiner), and the seed picks what then befalls the new pair:
// nothing, the joiner's host lost mid-join (the live side goes on alone), or, once the joiner
// has the new epoch, the new primary killed or its host lost, or their log partitioned past
// the peer timeout (both ask the arbiter at the new epoch; one goes on). Checked after every
// step: never two sides live at one epoch (the live side gone on alone and the joiner gone
// live); a live side that lost releases nothing (the scenario's watched gate). After the run:
// the joiner did not diverge from the live side; the join made the pair whole at a new epoch
// (or, the joiner dead mid-join, the live side went on alone); no side is stuck after the fault
// on the new pair, and one side served since.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/sim/ArbiterLink.h"
#include "vmft/sim/IncrClients.h"
#include "vmft/sim/Joiner.h"
#include "vmft/sim/Network.h"
#include "vmft/sim/PairScenario.h"
#include "vmft/sim/Random.h"
#include "vmft/sim/SimArbiter.h"
#include "vmft/sim/SimPrimaryEnd.h"
#include "vmft/sim/SimWorker.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

struct JoinPlan {
  bool join = false;
  JoinFault fault = JoinFault::kNone;
  int die_at_piece = 0;  ///< kJoinerDies: the piece of the join its host dies with (from 1)
  Time fault_after{0};   ///< kKill, kHostLost, kPartition: after the joiner has the new epoch
  Time length{0};        ///< kPartition
};

/// Half the seeds (`may_join`: the run has a failover) have a join; its fault is each of
/// JoinFault's a fifth of the time. Drawn from a stream of its own, so that a seed without a
/// join draws what it drew before joins were simulated.
JoinPlan draw_join_plan(uint64_t seed, bool may_join);

/// The process that runs alone and that the joiner joins: its vCPU and live side's parts.
struct LiveProcess {
  std::string name;  ///< "the primary", "the backup"
  std::string id;    ///< at the arbiter
  NodeId node;       ///< on the network
  Vcpu& vcpu;
  SimWorker& worker;
  SimPrimaryEnd& end;
  ft::LiveSide& side;
  std::function<bool()> ended;  ///< its run ended
};

class JoinPhase {
 public:
  /// What the joiner shares with the rest of the run.
  struct World {
    Scheduler& scheduler;
    Network& network;
    SimArbiter& arbiter;          ///< its decisions, for the checks
    std::string arbiter_address;  ///< where it serves them
    IncrClients& clients;
    std::string pair;
    hypervisor::GuestImage image;
    hypervisor::MachineConfig config;
    logchannel::LogHeader header;
    ft::EventSink& events;  ///< the joiner's
    std::function<void(std::string)> violated;
    Time serve_after_failover;
  };

  JoinPhase(World world, JoinPlan plan, LiveProcess live);
  /// What the joiner still runs as the run ends decides nothing: it is asked to stop, and its
  /// waits for the arbiter give up.
  ~JoinPhase();
  JoinPhase(const JoinPhase&) = delete;
  JoinPhase& operator=(const JoinPhase&) = delete;

  /// The joiner connects (a task).
  void start();
  /// After every step of the scheduler.
  void check_step();
  /// Whether the run may end: the join over, and after its fault the winner served a while
  /// and the loser settled.
  bool settled() const;
  /// After the run; fills the outcome's join fields.
  void check_after(PairOutcome& out);

 private:
  hypervisor::Role* go_live(const hypervisor::Takeover& t);
  void fault_new_pair();
  bool live_side_alive() const;
  bool live_side_alone() const;
  bool joiner_live() const;
  bool joiner_settled() const;
  void check_decided(const char* side, Time noticed, Time decided, bool lost, bool ended);

  World w_;
  JoinPlan plan_;
  LiveProcess live_;
  std::unique_ptr<ArbiterLink> arbiter_link_;        // the joiner's: outlives its run
  std::unique_ptr<hypervisor::LiveRole> live_role_;  // the joiner's, once live
  std::unique_ptr<ft::ArbiterClient> client_;        // outlives the joiner's run
  std::unique_ptr<Joiner> joiner_;
  Time started_at_{0}, registered_at_{0}, epoch_at_{0}, fault_at_{0};
  Time joiner_live_at_{0}, joiner_declined_at_{0};
  Time side_alone_at_{0}, side_lost_at_{0};  // after the join started
  uint64_t old_epoch_ = 0, new_epoch_ = 0;
  uint64_t answered_at_fault_ = 0, answered_at_alone_ = 0;
  bool fault_scheduled_ = false;
  bool two_live_said_ = false;
};

}  // namespace vmft::sim
