/* ARP (RFC 826) for IPv4 over Ethernet: the cache, the answers, and the packets held while a
 * next hop is being resolved. */
#include <string.h>

#include "vnet_internal.h"

#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

static struct vnet_arp_entry *find(struct vnet *net, uint32_t ip) {
  for (size_t i = 0; i < VNET_ARP_CACHE_SIZE; i++) {
    if (net->arp[i].state != VNET_ARP_FREE && net->arp[i].ip == ip) return &net->arp[i];
  }
  return NULL;
}

static void drop_pending(struct vnet *net, size_t i) {
  memmove(&net->pending[i], &net->pending[i + 1],
          (net->pending_count - i - 1) * sizeof net->pending[0]);
  net->pending_count--;
}

/* Drops the packets held for ip, counting them as failed. */
static void fail_pending(struct vnet *net, uint32_t ip) {
  for (size_t i = 0; i < net->pending_count;) {
    if (net->pending[i].next_hop == ip) {
      net->stats.tx_drop_arp_failed++;
      drop_pending(net, i);
    } else {
      i++;
    }
  }
}

/* Sends the packets held for ip, oldest first, to mac. */
static void flush_pending(struct vnet *net, uint32_t ip, const uint8_t *mac) {
  for (size_t i = 0; i < net->pending_count;) {
    struct vnet_pending *p = &net->pending[i];
    if (p->next_hop == ip) {
      vnet_eth_send(net, p->frame, mac, VNET_ETHERTYPE_IPV4, p->len - VNET_ETH_HEADER_LEN);
      drop_pending(net, i);
    } else {
      i++;
    }
  }
}

/* A free entry, else the resolved one that expires first, else (every entry waiting for an
 * answer) the incomplete one that gives up first, whose packets are dropped. */
static struct vnet_arp_entry *take_entry(struct vnet *net) {
  struct vnet_arp_entry *resolved = NULL, *incomplete = NULL;
  for (size_t i = 0; i < VNET_ARP_CACHE_SIZE; i++) {
    struct vnet_arp_entry *e = &net->arp[i];
    if (e->state == VNET_ARP_FREE) return e;
    struct vnet_arp_entry **oldest = e->state == VNET_ARP_RESOLVED ? &resolved : &incomplete;
    if (*oldest == NULL || e->deadline_ns < (*oldest)->deadline_ns) *oldest = e;
  }
  if (resolved != NULL) return resolved;
  fail_pending(net, incomplete->ip);
  return incomplete;
}

static void send_arp(struct vnet *net, uint16_t op, const uint8_t *eth_dst,
                     const uint8_t *target_mac, uint32_t target_ip) {
  uint8_t *arp = net->tx + VNET_ETH_HEADER_LEN;
  vnet_put16(arp, 1); /* Ethernet */
  vnet_put16(arp + 2, VNET_ETHERTYPE_IPV4);
  arp[4] = 6;
  arp[5] = 4;
  vnet_put16(arp + 6, op);
  memcpy(arp + 8, net->cfg.mac, 6);
  vnet_put32(arp + 14, net->cfg.ip);
  memcpy(arp + 18, target_mac, 6);
  vnet_put32(arp + 24, target_ip);
  vnet_eth_send(net, net->tx, eth_dst, VNET_ETHERTYPE_ARP, VNET_ARP_LEN);
}

static void request(struct vnet *net, struct vnet_arp_entry *e, uint64_t now_ns) {
  static const uint8_t unknown[6];
  e->requests++;
  e->deadline_ns = vnet_later(now_ns, VNET_ARP_RETRY_NS);
  net->stats.tx_arp_requests++;
  send_arp(net, ARP_OP_REQUEST, vnet_mac_broadcast, unknown, e->ip);
}

static void resolve(struct vnet *net, struct vnet_arp_entry *e, const uint8_t *mac,
                    uint64_t now_ns) {
  memcpy(e->mac, mac, 6);
  e->state = VNET_ARP_RESOLVED;
  e->requests = 0;
  e->deadline_ns = vnet_later(now_ns, VNET_ARP_TTL_NS);
  flush_pending(net, e->ip, e->mac);
}

static bool sender_valid(const uint8_t *mac) {
  static const uint8_t zero[6];
  return (mac[0] & 1) == 0 && memcmp(mac, zero, 6) != 0;
}

