#pragma once
// Addresses as vmft writes them in its log lines and its `vmft log` output.

#include <cstdint>
#include <string>

#include "vmft/devices/AsioNetwork.h"

namespace vmft::host {

std::string format_endpoint(const devices::Endpoint& endpoint);
std::string format_ipv4(uint32_t ip);
std::string format_mac(uint64_t mac);

}  // namespace vmft::host
