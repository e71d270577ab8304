/*
 * What the layers of vnet share, private to guest/net/. Each layer has an input function
 * (called by the layer below with the bytes of its own header and payload, bounds checked by
 * the caller) and an output path that builds in place in net->tx: a protocol writes its header
 * and payload at vnet_ipv4_payload(net), then vnet_ipv4_send adds the IP and Ethernet headers.
 * TCP plugs in the same way: vnet_tcp_input behind ipv4's protocol switch, segments built at
 * vnet_ipv4_payload, and its timers folded into vnet_poll and vnet_next_deadline.
 *
 * Every input function counts each packet it is given exactly once: in rx_delivered or in one
 * rx_drop_* counter.
 */
#ifndef VMFT_VNET_INTERNAL_H
#define VMFT_VNET_INTERNAL_H

#include <stdbool.h>

#include "vnet.h"

/* ---- wire constants ---- */
#define VNET_ETHERTYPE_IPV4 0x0800
#define VNET_ETHERTYPE_ARP 0x0806
#define VNET_ARP_LEN 28         /* an Ethernet/IPv4 ARP packet */
#define VNET_IPV4_HEADER_LEN 20 /* without options: the stack sends none */
#define VNET_IP_PROTO_ICMP 1
#define VNET_IP_PROTO_UDP 17
#define VNET_IP_PROTO_TCP 6
#define VNET_ICMP_HEADER_LEN 8
#define VNET_UDP_HEADER_LEN 8
#define VNET_IPV4_TTL 64 /* RFC 1700's recommended default, as Linux */

#define VNET_IPV4_BROADCAST 0xffffffffu

/* ARP cache entry states (struct vnet_arp_entry.state). */
#define VNET_ARP_FREE 0
#define VNET_ARP_INCOMPLETE 1 /* asked, no answer yet; deadline_ns is the next retry */
#define VNET_ARP_RESOLVED 2   /* mac is valid until deadline_ns */

extern const uint8_t vnet_mac_broadcast[6];

/* ---- bytes: big-endian on the wire, any alignment ---- */
static inline uint16_t vnet_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t vnet_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void vnet_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void vnet_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---- time ---- */
/* now_ns + delay, saturated: now_ns comes from any monotonic clock the caller likes, and a
 * deadline that wrapped would be long past (due at once, or an entry expired at once). At most
 * UINT64_MAX - 1: UINT64_MAX means no deadline, and a timer set to it would never fire. */
static inline uint64_t vnet_later(uint64_t now_ns, uint64_t delay) {
  const uint64_t last = UINT64_MAX - 1;
  return now_ns >= last || delay > last - now_ns ? last : now_ns + delay;
}

/* ---- checksum.c: the Internet checksum (RFC 1071) ---- */
/* Adds data to a running one's complement sum. Only the last piece may have an odd length. */
uint32_t vnet_csum_add(uint32_t sum, const uint8_t *data, size_t len);
/* The checksum field's value for a running sum: the complement of the folded sum. */
uint16_t vnet_csum_finish(uint32_t sum);
/* The checksum of a UDP or TCP segment with its IPv4 pseudo-header (field included as is). */
uint16_t vnet_l4_checksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg,
                          size_t len);

/* ---- eth.c ---- */
void vnet_eth_input(struct vnet *net, const uint8_t *frame, size_t len, uint64_t now_ns);
/* Fills in frame's Ethernet header (our MAC as the source) and hands the frame to the driver. */
void vnet_eth_send(struct vnet *net, uint8_t *frame, const uint8_t dst[6], uint16_t ethertype,
                   size_t payload_len);

/* ---- arp.c ---- */
void vnet_arp_input(struct vnet *net, const uint8_t *pkt, size_t len, uint64_t now_ns);
/* The MAC of ip, if resolved and not expired at now_ns. */
const uint8_t *vnet_arp_lookup(const struct vnet *net, uint32_t ip, uint64_t now_ns);
/* Holds a whole frame (its Ethernet destination to be filled in) until next_hop resolves,
 * asking for it unless a request is out already. VNET_ERR_NO_BUFFER when the queue is full
 * (the request still goes out, so that a later try finds the MAC). */
