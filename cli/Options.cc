#include "Options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <regex>
#include <stdexcept>

namespace vmft::cli {

namespace {

uint64_t parse_number(const std::string& text, const std::string& what) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw std::invalid_argument(what + " '" + text + "' is not a number");
  }
  return value;
}

}  // namespace

uint64_t parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const uint64_t number = parse_number(text.substr(0, digits), "size");
  std::string unit = text.substr(digits);
  if (unit.ends_with("iB") || unit.ends_with("ib"))
    unit.resize(unit.size() - 2);
  else if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b'))
    unit.resize(1);
  uint64_t scale = 1;
  if (unit.empty())
    scale = 1;
  else if (unit == "K" || unit == "k")
    scale = 1ULL << 10;
  else if (unit == "M" || unit == "m")
    scale = 1ULL << 20;
  else if (unit == "G" || unit == "g")
    scale = 1ULL << 30;
  else
    throw std::invalid_argument("size '" + text + "' has an unknown unit (use K, M or G)");
  if (number > UINT64_MAX / scale) throw std::invalid_argument("size '" + text + "' is too large");
  return number * scale;
}

uint64_t parse_ram_size(const std::string& text) {
  constexpr uint64_t kMinRam = 1ULL << 20;
  constexpr uint64_t kMaxRam = 4ULL << 30;
  constexpr uint64_t kPage = 4096;
  const uint64_t size = parse_size(text);
  if (size < kMinRam || size > kMaxRam || size % kPage != 0) {
    throw std::invalid_argument("--mem " + text +
                                ": RAM must be a multiple of 4 KiB between 1 MiB and 4 GiB");
  }
  return size;
}

devices::Endpoint parse_endpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument("address '" + text + "' must be HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
    throw std::invalid_argument("address '" + text + "': '" + host +
                                "' is not an IPv4 address (IPv6 is not supported)");
  }
  const uint64_t port = parse_number(text.substr(colon + 1), "port");
  if (port > 65535) throw std::invalid_argument("address '" + text + "': port is above 65535");
  return {ntohl(addr.s_addr), static_cast<uint16_t>(port)};
}

uint32_t parse_ipv4(const std::string& text, const std::string& what) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) {
    throw std::invalid_argument(what + " '" + text + "' is not an IPv4 address");
  }
  return ntohl(addr.s_addr);
}

uint64_t parse_mac(const std::string& text) {
  static const std::regex kMac("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");
  if (!std::regex_match(text, kMac)) {
    throw std::invalid_argument("--guest-mac '" + text +
                                "' is not a MAC address like 02:00:c6:12:00:0a");
  }
  uint64_t mac = 0;
  for (int i = 0; i < 6; i++) mac |= std::stoull(text.substr(3 * i, 2), nullptr, 16) << (8 * i);
  if (mac & 1) {
    throw std::invalid_argument("--guest-mac '" + text +
                                "' is a multicast address (its first byte is odd)");
  }
  if (mac == 0) throw std::invalid_argument("--guest-mac cannot be all zero");
  return mac;
}

devices::FrameConfig parse_frame_nic(const std::string& guest_ip, const std::string& mac,
                                     const std::string& gateway, uint32_t mtu) {
  devices::FrameConfig config;
  const size_t slash = guest_ip.find('/');
  if (guest_ip.empty() || slash == std::string::npos) {
    throw std::invalid_argument("--tap needs --guest-ip ADDR/PREFIX, e.g. 198.18.0.10/24");
  }
  config.ip = parse_ipv4(guest_ip.substr(0, slash), "--guest-ip");
  const uint64_t prefix = parse_number(guest_ip.substr(slash + 1), "--guest-ip's prefix length");
  if (prefix < 1 || prefix > 32) {
    throw std::invalid_argument("--guest-ip '" + guest_ip + "': a prefix length from 1 to 32");
  }
  config.prefix_len = static_cast<uint8_t>(prefix);
  // Locally administered (02:00) and unique per address: 198.18.0.10 is 02:00:c6:12:00:0a.
  config.mac = mac.empty() ? 0x02 | uint64_t{__builtin_bswap32(config.ip)} << 16 : parse_mac(mac);
  if (!gateway.empty()) {
    config.gateway = parse_ipv4(gateway, "--gateway");
    const uint32_t mask = prefix == 32 ? ~0u : ~(~0u >> prefix);
    if ((config.gateway & mask) != (config.ip & mask) || config.gateway == config.ip) {
      throw std::invalid_argument("--gateway " + gateway + " is not another address of " +
                                  guest_ip + "'s subnet");
    }
  }
  if (mtu < kMinMtu || mtu > kMaxMtu) {
    throw std::invalid_argument("--mtu " + std::to_string(mtu) + ": from " +
                                std::to_string(kMinMtu) + " to " + std::to_string(kMaxMtu));
  }
  config.mtu = mtu;
  return config;
}

}  // namespace vmft::cli
