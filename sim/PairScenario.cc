#include "vmft/sim/PairScenario.h"

#include <fmt/format.h>

#include <memory>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/Takeover.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/OutputGate.h"
#include "vmft/sim/IncrClients.h"
#include "vmft/sim/LogLink.h"
#include "vmft/sim/SimArbiter.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

namespace {

constexpr const char* kPair = "sim";
constexpr const char* kPrimaryId = "primary@sim";
constexpr const char* kBackupId = "backup@sim";
/// The backup checks the whole state (all of RAM) this often: 4 ms of simulated time.
constexpr uint64_t kDigestInterval = 1 << 22;
constexpr uint64_t kRamBytes = 16ULL << 20;

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

}  // namespace

PairOutcome run_pair_scenario(const PairScenario& scenario, uint64_t seed) {
  Scheduler s(seed);
  PairOutcome out;
  out.seed = seed;

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
  // The primary registered epoch 1 with its backup in step, and the backup has it.
  arbiter.register_epoch(kPair, 0, kPrimaryId);
  const uint64_t epoch = 1;

  // Declared before the vCPUs, which end their runs first when this returns.
  hypervisor::InputQueue primary_inputs, backup_inputs;
  IncrClients clients(s, {.clients = scenario.clients});
  hypervisor::OutputGate gate(clients);
  LogLink link(s, header, {});
  TracedEvents backup_events(s, "backup");
  std::unique_ptr<ft::ArbiterClient> arbiter_client;
  std::unique_ptr<hypervisor::LiveRole> live;
  hypervisor::RunResult backup_result;
  bool backup_ended = false;
  Vcpu primary(s, "primary", primary_inputs);
  Vcpu backup(s, "backup", backup_inputs);
  arbiter_client =
      std::make_unique<ft::ArbiterClient>(arbiter, "the simulated arbiter", backup.ft_clock());

  auto& primary_role = primary.boot(
      scenario.counter, config,
      std::make_unique<hypervisor::LiveRole>(
          hypervisor::HostServices{primary.clock(), primary.entropy(), primary.timer(), clients},
          primary_inputs, &link.sink(primary, gate),
          scenario.without_output_rule ? nullptr : &gate));
  primary_role.report_progress_every(100'000);

  // As `vmft backup` goes live: claim the pair, and go on with the guest's connections closed.
  auto go_live = [&](const hypervisor::Takeover& t) -> hypervisor::Role* {
    const ft::Claim claim = ft::claim_pair(kPair, kBackupId, arbiter_client.get(), epoch, t.icount,
                                           backup_inputs, &backup_events);
    if (claim.result != ft::Claim::Result::kWon) return nullptr;
    live = std::make_unique<hypervisor::LiveRole>(
        hypervisor::HostServices{backup.clock(), backup.entropy(), backup.timer(), clients},
        backup_inputs, nullptr);
    ft::reset_connections(t, backup_inputs);
    clients.switch_to(backup, t.highest_connection + 1);
    out.went_live_at = backup.now();
    backup_events.emit(ft::WentLive{claim.epoch, t.icount});
    s.at(out.went_live_at + scenario.serve_after_failover, "the run ends",
         [&] { backup.request_stop(); });
    return live.get();
  };
  auto& backup_role = backup.boot(
      scenario.counter, config,
      std::make_unique<hypervisor::BackupRole>(link.source(backup), backup_inputs, go_live));
  primary.start([](const hypervisor::RunResult&) {});
  backup.start([&](const hypervisor::RunResult& r) {
    backup_result = r;
    backup_ended = true;
  });
  clients.start(primary);

  // The faults.
  out.died_at = Time(s.random().between(2'000'000, 30'000'000));
  out.host_lost = s.random().chance(0.5);
  out.arbiter_outage = s.random().chance(1.0 / 3);
  out.arbiter_back = out.died_at;
  if (out.arbiter_outage) {
    const Time down = out.died_at - Time(s.random().between(0, 1'000'000));
    out.arbiter_back = out.died_at + Time(s.random().between(0, 20'000'000));
    s.at(down, "the arbiter goes down", [&] { arbiter.set_down(true); });
    s.at(out.arbiter_back, "the arbiter is back", [&] { arbiter.set_down(false); });
  }
  s.at(out.died_at, out.host_lost ? "the primary's host dies" : "kill -9 the primary", [&] {
    primary.kill();
    link.primary_died(out.host_lost);
    clients.server_died();
  });
  s.at(scenario.run_at_most, "the run ends, whatever happened", [&] { backup.request_stop(); });
  while (s.step()) {
  }

  // The invariants.
  auto violated = [&](std::string what) { out.violations.push_back(std::move(what)); };
  for (const std::string& problem : clients.problems()) violated("a client: " + problem);
  long long first_after = 0;
  for (const auto& answers : clients.answers()) {
    for (long long v : answers) {
      if (v > clients.highest_before_failover() && (first_after == 0 || v < first_after)) {
        first_after = v;
      }
    }
  }
  out.answered_before = clients.answered() - clients.answered_since_failover();
  out.answered_after = clients.answered_since_failover();
  if (backup_ended && backup_result.outcome == hypervisor::RunResult::Outcome::kDiverged) {
    violated("the backup diverged from its primary: " + backup_result.report);
  }
  for (const auto& [e, holders] : arbiter.winners(kPair)) {
    if (holders.size() > 1) violated(fmt::format("{} sides won epoch {}", holders.size(), e));
  }
  // It notices within a peer timeout of the death (1 ms here), then asks until an answer.
  const Time live_by = out.arbiter_back + std::chrono::milliseconds(2) +
                       std::chrono::duration_cast<Time>(ft::kArbiterRetry);
  if (!backup_role.went_live_at()) {
    violated("the backup never went live");
  } else if (out.went_live_at > live_by) {
    violated(fmt::format("the backup went live at {}, later than {}", format_time(out.went_live_at),
                         format_time(live_by)));
  } else if (out.answered_after == 0) {
    violated("the backup went live and answered nobody");
  }
  out.trace_digest = s.trace().digest();
  if (!out.violations.empty()) out.trace_tail = s.trace().tail();
  return out;
}

}  // namespace vmft::sim
