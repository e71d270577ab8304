#pragma once
// Ethernet, ARP, IPv4, ICMP, UDP and TCP frames built byte by byte, with an Internet checksum of
// their own (never the stack's): for vmft_net_tests, and for the net_frame fuzz target's seeds.
// Header-only and free of gtest, so that fuzz/SeedCorpus.cc can use it.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vnet.h"

namespace vmft::net_test {

using Frame = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline constexpr Mac kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x64};
inline constexpr Mac kGatewayMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr Mac kZeroMac{};

inline constexpr uint32_t kOurIp = 0x0a00020f;      // 10.0.2.15
inline constexpr uint32_t kPeerIp = 0x0a000264;     // 10.0.2.100, on the subnet
inline constexpr uint32_t kGatewayIp = 0x0a000202;  // 10.0.2.2
inline constexpr uint32_t kRemoteIp = 0x08080808;   // 8.8.8.8, off the subnet
inline constexpr uint32_t kSubnetBroadcast = 0x0a0002ff;
inline constexpr uint32_t kLimitedBroadcast = 0xffffffff;
inline constexpr uint64_t kSecond = 1000000000ull;

// The stack the tests and the fuzz target run: our MAC and address on a /24, with a gateway.
// TCP control blocks each test stack gets: a small pool, so tests can fill it.
inline constexpr size_t kTcpConns = 8;

// A stack without TCP; with_tcp adds a pool.
inline vnet_config default_config() {
  vnet_config c{};
  std::copy(kOurMac.begin(), kOurMac.end(), c.mac);
  c.ip = kOurIp;
  c.prefix_len = 24;
  c.gateway = kGatewayIp;
  c.mtu = 1500;
  return c;
}

// config with the pool of kTcpConns blocks at conns, which must outlive the stack.
inline vnet_config with_tcp(vnet_config config, vnet_tcp_conn* conns) {
  config.tcp_conns = conns;
  config.tcp_conn_count = kTcpConns;
  return config;
}

// Where each layer starts in a frame without IP options.
inline constexpr size_t kIpOff = 14;
inline constexpr size_t kL4Off = 34;

inline constexpr uint16_t kArpType = 0x0806;
inline constexpr uint16_t kIpv4Type = 0x0800;
inline constexpr uint8_t kIcmp = 1, kUdp = 17, kTcp = 6;

// ---- bytes ----
inline uint16_t get16(const Frame& f, size_t off) {
  return uint16_t(f.at(off) << 8 | f.at(off + 1));
}
inline uint32_t get32(const Frame& f, size_t off) {
  return uint32_t(get16(f, off)) << 16 | get16(f, off + 2);
}
inline void put16(Frame& f, size_t off, uint16_t v) {
  f.at(off) = uint8_t(v >> 8);
  f.at(off + 1) = uint8_t(v);
}
inline void put32(Frame& f, size_t off, uint32_t v) {
  put16(f, off, uint16_t(v >> 16));
  put16(f, off + 2, uint16_t(v));
}
inline Mac mac_at(const Frame& f, size_t off) {
  Mac m;
  for (size_t i = 0; i < 6; ++i) m[i] = f.at(off + i);
  return m;
}
inline Frame bytes(const std::string& s) { return Frame(s.begin(), s.end()); }

