#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vmft/devices/AsioNetwork.h"

namespace vmft::cli {

/// Parses a RAM size such as "64M", "64MiB", "1G" or "16777216" (bytes). Throws
/// std::invalid_argument naming the problem.
uint64_t parse_size(const std::string& text);

/// Parses "HOST:PORT" where HOST is an IPv4 address or "localhost" and PORT is 0..65535
/// (0 picks a free port). Throws std::invalid_argument naming the problem.
devices::Endpoint parse_endpoint(const std::string& text);

/// parse_size, plus the limits of guest RAM: a multiple of 4 KiB from 1 MiB to 4 GiB.
uint64_t parse_ram_size(const std::string& text);

/// Parses a dotted IPv4 address (host byte order); `what` names the flag in the error.
uint32_t parse_ipv4(const std::string& text, const std::string& what);
/// Parses "aa:bb:cc:dd:ee:ff" (bits 0..7 hold the first byte); a multicast or all-zero address
/// is refused.
uint64_t parse_mac(const std::string& text);

/// The frame NIC's MTU: IPv4's minimum (RFC 791) to a jumbo frame's payload. The log format
/// allows the same range.
inline constexpr uint32_t kMinMtu = 68;
inline constexpr uint32_t kMaxMtu = 9000;
inline constexpr uint32_t kDefaultMtu = 1500;

/// The frame NIC's settings from --guest-ip ADDR/PREFIX (required), --guest-mac (empty: a
/// locally administered address made of the IPv4 address, 02:00:c6:12:00:0a for 198.18.0.10),
/// --gateway (empty: none; else on the subnet) and --mtu. Throws std::invalid_argument naming
/// the flag.
devices::FrameConfig parse_frame_nic(const std::string& guest_ip, const std::string& mac,
                                     const std::string& gateway, uint32_t mtu);

}  // namespace vmft::cli
