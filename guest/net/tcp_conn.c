/* A segment for a connection past SYN_SENT: RFC 9293 3.10.7.4 in its order (sequence number,
 * RST, SYN, ACK, data, FIN), with RFC 5961's challenge ACKs for resets and SYNs that are in
 * the window but not exact, out-of-order data kept in the receive buffer, and fast
 * retransmit on three duplicate ACKs (RFC 5681). */
#include <string.h>

#include "vnet_internal.h"

#define has vnet_tcp_has

static bool in_window(const struct vnet_tcp_conn *c, uint32_t seq, uint32_t wnd) {
  return vnet_seq_ge(seq, c->rcv_nxt) && vnet_seq_lt(seq, c->rcv_nxt + wnd);
}

/* The acceptability test, against the window we advertised. With that window at 0 a segment
 * at rcv_nxt is still taken for its ACK and its RST (its data is then dropped). */
static bool acceptable(const struct vnet_tcp_conn *c, const struct vnet_tcp_segment *s) {
  uint32_t wnd = c->rcv_adv - c->rcv_nxt, space = vnet_tcp_seg_space(s);
  if (wnd == 0) return s->seq == c->rcv_nxt;
  if (space == 0) return in_window(c, s->seq, wnd);
  return in_window(c, s->seq, wnd) || in_window(c, s->seq + space - 1, wnd);
}

static void ring_copy_in(uint8_t *ring, size_t at, const uint8_t *src, size_t n) {
  at %= VNET_TCP_RX_BUF;
  size_t first = VNET_TCP_RX_BUF - at < n ? VNET_TCP_RX_BUF - at : n;
  memcpy(ring + at, src, first);
  memcpy(ring, src + first, n - first);
}

static void remove_range(struct vnet_tcp_conn *c, size_t i) { c->ooo[i] = c->ooo[--c->ooo_count]; }

/* Adds [start, end) to the out-of-order ranges, merged with those it touches; false when it
 * would need more than VNET_TCP_OOO_RANGES. */
static bool add_range(struct vnet_tcp_conn *c, uint32_t start, uint32_t end) {
  for (size_t i = 0; i < c->ooo_count;) {
    struct vnet_tcp_range r = c->ooo[i];
    if (vnet_seq_le(r.start, end) && vnet_seq_le(start, r.end)) {
      if (vnet_seq_lt(r.start, start)) start = r.start;
      if (vnet_seq_gt(r.end, end)) end = r.end;
      remove_range(c, i);
      i = 0;
    } else {
      i++;
    }
  }
  if (c->ooo_count == VNET_TCP_OOO_RANGES) return false;
  c->ooo[c->ooo_count].start = start;
  c->ooo[c->ooo_count].end = end;
  c->ooo_count++;
  return true;
}

/* The gap at rcv_nxt filled: ranges that now continue the data join it. */
static void merge_ranges(struct vnet_tcp_conn *c) {
  for (size_t i = 0; i < c->ooo_count;) {
    struct vnet_tcp_range r = c->ooo[i];
    if (vnet_seq_le(r.start, c->rcv_nxt)) {
      if (vnet_seq_gt(r.end, c->rcv_nxt)) {
        c->rx_len = (uint16_t)(c->rx_len + (r.end - c->rcv_nxt));
        c->rcv_nxt = r.end;
      }
      remove_range(c, i);
      i = 0;
    } else {
      i++;
    }
  }
}

/* Takes what of the segment's data fits the window we advertised: in order, or held as an
 * out-of-order range at its place in the buffer. */
static void receive_data(struct vnet_tcp_conn *c, const struct vnet_tcp_segment *s) {
  uint32_t seq = s->seq, n = s->len;
  const uint8_t *p = s->data;
  if (vnet_seq_lt(seq, c->rcv_nxt)) { /* the front is a duplicate */
    uint32_t dup = c->rcv_nxt - seq;
    if (dup >= n) return;
    p += dup;
    n -= dup;
    seq = c->rcv_nxt;
  }
  uint32_t wnd = c->rcv_adv - c->rcv_nxt, off = seq - c->rcv_nxt;
  if (off >= wnd) return;
  if (n > wnd - off) n = wnd - off;
  if (off != 0 && !add_range(c, seq, seq + n)) return;
  ring_copy_in(c->rx, (size_t)c->rx_head + c->rx_len + off, p, n);
  if (off == 0) {
    c->rx_len = (uint16_t)(c->rx_len + n);
    c->rcv_nxt += n;
    merge_ranges(c);
  }
}

