/* TCP's receiving side: a segment's checks, then RFC 9293 3.10.7's event processing for a
 * closed port, a listener, SYN_SENT and the synchronized states, with RFC 5961's defences
 * against blind resets and SYNs. */
#include <string.h>

#include "vnet_internal.h"

#define has vnet_tcp_has
#define seg_space vnet_tcp_seg_space

/* Options: only MSS matters (on a SYN); a malformed list is ignored from where it breaks. */
static uint16_t mss_option(const uint8_t *opt, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (opt[i] == 0) break;
    if (opt[i] == 1) {
      i++;
      continue;
    }
    if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len) break;
    if (opt[i] == 2 && opt[i + 1] == 4) return vnet_get16(opt + i + 2);
    i += opt[i + 1];
  }
  return 0;
}

static bool parse(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                  struct vnet_tcp_segment *s) {
  size_t header_len = len >= VNET_TCP_HEADER_LEN ? (size_t)(msg[12] >> 4) * 4 : 0;
  if (header_len < VNET_TCP_HEADER_LEN || header_len > len || vnet_get16(msg) == 0 ||
      vnet_get16(msg + 2) == 0) {
    net->stats.rx_drop_tcp_malformed++;
    return false;
  }
  if (vnet_l4_checksum(src, dst, VNET_IP_PROTO_TCP, msg, len) != 0) {
    net->stats.rx_drop_tcp_checksum++;
    return false;
  }
  s->src_ip = src;
  s->src_port = vnet_get16(msg);
  s->dst_port = vnet_get16(msg + 2);
  s->seq = vnet_get32(msg + 4);
  s->ack = vnet_get32(msg + 8);
  s->flags = msg[13] & 0x3f;
  s->window = vnet_get16(msg + 14);
  s->mss = mss_option(msg + VNET_TCP_HEADER_LEN, header_len - VNET_TCP_HEADER_LEN);
  s->data = msg + header_len;
  s->len = (uint32_t)(len - header_len);
  return true;
}

/* RFC 9293 3.10.7.1: a segment for no connection gets a RST (unless it is one). */
static void answer_closed(struct vnet *net, const struct vnet_tcp_segment *s, uint64_t now_ns) {
  if (has(s, VNET_TCP_RST)) return;
  if (has(s, VNET_TCP_ACK)) {
    vnet_tcp_send_rst(net, s->src_ip, s->dst_port, s->src_port, s->ack, 0, VNET_TCP_RST, now_ns);
  } else {
    vnet_tcp_send_rst(net, s->src_ip, s->dst_port, s->src_port, 0, s->seq + seg_space(s),
                      VNET_TCP_RST | VNET_TCP_ACK, now_ns);
  }
}

static uint16_t send_mss(const struct vnet *net, uint16_t peer_mss) {
  uint32_t mss = peer_mss == 0 ? VNET_TCP_DEFAULT_MSS : peer_mss;
  if (mss < VNET_TCP_MIN_MSS) mss = VNET_TCP_MIN_MSS;
  return (uint16_t)(mss < vnet_tcp_our_mss(net) ? mss : vnet_tcp_our_mss(net));
}

/* The peer's SYN: what we learn from it. */
static void take_syn(struct vnet *net, struct vnet_tcp_conn *c, const struct vnet_tcp_segment *s) {
  c->irs = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->rcv_adv = c->rcv_nxt;
  c->mss = send_mss(net, s->mss);
}

/* A listener's connections: how many, and the oldest half-open one. */
static unsigned backlog_of(struct vnet *net, int listener, struct vnet_tcp_conn **oldest_half) {
  unsigned n = 0;
  *oldest_half = NULL;
  for (size_t i = 0; i < net->tcp_count; i++) {
    struct vnet_tcp_conn *c = &net->tcp[i];
    if (c->state == VNET_TCP_CLOSED || c->listener != listener + 1) continue;
    n++;
    if (c->state == VNET_TCP_SYN_RECEIVED &&
        (*oldest_half == NULL || vnet_seq_lt(c->order, (*oldest_half)->order)))
      *oldest_half = c;
  }
  return n;
}

/* RFC 9293 3.10.7.2: LISTEN. old_snd_max: for a SYN that reopens a 4-tuple from TIME_WAIT,
 * the old connection's snd_max (else NULL). */
