#pragma once

#include <optional>

#include "vmft/devices/Nic.h"
#include "vmft/logchannel/Record.h"

namespace vmft::hypervisor {

/// The frame NIC's settings as the log header carries them, and as the NIC serves them.
inline logchannel::FrameNicConfig to_log(const devices::FrameConfig& f) {
  return {f.mac, f.ip, f.prefix_len, f.gateway, f.mtu};
}
inline devices::FrameConfig from_log(const logchannel::FrameNicConfig& f) {
  return {f.mac, f.ip, f.prefix_len, f.gateway, f.mtu};
}
inline std::optional<logchannel::FrameNicConfig> to_log(
    const std::optional<devices::FrameConfig>& f) {
  if (!f) return std::nullopt;
  return to_log(*f);
}
inline std::optional<devices::FrameConfig> from_log(
    const std::optional<logchannel::FrameNicConfig>& f) {
  if (!f) return std::nullopt;
  return from_log(*f);
}

}  // namespace vmft::hypervisor
