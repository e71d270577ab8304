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

std::string format_endpoint(const devices::Endpoint& endpoint);

}  // namespace vmft::cli
