/* Ethernet II: filters frames by destination and hands IPv4 and ARP on. */
#include <string.h>

#include "vnet_internal.h"

const uint8_t vnet_mac_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static bool is_multicast(const uint8_t *mac) { return (mac[0] & 1) != 0; }

void vnet_eth_input(struct vnet *net, const uint8_t *frame, size_t len, uint64_t now_ns) {
  net->stats.rx_frames++;
  if (len < VNET_ETH_HEADER_LEN) {
    net->stats.rx_drop_runt++;
    return;
  }
  if (len > VNET_ETH_HEADER_LEN + (size_t)net->cfg.mtu) {
    net->stats.rx_drop_oversize++;
    return;
  }
  const uint8_t *dst = frame, *src = frame + 6;
  /* No multicast group is joined: only our MAC and the broadcast are for us. A multicast
   * source is not a station, and an answer to it would go to a group. */
  bool for_us = memcmp(dst, net->cfg.mac, 6) == 0 || memcmp(dst, vnet_mac_broadcast, 6) == 0;
  if (!for_us || is_multicast(src)) {
    net->stats.rx_drop_mac++;
    return;
  }
  const uint8_t *payload = frame + VNET_ETH_HEADER_LEN;
  size_t payload_len = len - VNET_ETH_HEADER_LEN;
  switch (vnet_get16(frame + 12)) {
    case VNET_ETHERTYPE_IPV4: vnet_ipv4_input(net, payload, payload_len, now_ns); break;
    case VNET_ETHERTYPE_ARP: vnet_arp_input(net, payload, payload_len, now_ns); break;
    default: net->stats.rx_drop_ethertype++; break;
  }
}

void vnet_eth_send(struct vnet *net, uint8_t *frame, const uint8_t dst[6], uint16_t ethertype,
                   size_t payload_len) {
  memcpy(frame, dst, 6);
  memcpy(frame + 6, net->cfg.mac, 6);
  vnet_put16(frame + 12, ethertype);
  net->stats.tx_frames++;
  net->drv.send_frame(net->drv.ctx, frame, VNET_ETH_HEADER_LEN + payload_len);
}
