#include "vmft/ft/Takeover.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <initializer_list>

#include "vmft/ft/ExitCodes.h"
#include "vmft/guest/abi.h"

namespace vmft::ft {

namespace {

uint64_t last_clock(const hypervisor::Takeover& t,
                    std::initializer_list<logchannel::ClockSource> of) {
  uint64_t last = 0;
  for (auto source : of) {
    if (auto it = t.last_clock.find(source); it != t.last_clock.end())
      last = std::max(last, it->second);
  }
  return last;
}

void emit(EventSink* events, const Event& event) {
  if (events) events->emit(event);
}

}  // namespace

Claim claim_pair(const std::string& pair, const std::string& me, ArbiterClient* arbiter,
                 std::optional<uint64_t> epoch, uint64_t icount, hypervisor::InputQueue& inputs,
                 EventSink* events) {
  if (inputs.stop_requested()) return {};  // it said goodbye, or is about to
  emit(events, PeerLost{std::nullopt, icount});
  if (!arbiter || !epoch) {
    spdlog::error("the backup executed every record it received, up to instruction {}; {}", icount,
                  arbiter ? "no epoch the primary registered with this backup reached it, so "
                            "it has nothing to claim at the arbiter and does not go live"
                          : "with no arbiter to decide, it does not go live");
    emit(events, Broken{std::nullopt, icount});
    return {Claim::Result::kDeclined, 0, kPairBrokenExitCode};
  }
  spdlog::warn(
      "the backup executed every record it received, up to instruction {}; asking the "
      "arbiter at {} for pair '{}' at epoch {}",
      icount, arbiter->address(), pair, *epoch);
  const auto result = arbiter->test_and_set(pair, *epoch, me, inputs);
  if (!result) return {};  // stopped
  if (!result->won) {
    spdlog::error("the arbiter gave pair '{}' to the other side ({}): this backup exits", pair,
                  arbiter::describe(result->state));
    emit(events, Lost{*epoch, result->state.holder});
    return {Claim::Result::kDeclined, *epoch, kLostPairExitCode};
  }
  return {Claim::Result::kWon, *epoch, 0};
}

ContinuedTime continued_time(const hypervisor::Takeover& t) {
  using logchannel::ClockSource;
  return {last_clock(t, {ClockSource::kWall}),
          last_clock(t, {ClockSource::kMono, ClockSource::kCsrTime, ClockSource::kCsrCycle})};
}

void reset_connections(const hypervisor::Takeover& t, hypervisor::InputQueue& inputs) {
  for (uint32_t conn : t.open_connections) {
    inputs.push(devices::NetEvent{VMFT_NIC_KIND_TCP_CLOSE, conn, 0, 0, {}});
  }
}

}  // namespace vmft::ft
