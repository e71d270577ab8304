#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "vmft/devices/AsioNetwork.h"
#include "vmft/devices/TapNetwork.h"
#include "vmft/host/LiveRun.h"

namespace vmft::host {

/// The guest's network on this host: the socket NIC's UDP socket and TCP listener (--udp,
/// --tcp), or the frame NIC's TAP device (--tap), whichever `config` asks for.
class HostNetwork {
 public:
  /// Binds the sockets or opens the TAP device now. Events go to `inputs`; TCP connections get
  /// ids from `first_conn` up. Throws std::system_error naming the address or device.
  HostNetwork(asio::io_context& io, const GuestConfig& config, hypervisor::InputQueue& inputs,
              uint32_t first_conn = 1);

  devices::NetBackend& backend();
  /// Logs where the guest is reachable ("listening on tcp ...", "frame NIC on tap ...").
  void log_addresses() const;
  /// Starts receiving (after the machine that takes the events exists).
  void start();
  /// A backup's frame NIC: opened now and reading, but keeping what it hears until take_over
  /// (devices::TapNetwork::start_standby).
  void standby();
  /// Going live on the frame NIC: the guest's link event, then the frames heard that its
  /// primary never logged (devices::TapNetwork::take_over). Returns how many.
  size_t take_over(const std::deque<std::vector<uint8_t>>& last_logged);
  /// TCP clients connected to the socket NIC now (io thread); nullopt on the frame NIC, whose
  /// connections are the guest's own.
  std::optional<size_t> client_connections() const;

 private:
  std::unique_ptr<devices::AsioNetwork> sockets_;
  std::unique_ptr<devices::TapNetwork> tap_;
  std::string tap_name_;
};

}  // namespace vmft::host
