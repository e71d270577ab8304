#pragma once
// The net tests' and the net_frame fuzz target's judge of what the stack sends.

#include <cstdint>
#include <string>

#include "FrameBuilders.h"
#include "vnet.h"

namespace vmft::net_test {

// Checks a frame the stack sent as a stranger would: its Ethernet, ARP, IPv4, ICMP, UDP, TCP
// fields and every checksum. Returns what is wrong, or "" when the frame is well formed.
std::string malformation(const Frame& f, uint16_t mtu = 1500);

// Sum of rx_delivered and every rx_drop_*: each received frame must count exactly once.
uint64_t rx_accounted(const vnet_stats& s);

}  // namespace vmft::net_test
