#include "vmft/ft/GoLive.h"

#include <spdlog/spdlog.h>

namespace vmft::ft {

namespace {

// Console output a backup executed while the primary may not yet have written it: the backup
// writes it when it goes on (live, or stopping with the pair broken), so that none is lost.
void write_unreleased_console(const hypervisor::Takeover& t, LiveHost& host) {
  if (t.unreleased_console.empty()) return;
  spdlog::info("writing {} console write(s) of the guest that the primary may not have written",
               t.unreleased_console.size());
  for (const auto& [seq, bytes] : t.unreleased_console) host.write_console(bytes);
}

}  // namespace

GoLiveOutcome go_live(const GoLiveSetup& setup, const hypervisor::Takeover& t, LiveHost& host) {
  const Claim claim = claim_pair(setup.pair, setup.me, setup.arbiter, setup.epoch, t.icount,
                                 setup.inputs, setup.events);
  if (claim.result == Claim::Result::kStopped) return {};
  if (claim.result == Claim::Result::kDeclined) {
    if (!setup.arbiter) write_unreleased_console(t, host);  // no side goes on: nothing may be lost
    return {nullptr, 0, claim.exit_code};
  }
  host.start_clocks(continued_time(t));
  if (!host.bind_network(t.highest_connection + 1)) return {};  // stopped
  // Its TCP connections do not exist here: the guest hears that they closed. On the frame
  // NIC the guest holds its connections itself, and hears instead that its link moved, so
  // that it tells the network at once (the first input of its live run, logged for joiners).
  reset_connections(t, setup.inputs);
  const std::optional<size_t> heard = host.take_over_frames(t.last_frames);
  write_unreleased_console(t, host);
  hypervisor::Role& role = host.start_live_role(claim.epoch);
  host.start_network();
  spdlog::warn(
      "the arbiter gave pair '{}' to this backup at epoch {}: live at instruction {}, {}",
      setup.pair, claim.epoch, t.icount,
      heard ? fmt::format("its guest told its link moved and given {} frame(s) heard that the "
                          "primary never logged",
                          *heard)
            : fmt::format("{} TCP connection(s) reset", t.open_connections.size()));
  host.now_live(claim.epoch);
  if (setup.events) setup.events->emit(ft::WentLive{claim.epoch, t.icount});
  host.run_on_live(claim.epoch);
  return {&role, claim.epoch, 0};
}

}  // namespace vmft::ft
