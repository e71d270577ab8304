#include "HostNetwork.h"

#include <spdlog/spdlog.h>

#include "Options.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::cli {

HostNetwork::HostNetwork(asio::io_context& io, const LiveOptions& options,
                         const devices::NetLimits& limits, hypervisor::InputQueue& inputs,
                         uint32_t first_conn)
    : tap_name_(options.tap) {
  const auto sink = [&inputs](devices::NetEvent ev) { inputs.push(std::move(ev)); };
  if (const auto frames = frame_nic(options)) {
    const auto faults = options.tap_faults.empty()
                            ? devices::FrameFaultRates{}
                            : devices::parse_frame_faults(options.tap_faults);
    tap_ = std::make_unique<devices::TapNetwork>(io, options.tap, *frames, sink, faults);
  } else {
    sockets_ = std::make_unique<devices::AsioNetwork>(io, optional_endpoint(options.udp),
                                                      optional_endpoint(options.tcp), sink,
                                                      first_conn, limits);
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

}  // namespace vmft::cli
