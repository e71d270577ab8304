#pragma once
// A backup whose primary is gone, with every record it received executed: whether it may go
// live (the arbiter's test-and-set for the epoch its primary registered with it), and what
// going live changes for its guest (clocks that never go back, connections that do not exist
// on this host).

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Clock.h"
#include "vmft/ft/Events.h"
#include "vmft/hypervisor/BackupRole.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::ft {

/// How a backup's claim to the pair ended.
struct Claim {
  enum class Result {
    kWon,       ///< the arbiter gave it the pair at `epoch`: it goes live
    kDeclined,  ///< it does not go live, and exits with `exit_code`
    kStopped,   ///< a stop was requested first
  };
  Result result = Result::kStopped;
  uint64_t epoch = 0;
  int exit_code = 0;
};

/// Asks for the pair at `epoch` (the one its primary registered with it, if any reached it),
/// its primary's log having ended at instruction `icount`. Without an arbiter or an epoch it
/// declines (broken); a lost test-and-set declines (lost). Emits broken or lost when it
/// declines; went_live is the caller's, once the guest's host is ready. vCPU thread.
Claim claim_pair(const std::string& pair, const std::string& me, ArbiterClient* arbiter,
                 std::optional<uint64_t> epoch, uint64_t icount, hypervisor::InputQueue& inputs,
                 EventSink* events);

/// The clocks a backup that goes live continues from: the last value its guest read of each,
/// so that time never goes back for it on this host.
struct ContinuedTime {
  uint64_t wall_ns = 0;
  uint64_t mono_ns = 0;  ///< also what the counter CSRs read
};
ContinuedTime continued_time(const hypervisor::Takeover& t);

/// Tells the guest that its TCP connections closed: they were the primary's and do not exist
/// on this host. (On the frame NIC the guest keeps them, and hears that its link moved.)
void reset_connections(const hypervisor::Takeover& t, hypervisor::InputQueue& inputs);

/// Between attempts to bind an address the old primary still holds.
inline constexpr auto kBindRetry = std::chrono::milliseconds(20);

/// Binds the guest's sockets (or opens its TAP device) with `bind`, again every kBindRetry
/// while it throws std::system_error (the old primary still holds the addresses), saying so
/// once; null if `stop` was requested first.
template <typename Network>
std::unique_ptr<Network> bind_when_free(const std::function<std::unique_ptr<Network>()>& bind,
                                        Clock& clock, const hypervisor::InputQueue& stop) {
  bool said = false;
  for (;;) {
    try {
      return bind();
    } catch (const std::system_error& e) {
      if (!said) spdlog::warn("{}; trying again until it is free", e.what());
      said = true;
    }
    if (stop.stop_requested()) return nullptr;
    clock.sleep_for(kBindRetry);
  }
}

}  // namespace vmft::ft