static void enter_time_wait(struct vnet_tcp_conn *c, uint64_t now_ns) {
  c->state = VNET_TCP_TIME_WAIT;
  c->timer = VNET_TCP_TIMER_TIME_WAIT;
  c->deadline_ns = vnet_later(now_ns, 2 * VNET_TCP_MSL_NS);
}

static bool fin_acked(const struct vnet_tcp_conn *c) {
  return c->fin_queued && vnet_seq_gt(c->snd_una, vnet_tcp_data_end(c));
}

/* An ACK that advances snd_una: the bytes it covers leave the send buffer, the RTT is
 * sampled, and the retransmission timer restarts. */
static void take_ack(struct vnet_tcp_conn *c, uint32_t ack, uint64_t now_ns) {
  vnet_tcp_rtt_sample(c, ack, now_ns);
  if (vnet_seq_gt(ack, c->tx_seq)) {
    uint32_t n = ack - c->tx_seq;
    if (n > c->tx_len) n = c->tx_len;
    c->tx_head = (uint16_t)((c->tx_head + n) % VNET_TCP_TX_BUF);
    c->tx_len = (uint16_t)(c->tx_len - n);
    c->tx_seq += n;
  }
  c->snd_una = ack;
  if (vnet_seq_lt(c->snd_nxt, ack)) c->snd_nxt = ack; /* a window probe's byte was taken */
  c->retries = 0;
  c->dupacks = 0;
  c->timer = VNET_TCP_TIMER_NONE;
}

/* The ACK field of an acceptable segment; false when the connection is over. */
static bool process_ack(struct vnet *net, struct vnet_tcp_conn *c, const struct vnet_tcp_segment *s,
                        uint64_t now_ns) {
  if (vnet_seq_gt(s->ack, c->snd_una)) {
    take_ack(c, s->ack, now_ns);
  } else if (s->ack == c->snd_una && s->len == 0 && !has(s, VNET_TCP_SYN | VNET_TCP_FIN) &&
             s->window == c->snd_wnd && c->snd_nxt != c->snd_una) {
    /* RFC 5681's duplicate ACK: data outstanding, no data, SYN or FIN, the same ACK and
     * window. Outstanding is up to snd_nxt, not snd_max: a zero-window probe's byte moves
     * snd_max alone, and the peer's answers to probes are not duplicates. */
    if (++c->dupacks == 3) {
      net->stats.tcp_fast_retransmits++;
      vnet_tcp_retransmit_first(net, c, now_ns);
    }
  }
  if (vnet_seq_lt(c->snd_wl1, s->seq) ||
      (c->snd_wl1 == s->seq && vnet_seq_le(c->snd_wl2, s->ack))) {
    c->snd_wnd = s->window;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
  }
  if (!fin_acked(c)) return true;
  switch (c->state) {
    case VNET_TCP_FIN_WAIT_1: c->state = VNET_TCP_FIN_WAIT_2; break;
    case VNET_TCP_CLOSING: enter_time_wait(c, now_ns); break;
    case VNET_TCP_LAST_ACK: vnet_tcp_finish(c, 0); return false;
    default: break;
  }
  return true;
}

/* The peer's FIN, once everything before it has arrived. */
static void process_fin(struct vnet_tcp_conn *c, uint64_t now_ns) {
  c->fin_received = 1;
  c->rcv_nxt++;
  /* The stream ends here: ranges held past the FIN (a peer sent bytes after its end) can
   * never join it, and one starting right after it would now sit at rcv_nxt. */
  c->ooo_count = 0;
  switch (c->state) {
    case VNET_TCP_ESTABLISHED: c->state = VNET_TCP_CLOSE_WAIT; break;
    case VNET_TCP_FIN_WAIT_1:
      if (fin_acked(c)) {
        enter_time_wait(c, now_ns);
      } else {
        c->state = VNET_TCP_CLOSING;
      }
      break;
    case VNET_TCP_FIN_WAIT_2: enter_time_wait(c, now_ns); break;
    default: break;
  }
}