// RFC 1071 the slow, obvious way: 16-bit words summed into 64 bits, folded at the end.
inline uint16_t internet_checksum(const Frame& data, uint64_t sum = 0) {
  for (size_t i = 0; i < data.size(); i += 2) {
    sum += uint64_t(data[i]) << 8 | (i + 1 < data.size() ? data[i + 1] : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum & 0xffff);
}
inline uint16_t pseudo_checksum(uint32_t src, uint32_t dst, uint8_t proto, const Frame& seg) {
  uint64_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + seg.size();
  return internet_checksum(seg, sum);
}

// ---- builders ----
inline Frame eth(const Mac& dst, const Mac& src, uint16_t type, const Frame& payload) {
  Frame f(14 + payload.size());
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  put16(f, 12, type);
  std::copy(payload.begin(), payload.end(), f.begin() + 14);
  return f;
}

inline Frame arp(uint16_t op, const Mac& sender_mac, uint32_t sender_ip, const Mac& target_mac,
                 uint32_t target_ip) {
  Frame p(28);
  put16(p, 0, 1);
  put16(p, 2, kIpv4Type);
  p[4] = 6;
  p[5] = 4;
  put16(p, 6, op);
  std::copy(sender_mac.begin(), sender_mac.end(), p.begin() + 8);
  put32(p, 14, sender_ip);
  std::copy(target_mac.begin(), target_mac.end(), p.begin() + 18);
  put32(p, 24, target_ip);
  return p;
}

// The peer asks who has target_ip, broadcast.
inline Frame arp_request_frame(const Mac& sender_mac, uint32_t sender_ip, uint32_t target_ip) {
  return eth(kBroadcastMac, sender_mac, kArpType,
             arp(1, sender_mac, sender_ip, kZeroMac, target_ip));
}
// A peer answers us, unicast.
inline Frame arp_reply_frame(const Mac& sender_mac, uint32_t sender_ip) {
  return eth(kOurMac, sender_mac, kArpType, arp(2, sender_mac, sender_ip, kOurMac, kOurIp));
}

// An IPv4 packet with a correct header checksum; options (a multiple of 4 bytes) after the
// fixed header.
inline Frame ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Frame& payload,
                  const Frame& options = {}, uint16_t flags_fragment = 0x4000) {
  Frame p(20 + options.size());
  p[0] = uint8_t(0x40 | (p.size() / 4));
  put16(p, 2, uint16_t(p.size() + payload.size()));
  put16(p, 4, 0x1234);
  put16(p, 6, flags_fragment);
  p[8] = 64;
  p[9] = proto;
  put32(p, 12, src);
  put32(p, 16, dst);
  std::copy(options.begin(), options.end(), p.begin() + 20);
  put16(p, 10, internet_checksum(p));
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline Frame icmp(uint8_t type, uint16_t id, uint16_t seq, const Frame& data) {
  Frame m(8);
  m[0] = type;
  put16(m, 4, id);
  put16(m, 6, seq);
  m.insert(m.end(), data.begin(), data.end());
  put16(m, 2, internet_checksum(m));
  return m;
}
inline Frame echo_request(uint16_t id, uint16_t seq, const Frame& data) {
  return icmp(8, id, seq, data);
}

inline Frame udp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const Frame& data,
                 bool with_checksum = true) {
  Frame d(8);
  put16(d, 0, sport);
  put16(d, 2, dport);
  put16(d, 4, uint16_t(8 + data.size()));
  d.insert(d.end(), data.begin(), data.end());
  if (with_checksum) {
    uint16_t sum = pseudo_checksum(src, dst, kUdp, d);
    put16(d, 6, sum == 0 ? 0xffff : sum);
  }
  return d;
}

// TCP flags.
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

// A TCP segment with a correct checksum; options (a multiple of 4 bytes) after the header.
inline Frame tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, uint16_t window, const Frame& data = {},
                 const Frame& options = {}) {
  Frame s(20 + options.size());
  put16(s, 0, sport);
  put16(s, 2, dport);
  put32(s, 4, seq);
  put32(s, 8, ack);
  s[12] = uint8_t(s.size() / 4 << 4);
  s[13] = flags;
  put16(s, 14, window);
  std::copy(options.begin(), options.end(), s.begin() + 20);
  s.insert(s.end(), data.begin(), data.end());
  put16(s, 16, pseudo_checksum(src, dst, kTcp, s));
  return s;
}
// The MSS option, as a SYN carries it.
inline Frame mss_option(uint16_t mss) { return Frame{2, 4, uint8_t(mss >> 8), uint8_t(mss)}; }

// Whole frames from the peer (or a given MAC) to us.
inline Frame ip_frame(uint32_t src, uint32_t dst, uint8_t proto, const Frame& payload,
                      const Mac& from = kPeerMac, const Mac& to = kOurMac) {
  return eth(to, from, kIpv4Type, ipv4(src, dst, proto, payload));
}
inline Frame udp_frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                       const Frame& data, const Mac& from = kPeerMac, const Mac& to = kOurMac) {
  return ip_frame(src, dst, kUdp, udp(src, dst, sport, dport, data), from, to);
}
inline Frame echo_frame(uint32_t src, uint16_t id, uint16_t seq, const Frame& data,
                        const Mac& from = kPeerMac) {
  return ip_frame(src, kOurIp, kIcmp, echo_request(id, seq, data), from);
}

inline Frame tcp_frame(uint32_t src, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                       uint8_t flags, uint16_t window, const Frame& data = {},
                       const Frame& options = {}, const Mac& from = kPeerMac) {
  return ip_frame(src, kOurIp, kTcp,
                  tcp(src, kOurIp, sport, dport, seq, ack, flags, window, data, options), from);
}

// Recomputes a hand-edited IPv4 header's checksum (frame without options at kIpOff).
inline void fix_ip_checksum(Frame& f, size_t ip_off = kIpOff) {
  size_t header_len = size_t(f.at(ip_off) & 0x0f) * 4;
  put16(f, ip_off + 10, 0);
  put16(f, ip_off + 10,
        internet_checksum(Frame(f.begin() + ip_off, f.begin() + ip_off + header_len)));
}

}  // namespace vmft::net_test