int vnet_arp_hold(struct vnet *net, uint32_t next_hop, const uint8_t *frame, size_t len,
                  uint64_t now_ns);
void vnet_arp_poll(struct vnet *net, uint64_t now_ns);
uint64_t vnet_arp_next_deadline(const struct vnet *net);
void vnet_arp_announce(struct vnet *net);

/* ---- ipv4.c ---- */
void vnet_ipv4_input(struct vnet *net, const uint8_t *pkt, size_t len, uint64_t now_ns);
/* Where a protocol builds its segment before vnet_ipv4_send. */
static inline uint8_t *vnet_ipv4_payload(struct vnet *net) {
  return net->tx + VNET_ETH_HEADER_LEN + VNET_IPV4_HEADER_LEN;
}
/* Sends the payload_len bytes built at vnet_ipv4_payload as one IPv4 packet from our address
 * to dst: routes it, resolves the next hop (holding the frame if needed) and counts tx drops.
 * VNET_OK when sent or held; VNET_ERR_TOO_BIG, VNET_ERR_NO_ROUTE or VNET_ERR_NO_BUFFER. */
int vnet_ipv4_send(struct vnet *net, uint32_t dst, uint8_t proto, size_t payload_len,
                   uint64_t now_ns);
/* 255.255.255.255, or the subnet's broadcast (prefixes up to /30: RFC 3021's /31 has none). */
bool vnet_ipv4_is_broadcast(const struct vnet *net, uint32_t addr);
bool vnet_ipv4_on_subnet(const struct vnet *net, uint32_t addr);

/* ---- tcp*.c ---- */
#define VNET_TCP_HEADER_LEN 20 /* without options */
#define VNET_TCP_FIN 0x01
#define VNET_TCP_SYN 0x02
#define VNET_TCP_RST 0x04
#define VNET_TCP_PSH 0x08
#define VNET_TCP_ACK 0x10
#define VNET_TCP_URG 0x20
/* RFC 9293: the MSS to assume when a SYN carries no MSS option. */
#define VNET_TCP_DEFAULT_MSS 536
/* The least MSS taken from a peer's option: a smaller one (0 even) would make every segment
 * mostly header, or stall the connection. */
#define VNET_TCP_MIN_MSS 64

/* What vnet_tcp_conn.deadline_ns is for. */
#define VNET_TCP_TIMER_NONE 0
#define VNET_TCP_TIMER_RTX 1        /* something is in flight: retransmit it */
#define VNET_TCP_TIMER_PERSIST 2    /* the peer's window is 0 and we have data: probe it */
#define VNET_TCP_TIMER_TIME_WAIT 3  /* 2 MSL are over: free the block */
#define VNET_TCP_TIMER_FIN_WAIT_2 4 /* an orphan's wait for the peer's FIN is over: free it */

/* Sequence numbers compare modulo 2^32 (RFC 9293 3.4). */
static inline bool vnet_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool vnet_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool vnet_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool vnet_seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t vnet_seq_max(uint32_t a, uint32_t b) { return vnet_seq_gt(a, b) ? a : b; }

/* A received segment, parsed and checked. */
struct vnet_tcp_segment {
  uint32_t src_ip;
  uint16_t src_port, dst_port;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t window;
  uint16_t mss; /* the MSS option, 0 when absent */
  const uint8_t *data;
  uint32_t len; /* payload bytes */
};
static inline bool vnet_tcp_has(const struct vnet_tcp_segment *s, uint8_t flag) {
  return (s->flags & flag) != 0;
}
/* The sequence space a segment takes: its data, SYN and FIN. */
static inline uint32_t vnet_tcp_seg_space(const struct vnet_tcp_segment *s) {
  return s->len + (vnet_tcp_has(s, VNET_TCP_SYN) ? 1u : 0u) +
         (vnet_tcp_has(s, VNET_TCP_FIN) ? 1u : 0u);
}

/* tcp_input.c */
void vnet_tcp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                    uint64_t now_ns);
/* tcp_conn.c: a segment for a connection past SYN_SENT (RFC 9293 3.10.7.4). */
void vnet_tcp_conn_input(struct vnet *net, struct vnet_tcp_conn *c,
                         const struct vnet_tcp_segment *s, uint64_t now_ns);
