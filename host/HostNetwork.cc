#include "vmft/host/HostNetwork.h"

#include <spdlog/spdlog.h>

#include "vmft/host/Addresses.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::host {

HostNetwork::HostNetwork(asio::io_context& io, const GuestConfig& config,
                         hypervisor::InputQueue& inputs, uint32_t first_conn)
    : tap_name_(config.tap) {
  const auto sink = [&inputs](devices::NetEvent ev) { inputs.push(std::move(ev)); };
  if (config.frames) {
    tap_ = std::make_unique<devices::TapNetwork>(io, config.tap, *config.frames, sink,
                                                 config.tap_faults);
  } else {
    sockets_ = std::make_unique<devices::AsioNetwork>(io, config.udp, config.tcp, sink, first_conn,
                                                      config.limits);
  }
}

devices::NetBackend& HostNetwork::backend() {
  if (tap_) return *tap_;
  return *sockets_;
}

void HostNetwork::log_addresses() const {
  if (sockets_) {
    if (auto ep = sockets_->udp_endpoint())
      spdlog::info("listening on udp {}", format_endpoint(*ep));
    if (auto ep = sockets_->tcp_endpoint())
      spdlog::info("listening on tcp {}", format_endpoint(*ep));
    return;
  }
  const devices::FrameConfig f = *tap_->frames();
  spdlog::info("frame NIC on tap {}: MAC {}, {}/{}{}, MTU {}", tap_name_, format_mac(f.mac),
               format_ipv4(f.ip), f.prefix_len,
               f.gateway ? ", gateway " + format_ipv4(f.gateway) : "", f.mtu);
}

void HostNetwork::start() {
  if (sockets_) sockets_->start();
  if (tap_) tap_->start();
}

void HostNetwork::standby() {
  log_addresses();
  spdlog::info("tap {}: keeping what it hears until this backup goes live", tap_name_);
  tap_->start_standby();
}

size_t HostNetwork::take_over(const std::deque<std::vector<uint8_t>>& last_logged) {
  return tap_->take_over(last_logged);
}

std::optional<size_t> HostNetwork::client_connections() const {
  if (!sockets_) return std::nullopt;
  return sockets_->open_connections();
}

}  // namespace vmft::host
