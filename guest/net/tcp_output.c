/* TCP's sending side: segments built in place at vnet_ipv4_payload, what the peer's window
 * and our send buffer allow, ACKs with the window we advertise, RSTs, retransmissions and
 * window probes. There is no Nagle: a guest server answers at once. An ACK is delayed only
 * with vnet_config.delay_acks, and then only until the next vnet_poll (no timer of its own,
 * which in vmft would be a logged input). */
#include <string.h>

#include "vnet_internal.h"

/* The window to advertise, moving its right edge only by at least min(half the buffer, an
 * MSS) at a time (RFC 1122 4.2.3.3, the receiver's silly window avoidance); never shrinking
 * it, since out-of-order data may already sit in what was offered. Records the edge. */
static uint16_t advertise(struct vnet_tcp_conn *c) {
  uint32_t edge = c->rcv_nxt + vnet_tcp_rx_free(c);
  uint32_t step = VNET_TCP_RX_BUF / 2 < c->mss ? VNET_TCP_RX_BUF / 2 : c->mss;
  if (vnet_seq_lt(c->rcv_adv, c->rcv_nxt) || (uint32_t)(edge - c->rcv_adv) >= step ||
      (vnet_seq_gt(edge, c->rcv_adv) && edge - c->rcv_nxt == VNET_TCP_RX_BUF))
    c->rcv_adv = edge;
  return (uint16_t)(c->rcv_adv - c->rcv_nxt);
}

static size_t put_header(uint8_t *seg, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                         uint8_t flags, uint16_t window, size_t options_len) {
  vnet_put16(seg, sport);
  vnet_put16(seg + 2, dport);
  vnet_put32(seg + 4, seq);
  vnet_put32(seg + 8, ack);
  size_t header_len = VNET_TCP_HEADER_LEN + options_len;
  seg[12] = (uint8_t)(header_len / 4 << 4);
  seg[13] = flags;
  vnet_put16(seg + 14, window);
  vnet_put16(seg + 16, 0);
  vnet_put16(seg + 18, 0);
  return header_len;
}

static void finish_and_send(struct vnet *net, uint32_t dst_ip, size_t seg_len, uint64_t now_ns) {
  uint8_t *seg = vnet_ipv4_payload(net);
  vnet_put16(seg + 16, vnet_l4_checksum(net->cfg.ip, dst_ip, VNET_IP_PROTO_TCP, seg, seg_len));
  /* A segment the link could not take (no route, no ARP slot) is lost like any other: the
   * retransmission timer covers it. */
  (void)vnet_ipv4_send(net, dst_ip, VNET_IP_PROTO_TCP, seg_len, now_ns);
}

void vnet_tcp_send_rst(struct vnet *net, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                       uint32_t seq, uint32_t ack, uint8_t flags, uint64_t now_ns) {
  uint8_t *seg = vnet_ipv4_payload(net);
  size_t len = put_header(seg, src_port, dst_port, seq, ack, flags, 0, 0);
  net->stats.tcp_resets_sent++;
  finish_and_send(net, dst_ip, len, now_ns);
}

/* Sends one segment of the connection: flags, and len bytes of the send buffer from seq (a
 * SYN carries our MSS option). Keeps snd_max and the RTT measurement up to date. */
static void send_segment(struct vnet *net, struct vnet_tcp_conn *c, uint32_t seq, uint8_t flags,
                         size_t len, uint64_t now_ns) {
  uint8_t *seg = vnet_ipv4_payload(net);
  bool syn = (flags & VNET_TCP_SYN) != 0;
  if (c->state != VNET_TCP_SYN_SENT) flags |= VNET_TCP_ACK;
  if ((flags & VNET_TCP_ACK) != 0) c->ack_owed = 0;
  uint32_t ack = (flags & VNET_TCP_ACK) != 0 ? c->rcv_nxt : 0;
  size_t header_len =
      put_header(seg, c->local_port, c->remote_port, seq, ack, flags, advertise(c), syn ? 4 : 0);
  if (syn) {
    seg[20] = 2; /* MSS */
    seg[21] = 4;
    vnet_put16(seg + 22, vnet_tcp_our_mss(net));
  }
  if (len > 0) {
    size_t at = (c->tx_head + (size_t)(seq - c->tx_seq)) % VNET_TCP_TX_BUF;
    size_t first = VNET_TCP_TX_BUF - at < len ? VNET_TCP_TX_BUF - at : len;
    memcpy(seg + header_len, c->tx + at, first);
    memcpy(seg + header_len + first, c->tx, len - first);
  }
  uint32_t end = seq + (uint32_t)len + (syn ? 1u : 0u) + ((flags & VNET_TCP_FIN) ? 1u : 0u);
  if (end != seq && vnet_seq_lt(seq, c->snd_max)) { /* an ACK before snd_max resends nothing */
    net->stats.tcp_retransmits++;
    c->rtt_timing = 0; /* Karn: no sample from a segment sent twice */
  } else if (end != seq && !c->rtt_timing) {
    c->rtt_timing = 1;
    c->rtt_seq = seq;
    c->rtt_start_ns = now_ns;
  }
  c->snd_max = vnet_seq_max(c->snd_max, end);
  finish_and_send(net, c->remote_ip, header_len + len, now_ns);
}

