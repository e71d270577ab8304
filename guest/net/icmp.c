/* ICMP (RFC 792): answers echo requests, so that ping works. Nothing else is sent or taken:
 * errors (unreachable, time exceeded) can come later, with TCP's need for them. */
#include <string.h>

#include "vnet_internal.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

void vnet_icmp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                     uint64_t now_ns) {
  (void)dst; /* always ours: broadcasts stop at ipv4.c */
  if (len < VNET_ICMP_HEADER_LEN) {
    net->stats.rx_drop_icmp_malformed++;
    return;
  }
  if (vnet_csum_finish(vnet_csum_add(0, msg, len)) != 0) {
    net->stats.rx_drop_icmp_checksum++;
    return;
  }
  if (msg[0] != ICMP_ECHO_REQUEST || msg[1] != 0) {
    net->stats.rx_drop_icmp_type++;
    return;
  }
  /* The reply mirrors the request: same identifier, sequence number and data. It is no
   * larger than the request, which fit our MTU on the way in. */
  uint8_t *reply = vnet_ipv4_payload(net);
  memcpy(reply, msg, len);
  reply[0] = ICMP_ECHO_REPLY;
  reply[1] = 0;
  vnet_put16(reply + 2, 0);
  vnet_put16(reply + 2, vnet_csum_finish(vnet_csum_add(0, reply, len)));
  if (vnet_ipv4_send(net, src, VNET_IP_PROTO_ICMP, len, now_ns) == VNET_OK) {
    net->stats.rx_delivered++;
  } else {
    net->stats.rx_drop_no_reply++;
  }
}
