#include "FrameCheck.h"

namespace vmft::net_test {

namespace {

std::string arp_malformation(const Frame& f) {
  if (f.size() != 42) return "ARP frame of " + std::to_string(f.size()) + " bytes";
  if (get16(f, 14) != 1 || get16(f, 16) != kIpv4Type || f[18] != 6 || f[19] != 4) {
    return "ARP not Ethernet/IPv4";
  }
  uint16_t op = get16(f, 20);
  if (mac_at(f, 22) != kOurMac || get32(f, 28) != kOurIp) return "ARP sender is not us";
  if (op == 1 && mac_at(f, 0) != kBroadcastMac) return "ARP request not broadcast";
  if (op == 2 && mac_at(f, 0) != mac_at(f, 32)) return "ARP reply not to its target";
  if (op != 1 && op != 2) return "ARP op " + std::to_string(op);
  return "";
}

// A TCP segment: its header and options as a stranger reads them, its checksum, and flags that
// make sense together (no SYN with FIN or RST, an ACK on all but a first SYN or a RST, no
// URG, which the stack never sends).
std::string tcp_malformation(const Frame& seg, uint32_t src, uint32_t dst) {
  if (seg.size() < 20) return "short TCP segment";
  size_t header_len = size_t(seg[12] >> 4) * 4;
  if (header_len < 20 || header_len > seg.size()) return "bad TCP data offset";
  if ((seg[12] & 0x0f) != 0) return "TCP reserved bits set";
  if (get16(seg, 0) == 0 || get16(seg, 2) == 0) return "TCP port 0";
  if (pseudo_checksum(src, dst, kTcp, seg) != 0) return "bad TCP checksum";
  const uint8_t flags = seg[13];
  const bool syn = flags & 0x02, fin = flags & 0x01, rst = flags & 0x04, ack = flags & 0x10;
  if (flags & 0xe0) return "TCP URG, ECE or CWR set";
  if (syn && (fin || rst)) return "TCP SYN with FIN or RST";
  if (rst && seg.size() != header_len) return "TCP RST with data";
  if (!ack && !syn && !rst) return "TCP segment without ACK";
  if (!ack && get32(seg, 8) != 0) return "TCP acknowledgement number without ACK";
  if (get16(seg, 18) != 0) return "TCP urgent pointer set";
  if (syn != (header_len == 24)) return "TCP options other than a SYN's MSS";
  if (syn && (seg[20] != 2 || seg[21] != 4 || get16(seg, 22) == 0)) return "bad TCP MSS option";
  return "";
}

std::string l4_malformation(const Frame& f, uint8_t proto, uint32_t src, uint32_t dst) {
  const Frame seg(f.begin() + kL4Off, f.end());
  if (proto == kIcmp) {
    if (seg.size() < 8) return "short ICMP";
    if (seg[0] != 0 || seg[1] != 0) return "ICMP other than an echo reply";
    if (internet_checksum(seg) != 0) return "bad ICMP checksum";
    return "";
  }
  if (proto == kUdp) {
    if (seg.size() < 8 || get16(seg, 4) != seg.size()) return "bad UDP length";
    if (get16(seg, 0) == 0 || get16(seg, 2) == 0) return "UDP port 0";
    if (get16(seg, 6) == 0 || pseudo_checksum(src, dst, kUdp, seg) != 0) return "bad UDP checksum";
    return "";
  }
  if (proto == kTcp) return tcp_malformation(seg, src, dst);
  return "IP protocol " + std::to_string(proto);
}

std::string ip_malformation(const Frame& f, uint16_t mtu) {
  if (f.size() < kL4Off) return "short IPv4 frame";
  if (f[kIpOff] != 0x45) return "IPv4 version/IHL not 0x45";
  if (get16(f, kIpOff + 2) != f.size() - kIpOff) return "IPv4 total length is not the frame's";
  if (f.size() - kIpOff > mtu) return "IPv4 packet over the MTU";
  if (internet_checksum(Frame(f.begin() + kIpOff, f.begin() + kL4Off)) != 0) {
    return "bad IPv4 header checksum";
  }
  if (get16(f, kIpOff + 6) != 0x4000) return "IPv4 fragment, or no DF";
  if (f[kIpOff + 8] != 64) return "IPv4 TTL not 64";
  uint32_t src = get32(f, kIpOff + 12), dst = get32(f, kIpOff + 16);
  if (src != kOurIp) return "IPv4 source is not us";
  bool broadcast_ip = dst == kLimitedBroadcast || dst == kSubnetBroadcast;
  if ((mac_at(f, 0) == kBroadcastMac) != broadcast_ip) return "broadcast MAC and IP disagree";
  return l4_malformation(f, f[kIpOff + 9], src, dst);
}

}  // namespace

std::string malformation(const Frame& f, uint16_t mtu) {
  if (f.size() < 14) return "runt";
  if (mac_at(f, 6) != kOurMac) return "Ethernet source is not us";
  switch (get16(f, 12)) {
    case kArpType: return arp_malformation(f);
    case kIpv4Type: return ip_malformation(f, mtu);
    default: return "ethertype " + std::to_string(get16(f, 12));
  }
}

uint64_t rx_accounted(const vnet_stats& s) {
  return s.rx_delivered + s.rx_drop_runt + s.rx_drop_oversize + s.rx_drop_mac +
         s.rx_drop_ethertype + s.rx_drop_arp_malformed + s.rx_drop_arp_not_for_us +
         s.rx_drop_ip_version + s.rx_drop_ip_header + s.rx_drop_ip_length + s.rx_drop_ip_checksum +
         s.rx_drop_ip_fragment + s.rx_drop_ip_source + s.rx_drop_ip_not_for_us +
         s.rx_drop_ip_protocol + s.rx_drop_icmp_malformed + s.rx_drop_icmp_checksum +
         s.rx_drop_icmp_type + s.rx_drop_udp_malformed + s.rx_drop_udp_checksum +
         s.rx_drop_udp_no_port + s.rx_drop_tcp_malformed + s.rx_drop_tcp_checksum +
         s.rx_drop_tcp_no_port + s.rx_drop_tcp_rejected + s.rx_drop_no_reply;
}

}  // namespace vmft::net_test
