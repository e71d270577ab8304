#include "JoinPhase.h"

#include <fmt/format.h>

#include <algorithm>

#include "vmft/ft/Takeover.h"

namespace vmft::sim {

const char* join_fault_name(JoinFault fault) {
  switch (fault) {
    case JoinFault::kNone: return "nothing";
    case JoinFault::kJoinerDies: return "the joiner's host lost mid-join";
    case JoinFault::kKill: return "the new primary killed";
    case JoinFault::kHostLost: return "the new primary's host lost";
    case JoinFault::kPartition: return "the new pair's log partitioned";
  }
  return "?";
}

namespace {

using State = ft::LiveSide::State;

constexpr const char* kJoinerId = "joiner@sim";
constexpr const char* kJoinerNode = "joiner";
/// The peer timeout (200 ms) counts from the last message heard, up to a heartbeat interval
/// (25 ms) before the partition, and is looked at every heartbeat interval: from 250 ms on,
/// both sides give the other up.
constexpr Time kShortestPartition = std::chrono::milliseconds(250);
constexpr Time kLongestPartition = std::chrono::milliseconds(500);
/// What a decision may take beyond the arbiter's answer (as in the pair scenario).
constexpr Time kDecisionSlack = std::chrono::milliseconds(2);
/// A joiner told to die mid-join dies as one of the first pieces reaches it, early in the
/// pre-copy: the counter's join sends a few dozen runs of RAM (of pages with something in them,
/// whatever the RAM's size), then the snapshot. A joiner told to die at a later piece than
/// there are would join whole.
constexpr int kMostPieces = 5;

}  // namespace

JoinPlan draw_join_plan(uint64_t seed, bool may_join) {
  Random random(seed ^ 0x6a6f696e73ULL);  // "joins": a stream apart from the run's
  JoinPlan plan;
  plan.join = may_join && random.chance(0.5);
  if (!plan.join) return plan;
  plan.fault = static_cast<JoinFault>(random.below(5));
  plan.die_at_piece = static_cast<int>(random.between(1, kMostPieces));
  plan.fault_after = Time(random.between(2'000'000, 30'000'000));
  plan.length = Time(random.between(kShortestPartition.count(), kLongestPartition.count()));
  return plan;
}

JoinPhase::JoinPhase(World world, JoinPlan plan, LiveProcess live)
    : w_(std::move(world)), plan_(plan), live_(std::move(live)) {}

JoinPhase::~JoinPhase() {
  if (!joiner_) return;
  joiner_->inputs().request_stop();
  // The joiner's link waits on its vCPU's parker, and closes its kept connection through it:
  // the run ends first (it may be asking the arbiter), then the link goes, then the joiner.
  joiner_->vcpu().end_run();
  client_.reset();
  arbiter_link_.reset();
}

void JoinPhase::start() {
  started_at_ = w_.scheduler.now();
  old_epoch_ = live_.side.epoch();
  joiner_ = std::make_unique<Joiner>(w_.scheduler, "joiner", w_.image, w_.config, w_.header,
                                     [this](const hypervisor::Takeover& t) { return go_live(t); });
  arbiter_link_ = std::make_unique<ArbiterLink>(w_.network, kJoinerNode, joiner_->vcpu().parker(),
                                                w_.arbiter_address);
  client_ = std::make_unique<ft::ArbiterClient>(*arbiter_link_, w_.arbiter_address,
                                                joiner_->vcpu().ft_clock());
  if (plan_.fault == JoinFault::kJoinerDies) joiner_->die_at_piece(plan_.die_at_piece);
  if (!joiner_->join(live_.end)) {
    w_.violated(fmt::format("{} ran alone at epoch {} and refused a backup that joined", live_.name,
                            old_epoch_));
  }
}

// As the joiner of `vmft backup --join` goes live: claim the pair at the epoch it was sent,
// and go on with the guest's connections closed.
hypervisor::Role* JoinPhase::go_live(const hypervisor::Takeover& t) {
  const ft::Claim claim =
      ft::claim_pair(w_.pair, kJoinerId, client_.get(), joiner_->link().backup_epoch(), t.icount,
                     joiner_->inputs(), &w_.events);
  if (claim.result != ft::Claim::Result::kWon) {
    if (claim.result == ft::Claim::Result::kDeclined) joiner_declined_at_ = joiner_->vcpu().now();
    return nullptr;
  }
  Vcpu& vcpu = joiner_->vcpu();
  live_role_ = std::make_unique<hypervisor::LiveRole>(
      hypervisor::HostServices{vcpu.clock(), vcpu.entropy(), vcpu.timer(), w_.clients},
      joiner_->inputs(), nullptr);
  ft::reset_connections(t, joiner_->inputs());
  if (!live_.vcpu.killed()) w_.clients.server_died();  // its connections go with its address
  w_.clients.switch_to(vcpu, t.highest_connection + 1);
  joiner_live_at_ = vcpu.now();
  w_.events.emit(ft::WentLive{claim.epoch, t.icount});
  return live_role_.get();
}

void JoinPhase::fault_new_pair() {
  fault_at_ = w_.scheduler.now();
  answered_at_fault_ = w_.clients.answered();
  LogLink& link = joiner_->link();
  switch (plan_.fault) {
    case JoinFault::kKill:
    case JoinFault::kHostLost:
      w_.scheduler.note(plan_.fault == JoinFault::kKill ? "kill -9 the new primary"
                                                        : "the new primary's host dies");
      live_.vcpu.kill();
      live_.worker.kill();
      w_.network.crash(live_.node);
      link.primary_died(plan_.fault == JoinFault::kHostLost);
      w_.clients.server_died();
      break;
    case JoinFault::kPartition:
      link.partition();
      w_.scheduler.after(plan_.length, "the new pair's partition heals", [&link] { link.heal(); });
      break;
    case JoinFault::kNone:
    case JoinFault::kJoinerDies: break;
  }
}

bool JoinPhase::live_side_alive() const { return !live_.vcpu.killed() && !live_.ended(); }

bool JoinPhase::live_side_alone() const {
  return live_side_alive() && live_.side.state() == State::kAlone;
}

bool JoinPhase::joiner_live() const {
  return joiner_live_at_ > Time(0) && !joiner_->result().has_value();
}

bool JoinPhase::joiner_settled() const {
  return joiner_live_at_ > Time(0) || joiner_->result().has_value() || joiner_->dead();
}

void JoinPhase::check_step() {
  if (!joiner_) return;
  const Time now = w_.scheduler.now();
  const State state = live_.side.state();
  if (state == State::kAlone && side_alone_at_ == Time(0) && live_.side.joins() > 0) {
    side_alone_at_ = now;
  }
  if (state == State::kAlone && side_alone_at_ == Time(0) && joiner_->dead() &&
      joiner_->link().primary_gave_up_at()) {
    side_alone_at_ = now;
  }
  if (side_alone_at_ == now) answered_at_alone_ = w_.clients.answered();
  if (state == State::kLost && side_lost_at_ == Time(0)) side_lost_at_ = now;
  if (new_epoch_ == 0 && live_.side.joins() > 0) {
    new_epoch_ = live_.side.epoch();
    registered_at_ = now;
  }
  if (new_epoch_ != 0 && epoch_at_ == Time(0) && joiner_->link().backup_epoch() == new_epoch_) {
    epoch_at_ = now;  // the pair is fault tolerant again: the fault may come
    if (plan_.fault != JoinFault::kNone && plan_.fault != JoinFault::kJoinerDies &&
        !fault_scheduled_) {
      fault_scheduled_ = true;
      w_.scheduler.after(plan_.fault_after,
                         std::string("the fault on the new pair: ") + join_fault_name(plan_.fault),
                         [this] { fault_new_pair(); });
    }
  }
  if (live_side_alone() && joiner_live() && !two_live_said_) {
    two_live_said_ = true;
    w_.violated(fmt::format(
        "two sides live at epoch {}: {} went on alone at {} and the joiner went live at {}",
        live_.side.epoch(), live_.name, format_time(side_alone_at_), format_time(joiner_live_at_)));
  }
}

bool JoinPhase::settled() const {
  if (!joiner_) return false;
  const Time now = w_.scheduler.now();
  const Time serve = w_.serve_after_failover;
  if (joiner_->dead()) return side_alone_at_ > Time(0) && now >= side_alone_at_ + serve;
  // Without a fault, the pair serves a while, and until the joiner checked a state digest.
  if (!fault_scheduled_) {
    return epoch_at_ > Time(0) && now >= epoch_at_ + serve && joiner_->digests_checked() > 0;
  }
  if (fault_at_ == Time(0)) return false;
  const Time live_at = std::max(joiner_live_at_, side_alone_at_);
  if (live_at == Time(0) || now < live_at + serve) return false;
  const bool side_settled = live_.vcpu.killed() || live_.ended() || live_side_alone();
  return side_settled && joiner_settled();
}

// A side that gave its peer up at `noticed` decides within a retry interval of the arbiter
// answering; one that lost stops.
void JoinPhase::check_decided(const char* side, Time noticed, Time decided, bool lost, bool ended) {
  const Time by = noticed + std::chrono::duration_cast<Time>(ft::kArbiterRetry) + kDecisionSlack;
  if (decided == Time(0)) {
    w_.violated(
        fmt::format("{} gave its peer up at {} and never decided", side, format_time(noticed)));
  } else if (decided > by) {
    w_.violated(fmt::format("{} gave its peer up at {} and decided at {}, later than {}", side,
                            format_time(noticed), format_time(decided), format_time(by)));
  } else if (lost && !ended) {
    w_.violated(fmt::format("{} lost the pair at {} and did not stop", side, format_time(decided)));
  }
}

void JoinPhase::check_after(PairOutcome& out) {
  out.joined = joiner_ != nullptr;
  if (!joiner_) return;
  // A joiner told to die at a piece past the last one joined whole: nothing befell the pair.
  out.join_fault =
      plan_.fault == JoinFault::kJoinerDies && !joiner_->dead() ? JoinFault::kNone : plan_.fault;
  out.join_at = started_at_;
  out.join_epoch = new_epoch_;
  out.join_registered_at = registered_at_;
  out.join_fault_at = fault_at_;
  out.joiner_live_at = joiner_live_at_;
  out.joiner_digests = joiner_->digests_checked();
  const auto& result = joiner_->result();
  if (result && result->outcome == hypervisor::RunResult::Outcome::kDiverged) {
    w_.violated("the joiner diverged from " + live_.name + ": " + result->report);
  }
  LogLink& link = joiner_->link();
  if (joiner_->dead()) {
    // Its host died mid-join: the live side, which never registered it, goes on alone.
    if (new_epoch_ != 0) {
      w_.violated(fmt::format("{} registered epoch {} with a joiner that died mid-join", live_.name,
                              new_epoch_));
    } else if (side_alone_at_ == Time(0)) {
      w_.violated(live_.name + " did not go on alone after its joiner died mid-join");
    } else if (w_.clients.answered() == answered_at_alone_) {
      w_.violated(live_.name + " went on alone after its joiner died and answered nobody");
    }
    return;
  }
  if (fault_at_ == Time(0)) {
    // What the arbiter decided, whether or not it is down now.
    const arbiter::ArbiterState at = w_.arbiter.read(w_.pair);
    if (new_epoch_ == 0) {
      w_.violated(fmt::format("the joiner never made the pair whole: {} registered no new epoch",
                              live_.name));
    } else if (new_epoch_ != old_epoch_ + 1 || at.epoch != new_epoch_ || at.holder != live_.id) {
      w_.violated(fmt::format("the join registered epoch {} after {}, and the arbiter is at {}",
                              new_epoch_, old_epoch_, arbiter::describe(at)));
    } else if (link.backup_epoch() != new_epoch_) {
      w_.violated(fmt::format("the joiner never heard epoch {}", new_epoch_));
    } else if (live_.side.state() != State::kPaired) {
      w_.violated(live_.name + " is not paired with the joiner after the join");
    } else if (joiner_->digests_checked() == 0) {
      w_.violated("the joiner checked no state digest against " + live_.name + "'s");
    }
    return;
  }
  if (const auto noticed = link.backup_gave_up_at()) {
    check_decided("the joiner", *noticed, std::max(joiner_live_at_, joiner_declined_at_),
                  joiner_declined_at_ > Time(0), joiner_->result().has_value());
  }
  if (const auto noticed = link.primary_gave_up_at(); noticed && !live_.vcpu.killed()) {
    check_decided(live_.name.c_str(), *noticed, std::max(side_alone_at_, side_lost_at_),
                  side_lost_at_ > Time(0), live_.ended());
  }
  if (joiner_live_at_ > Time(0)) {
    if (w_.clients.answered_since_failover() == 0) {
      w_.violated("the joiner went live and answered nobody");
    }
  } else if (side_alone_at_ > Time(0)) {
    if (w_.clients.answered() == answered_at_alone_) {
      w_.violated(live_.name +
                  " went on alone after the fault on the new pair and answered "
                  "nobody");
    }
  } else {
    w_.violated("no side went live after the fault on the new pair");
  }
}

}  // namespace vmft::sim
