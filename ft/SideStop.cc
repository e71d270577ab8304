#include "vmft/ft/SideStop.h"

#include "vmft/ft/ExitCodes.h"

namespace vmft::ft {

void stop_side(const SideStop& stop) {
  if (stop.live_side) stop.live_side->stop();
  if (stop.to_backup && stop.live && !stop.to_backup->lost()) {
    stop.to_backup->wait_acknowledged(kLastOutputsTimeout);
  }
  if (stop.to_primary) {
    stop.to_primary->wait_goodbye(kGoodbyeTimeout);
    stop.to_primary->shutdown();
  }
  if (stop.to_backup) stop.to_backup->shutdown();
  if (stop.stop_io) stop.stop_io();
  if (stop.release) stop.release();
}

std::optional<int> decided_exit_code(bool stopped, int declined, const LiveSide* live_side,
                                     hypervisor::OutputGate* gate) {
  if (!stopped) return std::nullopt;
  if (declined != 0) return declined;
  if (!live_side) return std::nullopt;
  const auto code = live_side->stop_exit_code();
  if (code == kPairBrokenExitCode && gate) gate->open();
  return code;
}

}  // namespace vmft::ft
