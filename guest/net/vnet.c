/* The stack as a whole: configuration, timers, counters. */
#include <string.h>

#include "vnet_internal.h"

static uint32_t netmask_of(uint8_t prefix_len) {
  return prefix_len == 0 ? 0 : 0xffffffffu << (32 - prefix_len);
}

static bool config_valid(const struct vnet_config *cfg, const struct vnet_driver *drv) {
  static const uint8_t zero_mac[6];
  if (cfg == NULL || drv == NULL || drv->send_frame == NULL) return false;
  if ((cfg->mac[0] & 1) != 0 || memcmp(cfg->mac, zero_mac, 6) == 0) return false;
  if (cfg->ip == 0 || cfg->prefix_len > 32) return false;
  if (cfg->tcp_conn_count > VNET_TCP_CONNS_MAX || (cfg->tcp_conn_count > 0) != (cfg->tcp_conns != NULL))
    return false;
  if (cfg->mtu != 0 && (cfg->mtu < VNET_MTU_MIN || cfg->mtu > VNET_MTU_MAX)) return false;
  uint32_t mask = netmask_of(cfg->prefix_len);
  if (cfg->gateway != 0 && ((cfg->gateway ^ cfg->ip) & mask) != 0) return false;
  return cfg->gateway != cfg->ip;
}

int vnet_init(struct vnet *net, const struct vnet_config *cfg, const struct vnet_driver *drv) {
  memset(net, 0, sizeof *net);
  if (!config_valid(cfg, drv)) return VNET_ERR_INVALID;
  net->cfg = *cfg;
  if (net->cfg.mtu == 0) net->cfg.mtu = VNET_MTU_MAX;
  net->drv = *drv;
  net->netmask = netmask_of(cfg->prefix_len);
  net->changed_head = net->changed_tail = -1;
  net->tcp = cfg->tcp_conns;
  net->tcp_count = cfg->tcp_conn_count;
  if (net->tcp_count > 0) memset(net->tcp, 0, net->tcp_count * sizeof *net->tcp);
  for (size_t i = 0; i < net->tcp_count; i++) net->tcp[i].deadline_ns = UINT64_MAX;
  return VNET_OK;
}

/* A stack whose vnet_init failed has no MTU, and ignores every call. */
static bool ready(const struct vnet *net) { return net->cfg.mtu != 0; }

void vnet_input(struct vnet *net, const uint8_t *frame, size_t len, uint64_t now_ns) {
  if (!ready(net)) return;
  if (frame == NULL) len = 0;
  vnet_eth_input(net, frame, len, now_ns);
}

uint64_t vnet_poll(struct vnet *net, uint64_t now_ns) {
  if (!ready(net)) return UINT64_MAX;
  vnet_arp_poll(net, now_ns);
  vnet_tcp_poll(net, now_ns);
  return vnet_next_deadline(net);
}

uint64_t vnet_next_deadline(const struct vnet *net) {
  uint64_t arp = vnet_arp_next_deadline(net), tcp = vnet_tcp_next_deadline(net);
  return arp < tcp ? arp : tcp;
}

void vnet_announce(struct vnet *net) {
  if (ready(net)) vnet_arp_announce(net);
}

void vnet_link_moved(struct vnet *net, uint64_t now_ns) {
  if (!ready(net)) return;
  vnet_arp_announce(net);
  vnet_tcp_link_moved(net, now_ns);
}

const struct vnet_stats *vnet_get_stats(const struct vnet *net) { return &net->stats; }