/* RST and SYN: false when the segment ends here. */
static bool control_checks(struct vnet *net, struct vnet_tcp_conn *c,
                           const struct vnet_tcp_segment *s, uint64_t now_ns) {
  if (has(s, VNET_TCP_RST)) {
    if (s->seq != c->rcv_nxt) { /* in the window, not exact: RFC 5961 3.2 */
      vnet_tcp_send_ack(net, c, now_ns);
      net->stats.rx_drop_tcp_rejected++;
      return false;
    }
    net->stats.rx_delivered++;
    /* RFC 9293: in CLOSING, LAST_ACK and TIME_WAIT both sides had sent FIN, and the caller
     * hears of no reset (a late FIN retransmission meeting a finished TIME_WAIT ends so). */
    bool finishing = c->state == VNET_TCP_CLOSING || c->state == VNET_TCP_LAST_ACK ||
                     c->state == VNET_TCP_TIME_WAIT;
    vnet_tcp_finish(c, finishing ? 0 : VNET_ERR_RESET);
    return false;
  }
  if (has(s, VNET_TCP_SYN) || !has(s, VNET_TCP_ACK)) { /* RFC 5961 4.2's challenge ACK */
    if (has(s, VNET_TCP_SYN)) vnet_tcp_send_ack(net, c, now_ns);
    net->stats.rx_drop_tcp_rejected++;
    return false;
  }
  return true;
}

void vnet_tcp_conn_input(struct vnet *net, struct vnet_tcp_conn *c,
                         const struct vnet_tcp_segment *s, uint64_t now_ns) {
  if (c->state == VNET_TCP_SYN_RECEIVED && s->flags == VNET_TCP_SYN && s->seq == c->irs) {
    net->stats.rx_delivered++; /* its SYN again: our SYN-ACK was lost */
    vnet_tcp_retransmit_first(net, c, now_ns);
    return;
  }
  if (!acceptable(c, s)) {
    if (!has(s, VNET_TCP_RST)) vnet_tcp_send_ack(net, c, now_ns);
    if (c->state == VNET_TCP_TIME_WAIT && has(s, VNET_TCP_FIN)) enter_time_wait(c, now_ns);
    net->stats.rx_drop_tcp_rejected++;
    return;
  }
  if (!control_checks(net, c, s, now_ns)) return;
  if (vnet_seq_gt(s->ack, c->snd_max) ||
      (c->state == VNET_TCP_SYN_RECEIVED && !vnet_seq_gt(s->ack, c->snd_una))) {
    if (c->state == VNET_TCP_SYN_RECEIVED) {
      vnet_tcp_send_rst(net, s->src_ip, s->dst_port, s->src_port, s->ack, 0, VNET_TCP_RST, now_ns);
    } else {
      vnet_tcp_send_ack(net, c, now_ns);
    }
    net->stats.rx_drop_tcp_rejected++;
    return;
  }
  net->stats.rx_delivered++;
  if (c->state == VNET_TCP_SYN_RECEIVED) {
    /* A simultaneous open's caller may have shut down before this (a passive one's cannot). */
    c->state = c->fin_queued ? VNET_TCP_FIN_WAIT_1 : VNET_TCP_ESTABLISHED;
    c->snd_wnd = s->window;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
  }
  if (!process_ack(net, c, s, now_ns)) return;
  bool open_for_data = c->state == VNET_TCP_ESTABLISHED || c->state == VNET_TCP_FIN_WAIT_1 ||
                       c->state == VNET_TCP_FIN_WAIT_2;
  bool new_data = s->len > 0 && vnet_seq_gt(s->seq + s->len, c->rcv_nxt);
  if (new_data && open_for_data && vnet_tcp_orphaned(c)) {
    vnet_tcp_reset(net, c, 0, now_ns); /* closed by the caller: nobody would read it */
    return;
  }
  const uint32_t expected = c->rcv_nxt;
  const bool gap = c->ooo_count != 0;
  if (s->len > 0 && open_for_data) receive_data(c, s);
  bool ack_now = s->len > 0;
  /* In order, with no gap before or after it (one it fills is acknowledged at once, RFC 5681
   * 4.2), and no ACK owed already: it may wait (delay_acks). */
  bool may_wait = net->cfg.delay_acks && s->seq == expected && c->rcv_nxt != expected && !gap &&
                  c->ooo_count == 0 && !c->ack_owed;
  if (has(s, VNET_TCP_FIN)) {
    if (open_for_data && s->seq + s->len == c->rcv_nxt) process_fin(c, now_ns);
    ack_now = true;
    may_wait = false;
  }
  if (ack_now && may_wait) {
    c->ack_owed = 1;
    ack_now = false;
  }
  vnet_tcp_output(net, c, ack_now, VNET_TCP_TX_BUF, now_ns);
}
