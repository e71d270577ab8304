#include "vmft/sim/PairScenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/LiveSide.h"
#include "vmft/ft/Takeover.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/sim/IncrClients.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/SimArbiter.h"
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
  }
  return "?";
}

namespace {

using State = ft::LiveSide::State;

constexpr const char* kPair = "sim";
constexpr const char* kPrimaryId = "primary@sim";
constexpr const char* kBackupId = "backup@sim";
/// The backup checks the whole state (all of RAM) this often: 4 ms of simulated time.
constexpr uint64_t kDigestInterval = 1 << 22;
constexpr uint64_t kRamBytes = 16ULL << 20;
/// A brief partition or pause is shorter than this, a long one at least kLongFault: the peer
/// timeout (200 ms) counts from the last message heard, up to a heartbeat interval (25 ms)
/// before the fault, and is looked at every heartbeat interval.
constexpr Time kBriefFault = std::chrono::milliseconds(150);
constexpr Time kLongFault = std::chrono::milliseconds(250);
/// A long partition lasts up to this; a long pause up to kLongestPause: the backup serves from
/// the peer timeout until the primary resumes and settles, and serving is what costs.
constexpr Time kLongestPartition = std::chrono::milliseconds(500);
constexpr Time kLongestPause = std::chrono::milliseconds(300);
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

struct Plan {
  Fault fault;
  Time at;
  Time length{0};
  bool outage;
  Time down{0}, back{0};
};

Plan draw_plan(Random& random) {
  Plan plan;
  plan.at = Time(random.between(2'000'000, 30'000'000));
  plan.fault = static_cast<Fault>(random.below(4));
  if (plan.fault == Fault::kPartition || plan.fault == Fault::kPause) {
    plan.length = random.chance(0.25)
                      ? Time(random.between(5'000'000, kBriefFault.count()))
                      : Time(random.between(kLongFault.count(), plan.fault == Fault::kPause
                                                                    ? kLongestPause.count()
                                                                    : kLongestPartition.count()));
  }
  plan.outage = random.chance(1.0 / 3);
  if (plan.outage) {
    // Around when the sides ask: at once after a kill, a peer timeout later otherwise (or, after
    // a long pause, when the primary resumes).
    const bool at_once = plan.fault == Fault::kKill;
    const Time asks = at_once                       ? plan.at
                      : plan.fault == Fault::kPause ? plan.at + std::chrono::milliseconds(200)
                                                    : plan.at + std::chrono::milliseconds(190);
    const Time spread = plan.fault == Fault::kPause ? plan.length : std::chrono::milliseconds(40);
    plan.down = asks - std::chrono::milliseconds(1) + Time(random.between(0, spread.count()));
    plan.back = plan.down + Time(random.between(0, 40'000'000));
  }
  return plan;
}

}  // namespace

