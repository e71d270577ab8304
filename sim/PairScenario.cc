#include "vmft/sim/PairScenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "FaultPlan.h"
#include "JoinPhase.h"
#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/ft/Takeover.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/hypervisor/Snapshot.h"
#include "vmft/sim/ArbiterLink.h"
#include "vmft/sim/IncrClients.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/Network.h"
#include "vmft/sim/SimArbiter.h"
#include "vmft/sim/SimArbiterServer.h"
#include "vmft/sim/SimPrimaryEnd.h"
#include "vmft/sim/SimWorker.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

const char* fault_name(Fault fault) {
  switch (fault) {
    case Fault::kKill: return "the primary killed";
    case Fault::kHostLost: return "the primary's host lost";
    case Fault::kPartition: return "the log partitioned";
    case Fault::kPause: return "the primary paused";
    case Fault::kBackupKill: return "the backup killed";
    case Fault::kBackupHostLost: return "the backup's host lost";
    case Fault::kBackupPause: return "the backup paused";
  }
  return "?";
}

namespace {

using State = ft::LiveSide::State;

constexpr const char* kPair = "sim";
constexpr const char* kPrimaryId = "primary@sim";
constexpr const char* kBackupId = "backup@sim";
/// The processes' nodes on the simulated network, which carries what they say to the arbiter.
constexpr const char* kPrimaryNode = "primary";
constexpr const char* kBackupNode = "backup";
constexpr const char* kArbiterNode = "arbiter";
/// The backup checks the whole state (all of RAM) this often: 1 ms of simulated time while
/// the guest runs. A run's guest executes a few million instructions, and a joiner replays a
/// few hundred thousand before the run could end: each sees some digests.
constexpr uint64_t kDigestInterval = 1 << 20;
/// The epoch the primary registered with its backup in step before the run.
constexpr uint64_t kEpoch = 1;
/// What a decision may take beyond the arbiter's answer: the backup replays the rest of its
/// log, a side's vCPU stops at its next block boundary.
constexpr Time kDecisionSlack = std::chrono::milliseconds(2);

/// The events a side emits, written to the trace (they are part of what a seed replays).
class TracedEvents final : public ft::EventSink {
 public:
  TracedEvents(Scheduler& scheduler, std::string side)
      : scheduler_(scheduler), side_(std::move(side)) {}
  void emit(const ft::Event& event) override {
    scheduler_.note(side_ + ": event " + ft::event_name(ft::kind_of(event)));
  }

 private:
  Scheduler& scheduler_;
  std::string side_;
};

/// What a server's output gate sends the clients, watched: a side that lost must send nothing.
class WatchedNet final : public devices::NetBackend {
 public:
  WatchedNet(devices::NetBackend& net, std::function<void()> on_send)
      : net_(net), on_send_(std::move(on_send)) {}
  bool has_udp() const override { return net_.has_udp(); }
  bool has_tcp() const override { return net_.has_tcp(); }
  std::optional<devices::FrameConfig> frames() const override { return net_.frames(); }
  void send_frame(std::vector<uint8_t> frame) override { net_.send_frame(std::move(frame)); }
  void send_udp(uint32_t ip, uint32_t port, std::vector<uint8_t> data) override {
    net_.send_udp(ip, port, std::move(data));
  }
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override {
    on_send_();
    net_.send_tcp(conn, std::move(data));
  }
  void close_tcp(uint32_t conn) override { net_.close_tcp(conn); }
  void delivered(const devices::NetEvent& event) override { net_.delivered(event); }

 private:
  devices::NetBackend& net_;
  std::function<void()> on_send_;
};

/// Builds the MachineConfig and LogHeader every side of the pair shares.
hypervisor::MachineConfig machine_config(const PairScenario& scenario) {
  hypervisor::MachineConfig config;
  config.ram_size = scenario.ram_size;
  config.digest_interval = kDigestInterval;
  return config;
}

logchannel::LogHeader log_header(const PairScenario& scenario) {
  logchannel::LogHeader header;
  header.guest_name = "counter_small.elf";
  header.ram_size = scenario.ram_size;
  header.has_tcp = true;
  header.digest_interval = kDigestInterval;
  header.emulator = hypervisor::emulator_name();
  return header;
}

/// One run: the pair, its fault, and what the checks need. Its members are declared in the
/// order they must be built; the vCPUs, declared after what their runs use, end their runs
/// first when it goes, and the live side and its worker before them.
class PairRun {
 public:
  PairRun(const PairScenario& scenario, uint64_t seed);
  PairRun(const PairRun&) = delete;
  PairRun& operator=(const PairRun&) = delete;
  /// What a dead or stopped process still runs as this goes must decide nothing: its waits
  /// for the arbiter give up, and its retries end on its stop request.
  ~PairRun();