static void listen_input(struct vnet *net, int listener, const struct vnet_tcp_segment *s,
                         const uint32_t *old_snd_max, uint64_t now_ns) {
  if (has(s, VNET_TCP_RST)) goto rejected;
  if (has(s, VNET_TCP_ACK)) {
    vnet_tcp_send_rst(net, s->src_ip, s->dst_port, s->src_port, s->ack, 0, VNET_TCP_RST, now_ns);
    goto rejected;
  }
  if (!has(s, VNET_TCP_SYN) || has(s, VNET_TCP_FIN)) goto rejected;
  struct vnet_tcp_conn *oldest_half;
  if (backlog_of(net, listener, &oldest_half) >= net->tcp_listeners[listener].backlog) {
    /* A full backlog: a flood's SYN replaces the oldest half-open connection, so that a
     * real client that answers within a round trip still gets in. When all are established
     * and unaccepted, the caller is behind: the SYN is dropped and the peer retries. */
    if (oldest_half == NULL) goto rejected;
    memset(oldest_half, 0, offsetof(struct vnet_tcp_conn, rx));
    net->stats.tcp_syn_evicted++;
  }
  struct vnet_tcp_conn *c = vnet_tcp_alloc(net);
  if (c == NULL) goto rejected;
  c->state = VNET_TCP_SYN_RECEIVED;
  c->listener = (uint8_t)(listener + 1);
  c->remote_ip = s->src_ip;
  c->local_port = s->dst_port;
  c->remote_port = s->src_port;
  take_syn(net, c, s);
  c->iss = vnet_tcp_isn(net, s->src_ip, s->dst_port, s->src_port, now_ns);
  /* RFC 1122 4.2.2.13: a reopened connection starts above every number the old one used.
   * The ISN clock alone does not do that when the old one sent faster than 1 byte per 4 us. */
  if (old_snd_max != NULL && !vnet_seq_gt(c->iss, *old_snd_max)) c->iss = *old_snd_max + 1;
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->tx_seq = c->iss + 1;
  c->snd_wnd = s->window;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = c->iss;
  /* Data on a SYN is not kept (nor acknowledged): the peer sends it again. */
  net->stats.rx_delivered++;
  vnet_tcp_output(net, c, false, 1, now_ns);
  return;
rejected:
  net->stats.rx_drop_tcp_rejected++;
}

static void establish(struct vnet_tcp_conn *c) {
  c->state = c->fin_queued ? VNET_TCP_FIN_WAIT_1 : VNET_TCP_ESTABLISHED;
}

/* RFC 9293 3.10.7.3: SYN_SENT. */
static void syn_sent_input(struct vnet *net, struct vnet_tcp_conn *c,
                           const struct vnet_tcp_segment *s, uint64_t now_ns) {
  bool ack_ok =
      has(s, VNET_TCP_ACK) && vnet_seq_gt(s->ack, c->iss) && vnet_seq_le(s->ack, c->snd_max);
  if (has(s, VNET_TCP_ACK) && !ack_ok) {
    if (!has(s, VNET_TCP_RST))
      vnet_tcp_send_rst(net, s->src_ip, s->dst_port, s->src_port, s->ack, 0, VNET_TCP_RST, now_ns);
    net->stats.rx_drop_tcp_rejected++;
    return;
  }
  if (has(s, VNET_TCP_RST)) {
    if (!ack_ok) {
      net->stats.rx_drop_tcp_rejected++;
      return;
    }
    net->stats.rx_delivered++;
    vnet_tcp_finish(c, VNET_ERR_RESET); /* refused */
    return;
  }
  if (!has(s, VNET_TCP_SYN)) {
    net->stats.rx_drop_tcp_rejected++;
    return;
  }
  net->stats.rx_delivered++;
  take_syn(net, c, s);
  c->snd_wnd = s->window;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  if (!ack_ok) { /* a simultaneous open: our SYN again, with an ACK */
    c->state = VNET_TCP_SYN_RECEIVED;
    c->snd_nxt = c->iss;
    c->timer = VNET_TCP_TIMER_NONE;
    vnet_tcp_output(net, c, false, 1, now_ns);
    return;
  }
  vnet_tcp_rtt_sample(c, s->ack, now_ns);
  c->snd_una = s->ack;
  c->retries = 0;
  c->timer = VNET_TCP_TIMER_NONE;
  establish(c);
  /* Data or a FIN on the SYN-ACK is not kept: the peer sends it again. */
  vnet_tcp_output(net, c, true, VNET_TCP_TX_BUF, now_ns);
}

void vnet_tcp_input(struct vnet *net, uint32_t src, uint32_t dst, const uint8_t *msg, size_t len,
                    uint64_t now_ns) {
  struct vnet_tcp_segment s;
  if (!parse(net, src, dst, msg, len, &s)) return;
  struct vnet_tcp_conn *c = vnet_tcp_find(net, s.src_ip, s.dst_port, s.src_port);
  /* RFC 1122 4.2.2.13: a new SYN for a 4-tuple in TIME_WAIT, above its old numbers, starts
   * over (and our new ISN goes above the old snd_max, in listen_input). */
  uint32_t old_snd_max = 0;
  const uint32_t *reopened = NULL;
  if (c != NULL && c->state == VNET_TCP_TIME_WAIT && s.flags == VNET_TCP_SYN &&
      vnet_seq_gt(s.seq, c->rcv_nxt) && !c->owned) {
    old_snd_max = c->snd_max;
    reopened = &old_snd_max;
    memset(c, 0, offsetof(struct vnet_tcp_conn, rx));
    c = NULL;
  }
  if (c != NULL) {
    if (c->state == VNET_TCP_SYN_SENT) {
      syn_sent_input(net, c, &s, now_ns);
    } else {
      vnet_tcp_conn_input(net, c, &s, now_ns);
    }
    vnet_tcp_mark_changed(net, c);
    return;
  }
  for (int i = 0; i < VNET_TCP_LISTENERS; i++) {
    if (net->tcp_listeners[i].port == s.dst_port) {
      listen_input(net, i, &s, reopened, now_ns);
      return;
    }
  }
  net->stats.rx_drop_tcp_no_port++;
  answer_closed(net, &s, now_ns);
}