PairOutcome run_pair_scenario(const PairScenario& scenario, uint64_t seed) {
  Scheduler s(seed);
  PairOutcome out;
  out.seed = seed;
  auto violated = [&](std::string what) {
    s.note("VIOLATED: " + what);
    out.violations.push_back(std::move(what));
  };

  hypervisor::MachineConfig config;
  config.ram_size = kRamBytes;
  config.digest_interval = kDigestInterval;
  logchannel::LogHeader header;
  header.guest_name = "counter.elf";
  header.ram_size = kRamBytes;
  header.has_tcp = true;
  header.digest_interval = kDigestInterval;
  header.emulator = hypervisor::emulator_name();

  SimArbiter arbiter;
  ArbiterLink primary_arbiter(arbiter), backup_arbiter(arbiter);
  // The primary registered epoch 1 with its backup in step, and the backup has it.
  arbiter.register_epoch(kPair, 0, kPrimaryId);
  const uint64_t epoch = 1;

  // Declared before the vCPUs, which end their runs first when this returns.
  hypervisor::InputQueue primary_inputs, backup_inputs;
  IncrClients clients(s, {.clients = scenario.clients});
  // Set once the primary's live side exists: whether it lost the pair.
  std::function<bool()> primary_lost_the_pair = [] { return false; };
  uint64_t released_after_losing = 0;
  WatchedNet primary_net(clients, [&] {
    if (primary_lost_the_pair() && released_after_losing++ == 0) {
      violated("the primary released output after it lost the pair");
    }
  });
  hypervisor::OutputGate gate(primary_net);
  LogLink link(s, header, {});
  TracedEvents primary_events(s, "primary"), backup_events(s, "backup");
  std::unique_ptr<ft::ArbiterClient> backup_client;
  std::unique_ptr<hypervisor::LiveRole> live;
  Time backup_declined_at{0}, primary_lost_at{0};
  uint64_t answered_at_alone = 0;
  hypervisor::RunResult backup_result;
  bool backup_ended = false, primary_ended = false;
  Vcpu primary(s, "primary", primary_inputs);
  Vcpu backup(s, "backup", backup_inputs);
  backup_client = std::make_unique<ft::ArbiterClient>(backup_arbiter, "the simulated arbiter",
                                                      backup.ft_clock());

  auto& primary_role = primary.boot(scenario.counter, config,
                                    std::make_unique<hypervisor::LiveRole>(
                                        hypervisor::HostServices{primary.clock(), primary.entropy(),
                                                                 primary.timer(), primary_net},
                                        primary_inputs, &link.sink(primary, gate),
                                        scenario.without_output_rule ? nullptr : &gate));
  primary_role.report_progress_every(100'000);

  // The primary's live side, as `vmft primary` runs it: paired at the epoch it registered, its
  // decisions on a worker of its process, asking the arbiter through its own client.
  SimWorker primary_worker(s, "primary: the live side");
  primary_worker.after_running([&] { primary.poke(); });
  ft::ArbiterClient primary_client(primary_arbiter, "the simulated arbiter",
                                   primary_worker.clock());
  SimPrimaryEnd primary_end(link, scenario.primary_goes_on_without_asking);
  ft::LiveSide live_side(
      {.pair = kPair,
       .side = "primary",
       .me = kPrimaryId,
       .arbiter = scenario.primary_goes_on_without_asking ? nullptr : &primary_client,
       .channel = primary_end,
       .gate = gate,
       .inputs = primary_inputs,
       .clock = primary_worker.clock(),
       .events = &primary_events,
       .worker = &primary_worker});
  live_side.paired(epoch);
  primary_lost_the_pair = [&] { return live_side.state() == State::kLost; };

  // As `vmft backup` goes live: claim the pair, and go on with the guest's connections closed.
  auto go_live = [&](const hypervisor::Takeover& t) -> hypervisor::Role* {
    const ft::Claim claim = ft::claim_pair(kPair, kBackupId, backup_client.get(), epoch, t.icount,
                                           backup_inputs, &backup_events);
    if (claim.result != ft::Claim::Result::kWon) {
      if (claim.result == ft::Claim::Result::kDeclined) backup_declined_at = backup.now();
      return nullptr;
    }
    live = std::make_unique<hypervisor::LiveRole>(
        hypervisor::HostServices{backup.clock(), backup.entropy(), backup.timer(), clients},
        backup_inputs, nullptr);
    ft::reset_connections(t, backup_inputs);
    if (!primary.killed()) clients.server_died();  // its connections go with its address
    clients.switch_to(backup, t.highest_connection + 1);
    out.went_live_at = backup.now();
    backup_events.emit(ft::WentLive{claim.epoch, t.icount});
    return live.get();
  };
  backup.boot(
      scenario.counter, config,
      std::make_unique<hypervisor::BackupRole>(link.source(backup), backup_inputs, go_live));
  primary.start([&](const hypervisor::RunResult&) { primary_ended = true; });
  backup.start([&](const hypervisor::RunResult& r) {
    backup_result = r;
    backup_ended = true;
  });
  clients.start(primary);
  link.start();

  // The fault.
  const Plan plan = draw_plan(s.random());
  out.fault = plan.fault;
  out.fault_at = plan.at;
  out.fault_length = plan.length;
  out.arbiter_outage = plan.outage;
  if (plan.outage) {
    out.arbiter_back = plan.back;
    s.at(plan.down, "the arbiter goes down", [&] { arbiter.set_down(true); });
    s.at(plan.back, "the arbiter is back", [&] { arbiter.set_down(false); });
  }
  uint64_t answered_at_fault = 0, answered_at_fault_end = 0;
  s.at(plan.at, "the fault comes", [&] { answered_at_fault = clients.answered(); });
  switch (plan.fault) {
    case Fault::kKill:
    case Fault::kHostLost:
      s.at(plan.at, plan.fault == Fault::kKill ? "kill -9 the primary" : "the primary's host dies",
           [&] {
             primary.kill();
             primary_worker.kill();
             primary_arbiter.cut();
             link.primary_died(plan.fault == Fault::kHostLost);
             clients.server_died();
           });
      break;
    case Fault::kPartition:
      s.at(plan.at, "the log is partitioned", [&] { link.partition(); });
      s.at(plan.at + plan.length, "the partition heals", [&] {
        link.heal();
        answered_at_fault_end = clients.answered();
      });
      break;
    case Fault::kPause:
      s.at(plan.at, "the primary is paused", [&] {
        primary.pause();
        primary_worker.pause();
        link.pause_primary();
      });
      s.at(plan.at + plan.length, "the primary resumes", [&] {
        answered_at_fault_end = clients.answered();
        link.resume_primary();
        primary_worker.resume();
        primary.resume();
      });
      break;
  }
  const bool brief = plan.length > Time(0) && plan.length <= kBriefFault;

  // After every step: never two sides live at one epoch.
  auto primary_live = [&] {
    return !primary.killed() && !primary_ended && live_side.state() == State::kAlone;
  };
  auto backup_live = [&] { return out.went_live_at > Time(0) && !backup_ended; };
  bool two_live_said = false;
  auto check_step = [&] {
    const State state = live_side.state();
    if (state == State::kAlone && out.alone_at == Time(0)) {
      out.alone_at = s.now();
      answered_at_alone = clients.answered();
    }
    if (state == State::kLost && primary_lost_at == Time(0)) primary_lost_at = s.now();
    if (primary_live() && backup_live() && !two_live_said) {
      two_live_said = true;
      violated(
          fmt::format("two sides live at epoch {}: the primary went on alone at {} and the "
                      "backup went live at {}",
                      live_side.epoch(), format_time(out.alone_at), format_time(out.went_live_at)));
    }
  };
  // The run ends once the winner served a while and the loser settled, or a brief fault is
  // over and the pair served a while since.
  auto settled = [&] {
    const Time first_live = std::max(out.went_live_at, out.alone_at);
    if (brief) {
      return s.now() >= plan.at + plan.length + scenario.serve_after_failover;
    }
    if (first_live == Time(0) || s.now() < first_live + scenario.serve_after_failover) return false;
    const bool primary_settled =
        primary.killed() || primary_ended || live_side.state() == State::kAlone;
    const bool backup_settled = out.went_live_at > Time(0) || backup_ended;
    return primary_settled && backup_settled;
  };
  // A side that gave its peer up at `noticed` decides within a retry interval of the arbiter
  // answering; one that lost stops.
  const Time retry = std::chrono::duration_cast<Time>(ft::kArbiterRetry);
  auto decides = [&](const char* side, Time noticed, Time decided, bool lost, bool ended) {
    const Time by = std::max(noticed, out.arbiter_back) + retry + kDecisionSlack;
    if (decided == Time(0)) {
      violated(
          fmt::format("{} gave its peer up at {} and never decided", side, format_time(noticed)));
    } else if (decided > by) {
      violated(fmt::format("{} gave its peer up at {} and decided at {}, later than {}", side,
                           format_time(noticed), format_time(decided), format_time(by)));
    } else if (lost && !ended) {
      violated(fmt::format("{} lost the pair at {} and did not stop", side, format_time(decided)));
    }
  };
  auto check_no_side_stuck = [&](std::optional<Time> backup_noticed,
                                 std::optional<Time> primary_noticed) {
    if (backup_noticed) {
      decides("the backup", *backup_noticed, std::max(out.went_live_at, backup_declined_at),
              backup_declined_at > Time(0), backup_ended);
    }
    if (primary_noticed && !primary.killed()) {
      decides("the primary", *primary_noticed, std::max(out.alone_at, primary_lost_at),
              primary_lost_at > Time(0), primary_ended);
    }
    if (out.went_live_at > Time(0)) {
      if (out.answered_after == 0) violated("the backup went live and answered nobody");
    } else if (out.alone_at > Time(0)) {
      if (out.answered_after == 0) {
        violated("the primary went on alone and answered nobody");
      }
    } else {
      violated("no side went live");
    }
  };

  while (s.now() < scenario.run_at_most && !settled()) {
    if (!s.step()) break;
    check_step();
  }
  s.note("the run ends");

  // The invariants.
  for (const std::string& problem : clients.problems()) violated("a client: " + problem);
  std::map<long long, int> answered_by;  // each value answered, and the client answered it
  std::vector<std::string> twice;
  for (size_t c = 0; c < clients.answers().size(); c++) {
    for (long long v : clients.answers()[c]) {
      const auto [it, fresh] = answered_by.emplace(v, static_cast<int>(c));
      if (!fresh) twice.push_back(fmt::format("{} (clients {} and {})", v, it->second, c));
    }
  }
  if (!twice.empty()) {
    violated(
        fmt::format("{} value(s) answered twice, first {}: the counter went back past an "
                    "acknowledged INCR",
                    twice.size(), twice.front()));
  }
  out.answered_before = answered_at_fault;
  out.answered_after = out.went_live_at > Time(0) ? clients.answered_since_failover()
                       : out.alone_at > Time(0)   ? clients.answered() - answered_at_alone
                                                  : clients.answered() - answered_at_fault_end;
  if (backup_ended && backup_result.outcome == hypervisor::RunResult::Outcome::kDiverged) {
    violated("the backup diverged from its primary: " + backup_result.report);
  }
  for (const auto& [e, holders] : arbiter.winners(kPair)) {
    if (holders.size() > 1) violated(fmt::format("{} sides won epoch {}", holders.size(), e));
  }
  out.lost_at = std::max(backup_declined_at, primary_lost_at);

  // No side stuck.
  if (brief) {
    if (link.backup_gave_up_at() || link.primary_gave_up_at()) {
      violated(fmt::format("a side gave its peer up after a fault of only {}",
                           format_time(plan.length)));
    } else if (live_side.state() != State::kPaired || out.went_live_at > Time(0)) {
      violated("the pair did not stay paired after a brief fault");
    } else if (out.answered_after == 0) {
      violated("the pair answered nobody after a brief fault");
    }
  } else {
    check_no_side_stuck(link.backup_gave_up_at(), link.primary_gave_up_at());
  }

  out.trace_digest = s.trace().digest();
  if (!out.violations.empty()) out.trace_tail = s.trace().tail();
  // What the sides still run as this returns must decide nothing: a dead or stopped
  // process's way to the arbiter is cut, and its retries end on its stop request.
  primary_arbiter.cut();
  backup_arbiter.cut();
  primary_inputs.request_stop();
  backup_inputs.request_stop();
  return out;
}

}  // namespace vmft::sim