  PairOutcome run();

 private:
  hypervisor::Role* go_live(const hypervisor::Takeover& t);
  void schedule(const FaultPlan& plan);
  void schedule_fault(const FaultStep& step);
  void schedule_arbiter_trouble(const FaultPlan& plan);
  void check_unnoticed_before(const FaultStep& last);
  void start_backup_live_side(uint64_t epoch);
  void start_join();
  void violated(std::string what);
  bool primary_live() const;
  bool backup_live() const;
  void check_step();
  bool failover_settled() const;
  bool settled() const;
  void check_after();
  void check_guest_ran(const char* side, const hypervisor::RunResult& result);
  void check_failover();
  void check_answers();
  void check_decided(const char* side, Time noticed, Time decided, bool lost, bool ended);
  void check_no_side_stuck();
  void check_after_brief_faults();
  void check_live_sides_won();

  const PairScenario& scenario_;
  Scheduler s_;
  PairOutcome out_;
  FaultPlan plan_;
  bool brief_ = false;

  SimArbiter arbiter_;
  Network network_{s_, {}};
  SimArbiterServer arbiter_server_{network_, kArbiterNode, arbiter_};
  // The backup's claim on its vCPU, whose run ends after this goes: the link outlives it.
  std::unique_ptr<ArbiterLink> backup_arbiter_;
  hypervisor::InputQueue primary_inputs_, backup_inputs_;
  IncrClients clients_;
  WatchedNet primary_net_;
  hypervisor::OutputGate gate_{primary_net_};
  LogLink link_;
  SimPrimaryEnd primary_end_;
  // The backup's gate and end once it went live, as `vmft backup` has them: a backup may join.
  WatchedNet backup_net_;
  hypervisor::OutputGate backup_gate_{backup_net_};
  SimPrimaryEnd backup_end_;
  TracedEvents primary_events_{s_, "primary"}, backup_events_{s_, "backup"};
  TracedEvents joiner_events_{s_, "joiner"};
  std::unique_ptr<ft::ArbiterClient> backup_client_;
  std::unique_ptr<hypervisor::LiveRole> live_;
  hypervisor::RunResult primary_result_, backup_result_;
  bool backup_ended_ = false, primary_ended_ = false;
  Time backup_declined_at_{0}, primary_lost_at_{0};
  uint64_t answered_at_fault_ = 0, answered_at_fault_end_ = 0, answered_at_alone_ = 0;
  uint64_t released_after_losing_ = 0;
  bool two_live_said_ = false;
  JoinPlan join_plan_;
  bool failover_checked_ = false;
  std::unique_ptr<JoinPhase> join_;  // its joiner's link outlives what the vCPUs send on it
  Vcpu primary_{s_, "primary", primary_inputs_};
  Vcpu backup_{s_, "backup", backup_inputs_};
  // The primary's live side, as `vmft primary` runs it: its decisions on a worker of its
  // process, asking the arbiter through its own client.
  SimWorker primary_worker_{s_, "primary: the live side"};
  ArbiterLink primary_arbiter_{network_, kPrimaryNode, primary_worker_.parker(),
                               arbiter_server_.address()};
  ft::ArbiterClient primary_client_{primary_arbiter_, arbiter_server_.address(),
                                    primary_worker_.clock()};
  std::unique_ptr<ft::LiveSide> live_side_;
  // The backup's live side once it went live, on a worker of its process.
  SimWorker backup_worker_{s_, "backup: the live side"};
  ArbiterLink backup_live_arbiter_{network_, kBackupNode, backup_worker_.parker(),
                                   arbiter_server_.address()};
  ft::ArbiterClient backup_live_client_{backup_live_arbiter_, arbiter_server_.address(),
                                        backup_worker_.clock()};
  std::unique_ptr<ft::LiveSide> backup_live_side_;
};

PairRun::PairRun(const PairScenario& scenario, uint64_t seed)
    : scenario_(scenario),
      s_(seed),
      clients_(s_, {.clients = scenario.clients}),
      primary_net_(clients_,
                   [this] {
                     const bool lost = live_side_ && live_side_->state() == State::kLost;
                     if (lost && released_after_losing_++ == 0) {
                       violated("the primary released output after it lost the pair");
                     }
                   }),
      link_(s_, log_header(scenario), {}),
      primary_end_(link_, scenario.primary_goes_on_without_asking),
      backup_net_(clients_, [this] {
        const bool lost = backup_live_side_ && backup_live_side_->state() == State::kLost;
        if (lost && released_after_losing_++ == 0) {
          violated("the backup, gone live, released output after it lost the pair");
        }
      }) {
  out_.seed = seed;
  backup_arbiter_ = std::make_unique<ArbiterLink>(network_, kBackupNode, backup_.parker(),
                                                  arbiter_server_.address());
  if (scenario.errors_are_wins) {
    primary_arbiter_.take_errors_for_wins();
    backup_arbiter_->take_errors_for_wins();
    backup_live_arbiter_.take_errors_for_wins();
  }
  // The primary registered epoch 1 with its backup in step, and the backup has it.
  arbiter_.register_epoch(kPair, 0, kPrimaryId);
  backup_client_ = std::make_unique<ft::ArbiterClient>(*backup_arbiter_, arbiter_server_.address(),
                                                       backup_.ft_clock());
  auto& primary_role =
      primary_.boot(scenario.counter, machine_config(scenario_),
                    std::make_unique<hypervisor::LiveRole>(
                        hypervisor::HostServices{primary_.clock(), primary_.entropy(),
                                                 primary_.timer(), primary_net_},
                        primary_inputs_, &primary_end_.sink(primary_, gate_),
                        scenario.without_output_rule ? nullptr : &gate_));
  primary_role.report_progress_every(100'000);
  primary_worker_.after_running([this] { primary_.poke(); });
  live_side_ = std::make_unique<ft::LiveSide>(ft::LiveSide::Setup{
      .pair = kPair,
      .side = "primary",
      .me = kPrimaryId,
      .arbiter = scenario.primary_goes_on_without_asking ? nullptr : &primary_client_,
      .channel = primary_end_,
      .gate = gate_,
      .inputs = primary_inputs_,
      .clock = primary_worker_.clock(),
      .events = &primary_events_,
      .worker = &primary_worker_,
      .hash_pages = hypervisor::ram_page_hashes});
  live_side_->set_machine(primary_.machine(), [&primary_role] { return primary_role.last_seq(); });
  live_side_->paired(kEpoch);
  backup_.boot(scenario.counter, machine_config(scenario_),
               std::make_unique<hypervisor::BackupRole>(
                   link_.source(backup_), backup_inputs_,
                   [this](const hypervisor::Takeover& t) { return go_live(t); }));
}

PairRun::~PairRun() {
  primary_inputs_.request_stop();
  backup_inputs_.request_stop();
  primary_worker_.finish();  // its task ends while its live side is still there
  live_side_.reset();
  backup_worker_.finish();
  backup_live_side_.reset();
  // The backup's claim link waits on its vCPU's parker, and closes its kept connection through
  // it: the run ends first (it may be in a claim), then the link goes, then the vCPU.
  backup_.end_run();
  backup_client_.reset();
  backup_arbiter_.reset();
}

// As `vmft backup` goes live: claim the pair, and go on with the guest's connections closed.
hypervisor::Role* PairRun::go_live(const hypervisor::Takeover& t) {
  const ft::Claim claim = ft::claim_pair(kPair, kBackupId, backup_client_.get(), kEpoch, t.icount,
                                         backup_inputs_, &backup_events_);
  if (claim.result != ft::Claim::Result::kWon) {
    if (claim.result == ft::Claim::Result::kDeclined) backup_declined_at_ = backup_.now();
    return nullptr;
  }
  live_ = std::make_unique<hypervisor::LiveRole>(
      hypervisor::HostServices{backup_.clock(), backup_.entropy(), backup_.timer(), backup_net_},
      backup_inputs_, &backup_end_.sink(backup_, backup_gate_), &backup_gate_);
  start_backup_live_side(claim.epoch);
  ft::reset_connections(t, backup_inputs_);
  if (!primary_.killed()) clients_.server_died();  // its connections go with its address
  clients_.switch_to(backup_, t.highest_connection + 1);
  out_.went_live_at = backup_.now();
  backup_events_.emit(ft::WentLive{claim.epoch, t.icount});
  return live_.get();
}

// As `vmft backup` that went live with a listener: a live side of its own, alone at the epoch
// it won, taking backups that join.
void PairRun::start_backup_live_side(uint64_t epoch) {
  backup_worker_.after_running([this] { backup_.poke(); });
  backup_live_side_ = std::make_unique<ft::LiveSide>(
      ft::LiveSide::Setup{.pair = kPair,
                          .side = "live side",
                          .me = kBackupId,
                          .arbiter = &backup_live_client_,
                          .channel = backup_end_,
                          .gate = backup_gate_,
                          .inputs = backup_inputs_,
                          .clock = backup_worker_.clock(),
                          .events = &backup_events_,
                          .worker = &backup_worker_,
                          .hash_pages = hypervisor::ram_page_hashes});
  backup_live_side_->set_machine(backup_.machine(), [this] { return live_->last_seq(); });
  backup_live_side_->alone(epoch);
}

// The failover is over and one side runs alone: a backup joins it.
void PairRun::start_join() {
  check_failover();
  const bool backup_won = out_.went_live_at > Time(0);
  LiveProcess live = backup_won ? LiveProcess{"the backup",       kBackupId,
                                              kBackupNode,        backup_,
                                              backup_worker_,     backup_end_,
                                              *backup_live_side_, [this] { return backup_ended_; }}
                                : LiveProcess{"the primary",   kPrimaryId,
                                              kPrimaryNode,    primary_,
                                              primary_worker_, primary_end_,
                                              *live_side_,     [this] { return primary_ended_; }};
  join_ = std::make_unique<JoinPhase>(
      JoinPhase::World{.scheduler = s_,
                       .network = network_,
                       .arbiter = arbiter_,
                       .arbiter_address = arbiter_server_.address(),
                       .clients = clients_,
                       .pair = kPair,
                       .image = scenario_.counter,
                       .config = machine_config(scenario_),
                       .header = log_header(scenario_),
                       .events = joiner_events_,
                       .violated = [this](std::string what) { violated(std::move(what)); },
                       .serve_after_failover = scenario_.serve_after_failover},
      join_plan_, std::move(live));
  s_.after(Time(0), "a backup joins", [this] { join_->start(); });
}

void PairRun::schedule(const FaultPlan& plan) {
  schedule_arbiter_trouble(plan);
  for (const FaultStep& step : plan.faults) schedule_fault(step);
  const FaultStep& last = plan.last();
  s_.at(last.at, "the last fault comes", [this, last] {
    check_unnoticed_before(last);
    answered_at_fault_ = clients_.answered();
  });
}

void PairRun::schedule_arbiter_trouble(const FaultPlan& plan) {
  if (plan.outage) {
    s_.at(plan.down, "the arbiter goes down", [this] { arbiter_server_.crash(); });
    s_.at(plan.back, "the arbiter is back", [this] { arbiter_server_.restart(); });
  }
  if (plan.disk_full) {
    s_.at(plan.full, "the arbiter's disk is full", [this] { arbiter_.set_disk_full(true); });
    s_.at(plan.freed, "the arbiter's disk has room again",
          [this] { arbiter_.set_disk_full(false); });
  }
}

void PairRun::schedule_fault(const FaultStep& step) {
  const bool host_lost = step.fault == Fault::kHostLost || step.fault == Fault::kBackupHostLost;
  switch (step.fault) {
    case Fault::kKill:
    case Fault::kHostLost:
      s_.at(step.at, host_lost ? "the primary's host dies" : "kill -9 the primary",
            [this, host_lost] {
              primary_.kill();
              primary_worker_.kill();
              network_.crash(kPrimaryNode);
              link_.primary_died(host_lost);
              clients_.server_died();
            });
      break;
    case Fault::kBackupKill:
    case Fault::kBackupHostLost:
      s_.at(step.at, host_lost ? "the backup's host dies" : "kill -9 the backup",
            [this, host_lost] {
              backup_.kill();
              network_.crash(kBackupNode);
              link_.backup_died(host_lost);
            });
      break;
    case Fault::kPartition: {
      // Only the last fault, a long partition, may cut a side off the arbiter.
      const bool primary_cut = plan_.primary_isolated && !step.brief();
      const bool backup_cut = plan_.backup_isolated && !step.brief();
      s_.at(step.at, "the log is partitioned", [this, primary_cut, backup_cut] {
        link_.partition();
        if (primary_cut) network_.partition(kPrimaryNode, kArbiterNode);
        if (backup_cut) network_.partition(kBackupNode, kArbiterNode);
      });
      s_.at(step.end(), "the partition heals", [this, primary_cut, backup_cut] {
        link_.heal();
        if (primary_cut) network_.heal(kPrimaryNode, kArbiterNode);
        if (backup_cut) network_.heal(kBackupNode, kArbiterNode);
        answered_at_fault_end_ = clients_.answered();
      });
      break;
    }
    case Fault::kPause:
      s_.at(step.at, "the primary is paused", [this] {
        primary_.pause();
        primary_worker_.pause();
        link_.pause_primary();
        network_.pause(kPrimaryNode);
      });
      s_.at(step.end(), "the primary resumes", [this] {
        answered_at_fault_end_ = clients_.answered();
        network_.resume(kPrimaryNode);
        link_.resume_primary();
        primary_worker_.resume();
        primary_.resume();
      });
      break;
    case Fault::kBackupPause:
      // Its vCPU and its end of the log: the claim it makes runs on its vCPU.
      s_.at(step.at, "the backup is paused", [this] {
        backup_.pause();
        link_.pause_backup();
        network_.pause(kBackupNode);
      });
      s_.at(step.end(), "the backup resumes", [this] {
        answered_at_fault_end_ = clients_.answered();
        network_.resume(kBackupNode);
        link_.resume_backup();
        backup_.resume();
      });
      break;
  }
}

// As the last fault comes, the brief ones before it went unnoticed.
void PairRun::check_unnoticed_before(const FaultStep& last) {
  if (plan_.faults.size() < 2) return;
  if (link_.backup_gave_up_at() || link_.primary_gave_up_at()) {
    violated(fmt::format("a side gave its peer up at {}, before {} at {}, after brief faults only",
                         format_time(link_.backup_gave_up_at().value_or(
                             link_.primary_gave_up_at().value_or(Time(0)))),
                         fault_name(last.fault), format_time(last.at)));
  } else if (live_side_->state() != State::kPaired || out_.went_live_at > Time(0)) {
    violated("the pair did not stay paired through the brief faults before " +
             std::string(fault_name(last.fault)));
  }
}

void PairRun::violated(std::string what) {
  s_.note("VIOLATED: " + what);
  out_.violations.push_back(std::move(what));
}

bool PairRun::primary_live() const {
  return !primary_.killed() && !primary_ended_ && live_side_->state() == State::kAlone;
}

bool PairRun::backup_live() const { return out_.went_live_at > Time(0) && !backup_ended_; }

// After every step: never two sides live at one epoch.
void PairRun::check_step() {
  const State state = live_side_->state();
  if (state == State::kAlone && out_.alone_at == Time(0)) {
    out_.alone_at = s_.now();
    answered_at_alone_ = clients_.answered();
  }
  if (state == State::kLost && primary_lost_at_ == Time(0)) primary_lost_at_ = s_.now();
  if (primary_live() && backup_live() && !two_live_said_) {
    two_live_said_ = true;
    violated(fmt::format(
        "two sides live at epoch {}: the primary went on alone at {} and the backup went live at "
        "{}",
        live_side_->epoch(), format_time(out_.alone_at), format_time(out_.went_live_at)));
  }
}

// The run ends once the failover is over (or, for a seed with a join, the join and its fault;
// JoinPhase::settled).
bool PairRun::settled() const {
  if (join_plan_.join) return join_ && join_->settled();
  return failover_settled();
}

// The failover is over once the winner served a while and the loser settled, or a brief fault
// is over and the pair served a while since.
bool PairRun::failover_settled() const {
  if (brief_) return s_.now() >= plan_.last().end() + scenario_.serve_after_failover;
  const Time live_at = std::max(out_.went_live_at, out_.alone_at);
  if (live_at == Time(0) || s_.now() < live_at + scenario_.serve_after_failover) return false;
  const bool primary_settled =
      primary_.killed() || primary_ended_ || live_side_->state() == State::kAlone;
  const bool backup_settled = backup_.killed() || out_.went_live_at > Time(0) || backup_ended_;
  return primary_settled && backup_settled;
}

PairOutcome PairRun::run() {
  primary_.start([this](const hypervisor::RunResult& r) {
    primary_result_ = r;
    primary_ended_ = true;
  });
  backup_.start([this](const hypervisor::RunResult& r) {
    backup_result_ = r;
    backup_ended_ = true;
  });
  clients_.start(primary_);
  link_.start();
  plan_ = draw_fault_plan(s_.random());
  out_.fault = plan_.last().fault;
  out_.fault_at = plan_.last().at;
  out_.fault_length = plan_.last().length;
  out_.brief_before = static_cast<int>(plan_.faults.size()) - 1;
  out_.arbiter_outage = plan_.outage;
  out_.primary_isolated = plan_.primary_isolated;
  out_.backup_isolated = plan_.backup_isolated;
  if (plan_.outage) out_.arbiter_back = plan_.back;
  out_.disk_full = plan_.disk_full;
  if (plan_.disk_full) out_.disk_freed_at = plan_.freed;
  brief_ = plan_.all_brief();
  // A live side without an arbiter takes no joiner: it could never register a new epoch.
  join_plan_ = draw_join_plan(
      out_.seed, scenario_.joins && !brief_ && !scenario_.primary_goes_on_without_asking);
  schedule(plan_);

  const Time run_at_most =
      scenario_.run_at_most + (join_plan_.join ? scenario_.join_takes_at_most : Time(0));
  while (s_.now() < run_at_most && !settled()) {
    if (!s_.step()) break;
    check_step();
    if (join_plan_.join && !join_ && failover_settled()) start_join();
    if (join_) join_->check_step();
  }
  s_.note("the run ends");
  check_after();
  out_.trace_digest = s_.trace().digest();
  if (!out_.violations.empty()) out_.trace_tail = s_.trace().tail();
  return out_;
}

void PairRun::check_after() {
  check_guest_ran("the primary", primary_result_);
  check_guest_ran("the backup", backup_result_);
  if (!failover_checked_) check_failover();
  check_answers();
  if (backup_ended_ && backup_result_.outcome == hypervisor::RunResult::Outcome::kDiverged) {
    violated("the backup diverged from its primary: " + backup_result_.report);
  }
  for (const auto& [e, holders] : arbiter_.winners(kPair)) {
    if (holders.size() > 1) violated(fmt::format("{} sides won epoch {}", holders.size(), e));
  }
  if (join_) join_->check_after(out_);
}

// The counter serves until it is stopped: a guest whose run ended by itself did not start (its
// tables do not fit its RAM) or crashed, and what the other checks say follows from that.
void PairRun::check_guest_ran(const char* side, const hypervisor::RunResult& result) {
  using Outcome = hypervisor::RunResult::Outcome;
  if (result.outcome == Outcome::kExited) {
    violated(
        fmt::format("{}'s guest exited with code {} at instruction {} (its RAM, {} KiB, too "
                    "small for it?)",
                    side, result.exit_code, result.instructions, scenario_.ram_size / 1024));
  } else if (result.outcome == Outcome::kFaulted) {
    violated(fmt::format("{}'s guest faulted at instruction {}: {}", side, result.instructions,
                         result.report));
  }
}

// The failover's outcome and that no side is stuck in it: once it is over (a seed with a join
// goes on with the join).
void PairRun::check_failover() {
  failover_checked_ = true;
  out_.answered_before = answered_at_fault_;
  out_.answered_after = out_.went_live_at > Time(0) ? clients_.answered_since_failover()
                        : out_.alone_at > Time(0)   ? clients_.answered() - answered_at_alone_
                                                    : clients_.answered() - answered_at_fault_end_;
  out_.lost_at = std::max(backup_declined_at_, primary_lost_at_);
  check_live_sides_won();
  check_no_side_stuck();
}

// Nothing acknowledged lost: no client saw a value go back, and no value was answered twice.
void PairRun::check_answers() {
  for (const std::string& problem : clients_.problems()) violated("a client: " + problem);
  std::map<long long, size_t> answered_by;  // each value answered, and the client answered it
  std::vector<std::string> twice;
  for (size_t c = 0; c < clients_.answers().size(); c++) {
    for (long long v : clients_.answers()[c]) {
      const auto [it, fresh] = answered_by.emplace(v, c);
      if (!fresh) twice.push_back(fmt::format("{} (clients {} and {})", v, it->second, c));
    }
  }
  if (!twice.empty()) {
    violated(fmt::format(
        "{} value(s) answered twice, first {}: the counter went back past an acknowledged INCR",
        twice.size(), twice.front()));
  }
}

// A side that gave its peer up at `noticed` decides within a retry interval of the arbiter
// answering, and the client's timeout (an attempt under way as the arbiter came back may wait
// it out first); one that lost stops.
void PairRun::check_decided(const char* side, Time noticed, Time decided, bool lost, bool ended) {
  const Time by = std::max({noticed, out_.arbiter_back, out_.disk_freed_at}) +
                  std::chrono::duration_cast<Time>(ft::kArbiterRetry + ArbiterLink::kTimeout) +
                  kDecisionSlack;
  if (decided == Time(0)) {
    violated(
        fmt::format("{} gave its peer up at {} and never decided", side, format_time(noticed)));
  } else if (decided > by) {
    violated(fmt::format("{} gave its peer up at {} and decided at {}, later than {}", side,
                         format_time(noticed), format_time(decided), format_time(by)));
  } else if (lost && !ended) {
    violated(fmt::format("{} lost the pair at {} and did not stop", side, format_time(decided)));
  }
}

void PairRun::check_no_side_stuck() {
  if (brief_) {
    check_after_brief_faults();
    return;
  }
  // A side cut off the arbiter hears it again when the partition heals.
  const Time heals = plan_.last().end();
  if (const auto noticed = link_.backup_gave_up_at(); noticed && !backup_.killed()) {
    check_decided("the backup", std::max(*noticed, plan_.backup_isolated ? heals : Time(0)),
                  std::max(out_.went_live_at, backup_declined_at_), backup_declined_at_ > Time(0),
                  backup_ended_);
  }
  if (const auto noticed = link_.primary_gave_up_at(); noticed && !primary_.killed()) {
    check_decided("the primary", std::max(*noticed, plan_.primary_isolated ? heals : Time(0)),
                  std::max(out_.alone_at, primary_lost_at_), primary_lost_at_ > Time(0),
                  primary_ended_);
  }
  if (out_.went_live_at > Time(0)) {
    if (out_.answered_after == 0) violated("the backup went live and answered nobody");
  } else if (out_.alone_at > Time(0)) {
    if (out_.answered_after == 0) violated("the primary went on alone and answered nobody");
  } else {
    violated("no side went live");
  }
}

// After brief faults only, nobody gave up, and the pair is still paired and served since.
void PairRun::check_after_brief_faults() {
  if (link_.backup_gave_up_at() || link_.primary_gave_up_at()) {
    violated(fmt::format("a side gave its peer up after {} brief fault(s), the last of {}",
                         plan_.faults.size(), format_time(plan_.last().length)));
  } else if (live_side_->state() != State::kPaired || out_.went_live_at > Time(0)) {
    violated("the pair did not stay paired after a brief fault");
  } else if (out_.answered_after == 0) {
    violated("the pair answered nobody after a brief fault");
  }
}

// A side that went live won its epoch at the arbiter: a primary that went on alone, at the
// epoch it was paired at; a backup, at the one its primary registered with it.
void PairRun::check_live_sides_won() {
  const auto winners = arbiter_.winners(kPair);
  const auto won = [&](uint64_t epoch, const char* id) {
    const auto it = winners.find(epoch);
    return it != winners.end() && it->second.contains(id);
  };
  if (out_.alone_at > Time(0) && (live_side_->epoch() != kEpoch || !won(kEpoch, kPrimaryId))) {
    violated(fmt::format("the primary went on alone at epoch {} without winning it at the arbiter",
                         live_side_->epoch()));
  }
  if (out_.went_live_at > Time(0) && !won(kEpoch, kBackupId)) {
    violated(
        fmt::format("the backup went live at epoch {} without winning it at the arbiter", kEpoch));
  }
}

}  // namespace

PairOutcome run_pair_scenario(const PairScenario& scenario, uint64_t seed) {
  return PairRun(scenario, seed).run();
}

}  // namespace vmft::sim
