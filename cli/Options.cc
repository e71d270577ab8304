#include "Options.h"

#include <arpa/inet.h>

#include <charconv>
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

std::string format_endpoint(const devices::Endpoint& endpoint) {
  in_addr addr{htonl(endpoint.ip)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(endpoint.port);
}

}  // namespace vmft::cli