void vnet_arp_input(struct vnet *net, const uint8_t *pkt, size_t len, uint64_t now_ns) {
  if (len < VNET_ARP_LEN || vnet_get16(pkt) != 1 || vnet_get16(pkt + 2) != VNET_ETHERTYPE_IPV4 ||
      pkt[4] != 6 || pkt[5] != 4) {
    net->stats.rx_drop_arp_malformed++;
    return;
  }
  uint16_t op = vnet_get16(pkt + 6);
  const uint8_t *sender_mac = pkt + 8;
  uint32_t sender_ip = vnet_get32(pkt + 14), target_ip = vnet_get32(pkt + 24);
  if ((op != ARP_OP_REQUEST && op != ARP_OP_REPLY) || !sender_valid(sender_mac)) {
    net->stats.rx_drop_arp_malformed++;
    return;
  }
  /* What a sender says of itself is learnt only for the subnet (nothing else is looked up),
   * never for 0.0.0.0 (an RFC 5227 probe) nor for our own address (a conflict). */
  bool learnable = sender_ip != 0 && sender_ip != net->cfg.ip &&
                   vnet_ipv4_on_subnet(net, sender_ip) && !vnet_ipv4_is_broadcast(net, sender_ip);
  /* RFC 826's merge: an address already in the cache takes the sender's MAC, whoever the
   * packet was for; so a peer's gratuitous ARP after its own failover reaches us. */
  struct vnet_arp_entry *e = learnable ? find(net, sender_ip) : NULL;
  bool merged = e != NULL;
  if (merged) resolve(net, e, sender_mac, now_ns);
  if (target_ip != net->cfg.ip || sender_ip == net->cfg.ip) {
    if (merged) {
      net->stats.rx_delivered++;
    } else {
      net->stats.rx_drop_arp_not_for_us++;
    }
    return;
  }
  /* For us: a peer that asks for us is about to talk to us, so remember it (the merge's
   * second half), and the answer to it needs no request of our own. */
  if (learnable && !merged) {
    e = take_entry(net);
    e->ip = sender_ip;
    resolve(net, e, sender_mac, now_ns);
  }
  if (op == ARP_OP_REQUEST) send_arp(net, ARP_OP_REPLY, sender_mac, sender_mac, sender_ip);
  net->stats.rx_delivered++;
}

const uint8_t *vnet_arp_lookup(const struct vnet *net, uint32_t ip, uint64_t now_ns) {
  for (size_t i = 0; i < VNET_ARP_CACHE_SIZE; i++) {
    const struct vnet_arp_entry *e = &net->arp[i];
    if (e->ip == ip && e->state == VNET_ARP_RESOLVED && now_ns < e->deadline_ns) return e->mac;
  }
  return NULL;
}

int vnet_arp_hold(struct vnet *net, uint32_t next_hop, const uint8_t *frame, size_t len,
                  uint64_t now_ns) {
  int rc = VNET_OK;
  /* Copied first: frame is net->tx, where the request is about to be built. */
  if (net->pending_count == VNET_ARP_PENDING_MAX) {
    net->stats.tx_drop_pending_full++;
    rc = VNET_ERR_NO_BUFFER;
  } else {
    struct vnet_pending *p = &net->pending[net->pending_count++];
    p->next_hop = next_hop;
    p->len = (uint16_t)len;
    memcpy(p->frame, frame, len);
  }
  struct vnet_arp_entry *e = find(net, next_hop);
  if (e != NULL && e->state == VNET_ARP_INCOMPLETE) return rc; /* asked already */
  if (e == NULL) {
    e = take_entry(net);
    e->ip = next_hop;
  }
  /* New, or resolved once but expired: ask afresh. */
  e->state = VNET_ARP_INCOMPLETE;
  e->requests = 0;
  request(net, e, now_ns);
  return rc;
}

void vnet_arp_poll(struct vnet *net, uint64_t now_ns) {
  for (size_t i = 0; i < VNET_ARP_CACHE_SIZE; i++) {
    struct vnet_arp_entry *e = &net->arp[i];
    if (e->state == VNET_ARP_FREE || now_ns < e->deadline_ns) continue;
    if (e->state == VNET_ARP_INCOMPLETE && e->requests < VNET_ARP_MAX_REQUESTS) {
      request(net, e, now_ns);
      continue;
    }
    if (e->state == VNET_ARP_INCOMPLETE) fail_pending(net, e->ip);
    e->state = VNET_ARP_FREE;
  }
}

uint64_t vnet_arp_next_deadline(const struct vnet *net) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < VNET_ARP_CACHE_SIZE; i++) {
    const struct vnet_arp_entry *e = &net->arp[i];
    if (e->state == VNET_ARP_INCOMPLETE && e->deadline_ns < next) next = e->deadline_ns;
  }
  return next;
}

void vnet_arp_announce(struct vnet *net) {
  static const uint8_t unknown[6];
  send_arp(net, ARP_OP_REQUEST, vnet_mac_broadcast, unknown, net->cfg.ip);
}