/* tcp_timer.c */
/* vnet_link_moved's TCP part: each synchronized connection's unacknowledged segments again,
 * and VNET_TCP_LINK_DUPACKS duplicate ACKs. */
void vnet_tcp_link_moved(struct vnet *net, uint64_t now_ns);
void vnet_tcp_poll(struct vnet *net, uint64_t now_ns);
uint64_t vnet_tcp_next_deadline(const struct vnet *net);
/* Arms or stops the retransmission and persist timers after anything that changed what is in
 * flight or the peer's window. */
void vnet_tcp_arm(struct vnet_tcp_conn *c, uint64_t now_ns);
/* Takes an RTT sample for an ACK that advanced snd_una (RFC 6298, Karn's rule). */
void vnet_tcp_rtt_sample(struct vnet_tcp_conn *c, uint32_t ack, uint64_t now_ns);
/* tcp_output.c */
/* Sends what the window allows (at most max_segments), and an ACK if ack_now and nothing else
 * went out; then arms the timers. */
void vnet_tcp_output(struct vnet *net, struct vnet_tcp_conn *c, bool ack_now, int max_segments,
                     uint64_t now_ns);
void vnet_tcp_send_ack(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns);
/* A RST with the given numbers (flags: RST, or RST|ACK), from our address. */
void vnet_tcp_send_rst(struct vnet *net, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                       uint32_t seq, uint32_t ack, uint8_t flags, uint64_t now_ns);
/* Sends the segment at snd_una again (a timeout or three duplicate ACKs). */
void vnet_tcp_retransmit_first(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns);
/* Sends one byte past the peer's zero window. */
void vnet_tcp_send_probe(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns);
/* tcp_isn.c: RFC 6528's ISN for a 4-tuple at now_ns, keyed by cfg.tcp_secret. */
uint32_t vnet_tcp_isn(const struct vnet *net, uint32_t remote_ip, uint16_t local_port,
                      uint16_t remote_port, uint64_t now_ns);
/* tcp.c: the pool */
/* A block for a new connection: a free one, or else the TIME_WAIT one closest to expiry;
 * NULL when every block is in use. Returns it zeroed, with order set. */
struct vnet_tcp_conn *vnet_tcp_alloc(struct vnet *net);
/* Puts c at the end of vnet_tcp_next_changed's list, unless it is there already. */
void vnet_tcp_mark_changed(struct vnet *net, struct vnet_tcp_conn *c);
struct vnet_tcp_conn *vnet_tcp_find(struct vnet *net, uint32_t remote_ip, uint16_t local_port,
                                    uint16_t remote_port);
/* The connection is over (state CLOSED): freed unless the caller still holds it (then error,
 * if not 0, is what read and write report). */
void vnet_tcp_finish(struct vnet_tcp_conn *c, int error);
/* Resets the connection: a RST to the peer, then vnet_tcp_finish. */
void vnet_tcp_reset(struct vnet *net, struct vnet_tcp_conn *c, int error, uint64_t now_ns);
/* Closed by the caller (vnet_tcp_close): nobody will read or write it again, so nothing but
 * the peer's good manners would end it. One a listener made and nobody accepted yet is not. */
static inline bool vnet_tcp_orphaned(const struct vnet_tcp_conn *c) {
  return !c->owned && c->listener == 0;
}
/* The window we can offer: free receive buffer. */
static inline uint32_t vnet_tcp_rx_free(const struct vnet_tcp_conn *c) {
  return VNET_TCP_RX_BUF - (uint32_t)c->rx_len;
}
/* Our MSS: what fits our MTU. */
static inline uint16_t vnet_tcp_our_mss(const struct vnet *net) {
  return (uint16_t)(net->cfg.mtu - VNET_IPV4_HEADER_LEN - VNET_TCP_HEADER_LEN);
}
/* The connection's first unsent data byte, and the end of what is written. */
static inline uint32_t vnet_tcp_data_end(const struct vnet_tcp_conn *c) {
  return c->tx_seq + c->tx_len;
}

/* ---- icmp.c, udp.c: src and dst are the IP header's, msg the IP payload ---- */
void vnet_icmp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                     uint64_t now_ns);
void vnet_udp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                    uint64_t now_ns);

#endif /* VMFT_VNET_INTERNAL_H */