void vnet_tcp_send_ack(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  send_segment(net, c, c->snd_nxt, VNET_TCP_ACK, 0, now_ns);
}

/* How many more bytes the peer's window takes from snd_nxt (0 when it is full or shrank). */
static uint32_t window_left(const struct vnet_tcp_conn *c) {
  uint32_t right = c->snd_una + c->snd_wnd;
  return vnet_seq_gt(right, c->snd_nxt) ? right - c->snd_nxt : 0;
}

static bool fin_may_go(const struct vnet_tcp_conn *c) {
  return c->fin_queued && (c->state == VNET_TCP_FIN_WAIT_1 || c->state == VNET_TCP_CLOSING ||
                           c->state == VNET_TCP_LAST_ACK);
}

/* Sends the next segment from snd_nxt if one may go; false when none. */
static bool send_next(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  if (c->state == VNET_TCP_SYN_SENT || c->state == VNET_TCP_SYN_RECEIVED) {
    if (c->snd_nxt != c->iss) return false;
    send_segment(net, c, c->iss, VNET_TCP_SYN, 0, now_ns);
    c->snd_nxt = c->iss + 1;
    return true;
  }
  if (c->state == VNET_TCP_CLOSED || c->state == VNET_TCP_TIME_WAIT) return false;
  uint32_t data_end = vnet_tcp_data_end(c);
  if (vnet_seq_lt(c->snd_nxt, data_end)) {
    uint32_t avail = data_end - c->snd_nxt, n = window_left(c);
    if (n > avail) n = avail;
    if (n > c->mss) n = c->mss;
    /* The sender's silly window avoidance: no runt segment while others are in flight. */
    if (n == 0 || (n < avail && n < c->mss && c->snd_nxt != c->snd_una)) return false;
    uint8_t flags = n == avail ? VNET_TCP_PSH : 0;
    if (n == avail && fin_may_go(c)) flags |= VNET_TCP_FIN;
    send_segment(net, c, c->snd_nxt, flags, n, now_ns);
    c->snd_nxt += n + ((flags & VNET_TCP_FIN) ? 1u : 0u);
    return true;
  }
  if (c->snd_nxt == data_end && fin_may_go(c)) {
    send_segment(net, c, c->snd_nxt, VNET_TCP_FIN, 0, now_ns);
    c->snd_nxt++;
    return true;
  }
  return false;
}

void vnet_tcp_output(struct vnet *net, struct vnet_tcp_conn *c, bool ack_now, int max_segments,
                     uint64_t now_ns) {
  int sent = 0;
  while (sent < max_segments && send_next(net, c, now_ns)) sent++;
  if (sent == 0 && ack_now && c->state != VNET_TCP_SYN_SENT) vnet_tcp_send_ack(net, c, now_ns);
  vnet_tcp_arm(c, now_ns);
}

void vnet_tcp_retransmit_first(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  uint32_t resume = c->snd_nxt;
  c->snd_nxt = c->snd_una;
  if (!send_next(net, c, now_ns)) c->snd_nxt = resume; /* nothing there after all */
  c->snd_nxt = vnet_seq_max(c->snd_nxt, resume);
}

void vnet_tcp_send_probe(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  /* One byte past the window (RFC 9293 3.8.6.1): the peer takes it if its window opened,
   * and answers either way with its window. snd_nxt stays, so the byte is not in flight. */
  uint32_t saved_wnd = c->snd_wnd;
  c->snd_wnd = c->snd_nxt - c->snd_una + 1;
  uint32_t resume = c->snd_nxt;
  uint16_t mss = c->mss;
  c->mss = 1;
  bool timing = c->rtt_timing;
  send_next(net, c, now_ns);
  c->rtt_timing = timing; /* the peer may hold a probe's ACK for long: no sample from it */
  c->mss = mss;
  c->snd_nxt = resume;
  c->snd_wnd = saved_wnd;
}
