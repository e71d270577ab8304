#include "vmft/host/Addresses.h"

#include <arpa/inet.h>

#include <cstdio>

namespace vmft::host {

std::string format_endpoint(const devices::Endpoint& endpoint) {
  in_addr addr{htonl(endpoint.ip)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(endpoint.port);
}

std::string format_ipv4(uint32_t ip) {
  const std::string text = format_endpoint({ip, 0});
  return text.substr(0, text.rfind(':'));
}

std::string format_mac(uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(mac & 255),
                unsigned(mac >> 8 & 255), unsigned(mac >> 16 & 255), unsigned(mac >> 24 & 255),
                unsigned(mac >> 32 & 255), unsigned(mac >> 40 & 255));
  return buf;
}

}  // namespace vmft::host
