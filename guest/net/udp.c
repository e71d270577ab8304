/* UDP (RFC 768): delivers datagrams to bound ports and sends the caller's. */
#include <string.h>

#include "vnet_internal.h"

static struct vnet_udp_binding *binding(struct vnet *net, uint16_t port) {
  for (size_t i = 0; i < VNET_UDP_BINDINGS; i++) {
    if (net->udp[i].port == port) return &net->udp[i];
  }
  return NULL;
}

void vnet_udp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                    uint64_t now_ns) {
  (void)now_ns;
  if (len < VNET_UDP_HEADER_LEN) {
    net->stats.rx_drop_udp_malformed++;
    return;
  }
  /* The length field may be shorter than the IP payload (the rest is ignored), not longer. */
  size_t udp_len = vnet_get16(msg + 4);
  if (udp_len < VNET_UDP_HEADER_LEN || udp_len > len) {
    net->stats.rx_drop_udp_malformed++;
    return;
  }
  /* A zero checksum means the sender computed none (RFC 768). */
  if (vnet_get16(msg + 6) != 0 &&
      vnet_l4_checksum(src, dst, VNET_IP_PROTO_UDP, msg, udp_len) != 0) {
    net->stats.rx_drop_udp_checksum++;
    return;
  }
  uint16_t src_port = vnet_get16(msg), dst_port = vnet_get16(msg + 2);
  struct vnet_udp_binding *b = dst_port == 0 ? NULL : binding(net, dst_port);
  if (b == NULL) {
    net->stats.rx_drop_udp_no_port++;
    return;
  }
  net->stats.rx_delivered++;
  b->handler(b->ctx, src, src_port, dst_port, msg + VNET_UDP_HEADER_LEN,
             udp_len - VNET_UDP_HEADER_LEN);
}

int vnet_udp_bind(struct vnet *net, uint16_t port, vnet_udp_handler handler, void *ctx) {
  if (port == 0 || handler == NULL) return VNET_ERR_INVALID;
  if (binding(net, port) != NULL) return VNET_ERR_IN_USE;
  struct vnet_udp_binding *b = binding(net, 0);
  if (b == NULL) return VNET_ERR_FULL;
  b->port = port;
  b->handler = handler;
  b->ctx = ctx;
  return VNET_OK;
}

int vnet_udp_unbind(struct vnet *net, uint16_t port) {
  struct vnet_udp_binding *b = port == 0 ? NULL : binding(net, port);
  if (b == NULL) return VNET_ERR_NOT_FOUND;
  memset(b, 0, sizeof *b);
  return VNET_OK;
}

size_t vnet_udp_max_payload(const struct vnet *net) {
  return (size_t)net->cfg.mtu - VNET_IPV4_HEADER_LEN - VNET_UDP_HEADER_LEN;
}

int vnet_udp_send(struct vnet *net, uint32_t dst_ip, uint16_t dst_port, uint16_t src_port,
                  const void *data, size_t len, uint64_t now_ns) {
  if (net->cfg.mtu == 0 /* vnet_init failed */ || dst_port == 0 || src_port == 0 ||
      (data == NULL && len > 0))
    return VNET_ERR_INVALID;
  if (len > vnet_udp_max_payload(net)) {
    net->stats.tx_drop_too_big++;
    return VNET_ERR_TOO_BIG;
  }
  uint8_t *udp = vnet_ipv4_payload(net);
  size_t udp_len = VNET_UDP_HEADER_LEN + len;
  vnet_put16(udp, src_port);
  vnet_put16(udp + 2, dst_port);
  vnet_put16(udp + 4, (uint16_t)udp_len);
  vnet_put16(udp + 6, 0);
  if (len > 0) memcpy(udp + VNET_UDP_HEADER_LEN, data, len);
  uint16_t sum = vnet_l4_checksum(net->cfg.ip, dst_ip, VNET_IP_PROTO_UDP, udp, udp_len);
  vnet_put16(udp + 6, sum == 0 ? 0xffff : sum); /* 0 would say "no checksum" */
  return vnet_ipv4_send(net, dst_ip, VNET_IP_PROTO_UDP, udp_len, now_ns);
}
