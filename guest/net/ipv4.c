/* IPv4 (RFC 791): checks what arrives, hands ICMP, UDP and TCP on, and routes what leaves. There
 * are no fragments either way: a fragment is dropped (no reassembly, so no reassembly buffers), and
 * the stack never sends a packet over the MTU (every packet carries DF). */
#include <string.h>

#include "vnet_internal.h"

#define IP_FLAG_DF 0x4000
#define IP_FLAG_MF 0x2000
#define IP_OFFSET_MASK 0x1fff

bool vnet_ipv4_on_subnet(const struct vnet *net, uint32_t addr) {
  return ((addr ^ net->cfg.ip) & net->netmask) == 0;
}

bool vnet_ipv4_is_broadcast(const struct vnet *net, uint32_t addr) {
  if (addr == VNET_IPV4_BROADCAST) return true;
  return net->cfg.prefix_len <= 30 && addr == (net->cfg.ip | ~net->netmask);
}

static bool is_loopback(uint32_t addr) { return (addr >> 24) == 127; }
/* 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, and the limited broadcast). */
static bool is_multicast_or_reserved(uint32_t addr) { return addr >= 0xe0000000u; }

/* A source we would never answer: nobody, a loopback, a group, a broadcast, or ourselves
 * (a frame that came back, or someone using our address). */
static bool source_valid(const struct vnet *net, uint32_t src) {
  return src != 0 && !is_loopback(src) && !is_multicast_or_reserved(src) &&
         !vnet_ipv4_is_broadcast(net, src) && src != net->cfg.ip;
}

void vnet_ipv4_input(struct vnet *net, const uint8_t *pkt, size_t len, uint64_t now_ns) {
  struct vnet_stats *st = &net->stats;
  if (len < VNET_IPV4_HEADER_LEN) {
    st->rx_drop_ip_header++;
    return;
  }
  if (pkt[0] >> 4 != 4) {
    st->rx_drop_ip_version++;
    return;
  }
  size_t header_len = (size_t)(pkt[0] & 0x0f) * 4;
  if (header_len < VNET_IPV4_HEADER_LEN || header_len > len) {
    st->rx_drop_ip_header++;
    return;
  }
  size_t total_len = vnet_get16(pkt + 2);
  if (total_len < header_len || total_len > len) {
    st->rx_drop_ip_length++;
    return;
  }
  if (vnet_csum_finish(vnet_csum_add(0, pkt, header_len)) != 0) {
    st->rx_drop_ip_checksum++;
    return;
  }
  uint16_t frag = vnet_get16(pkt + 6);
  if ((frag & IP_FLAG_MF) != 0 || (frag & IP_OFFSET_MASK) != 0) {
    st->rx_drop_ip_fragment++;
    return;
  }
  uint8_t proto = pkt[9];
  uint32_t src = vnet_get32(pkt + 12), dst = vnet_get32(pkt + 16);
  /* Broadcasts reach UDP only: an echo to a broadcast would have every host answer at once
   * (Linux ignores them too, icmp_echo_ignore_broadcasts). */
  bool for_us =
      dst == net->cfg.ip || (proto == VNET_IP_PROTO_UDP && vnet_ipv4_is_broadcast(net, dst));
  if (!for_us) {
    st->rx_drop_ip_not_for_us++;
    return;
  }
  if (!source_valid(net, src)) {
    st->rx_drop_ip_source++;
    return;
  }
  /* Options are skipped; bytes past total_len are the link's padding. */
  const uint8_t *payload = pkt + header_len;
  size_t payload_len = total_len - header_len;
  switch (proto) {
    case VNET_IP_PROTO_ICMP: vnet_icmp_input(net, src, dst, payload, payload_len, now_ns); break;
    case VNET_IP_PROTO_UDP: vnet_udp_input(net, src, dst, payload, payload_len, now_ns); break;
    case VNET_IP_PROTO_TCP: vnet_tcp_input(net, src, dst, payload, payload_len, now_ns); break;
    default: st->rx_drop_ip_protocol++; break;
  }
}

/* The next hop for dst, or false when none: broadcasts go to every station at once
 * (*broadcast), the subnet directly, the rest through the gateway. */
static bool route(const struct vnet *net, uint32_t dst, uint32_t *next_hop, bool *broadcast) {
  *broadcast = vnet_ipv4_is_broadcast(net, dst);
  *next_hop = dst;
  if (*broadcast) return true;
  if (dst == 0 || dst == net->cfg.ip || is_loopback(dst) || is_multicast_or_reserved(dst)) {
    return false;
  }
  if (vnet_ipv4_on_subnet(net, dst)) return true;
  *next_hop = net->cfg.gateway;
  return net->cfg.gateway != 0;
}

int vnet_ipv4_send(struct vnet *net, uint32_t dst, uint8_t proto, size_t payload_len,
                   uint64_t now_ns) {
  size_t total_len = VNET_IPV4_HEADER_LEN + payload_len;
  if (total_len > net->cfg.mtu) {
    net->stats.tx_drop_too_big++;
    return VNET_ERR_TOO_BIG;
  }
  uint32_t next_hop;
  bool broadcast;
  if (!route(net, dst, &next_hop, &broadcast)) {
    net->stats.tx_drop_no_route++;
    return VNET_ERR_NO_ROUTE;
  }
  uint8_t *ip = net->tx + VNET_ETH_HEADER_LEN;
  ip[0] = 0x45;
  ip[1] = 0;
  vnet_put16(ip + 2, (uint16_t)total_len);
  vnet_put16(ip + 4, net->ip_id++);
  vnet_put16(ip + 6, IP_FLAG_DF);
  ip[8] = VNET_IPV4_TTL;
  ip[9] = proto;
  vnet_put16(ip + 10, 0);
  vnet_put32(ip + 12, net->cfg.ip);
  vnet_put32(ip + 16, dst);
  vnet_put16(ip + 10, vnet_csum_finish(vnet_csum_add(0, ip, VNET_IPV4_HEADER_LEN)));

  const uint8_t *mac = broadcast ? vnet_mac_broadcast : vnet_arp_lookup(net, next_hop, now_ns);
  if (mac != NULL) {
    vnet_eth_send(net, net->tx, mac, VNET_ETHERTYPE_IPV4, total_len);
    return VNET_OK;
  }
  return vnet_arp_hold(net, next_hop, net->tx, VNET_ETH_HEADER_LEN + total_len, now_ns);
}
