/* TCP's timers, one deadline per connection (what it is for in vnet_tcp_conn.timer): the
 * retransmission timer with RFC 6298's RTO, the persist timer that probes a zero window,
 * TIME_WAIT's 2 MSL, and an orphan's wait in FIN_WAIT_2. vnet_poll runs them;
 * vnet_next_deadline reports the earliest. */
#include "vnet_internal.h"

/* RFC 6298's clock granularity G: the floor of the variance term. */
#define CLOCK_GRANULARITY_NS 1000000ull
/* Where the persist timer's count of probes stops: its backoff reaches the 60 s ceiling long
 * before. An orphan gives up at VNET_TCP_MAX_RETRIES probes, which the count must reach. */
#define PERSIST_BACKOFF_MAX 16
_Static_assert(VNET_TCP_MAX_RETRIES <= PERSIST_BACKOFF_MAX, "an orphan would probe forever");

static uint64_t clamp_rto(uint64_t rto) {
  if (rto < VNET_TCP_RTO_MIN_NS) return VNET_TCP_RTO_MIN_NS;
  return rto > VNET_TCP_RTO_MAX_NS ? VNET_TCP_RTO_MAX_NS : rto;
}

void vnet_tcp_rtt_sample(struct vnet_tcp_conn *c, uint32_t ack, uint64_t now_ns) {
  if (!c->rtt_timing || !vnet_seq_gt(ack, c->rtt_seq)) return;
  c->rtt_timing = 0;
  uint64_t r = now_ns >= c->rtt_start_ns ? now_ns - c->rtt_start_ns : 0;
  if (!c->rtt_sampled) { /* the first measurement (2.2), which may be 0 */
    c->rtt_sampled = 1;
    c->srtt_ns = r;
    c->rttvar_ns = r / 2;
  } else { /* 2.3: beta 1/4, alpha 1/8 */
    uint64_t diff = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;
    c->rttvar_ns = (3 * c->rttvar_ns + diff) / 4;
    c->srtt_ns = (7 * c->srtt_ns + r) / 8;
  }
  uint64_t var = 4 * c->rttvar_ns;
  c->rto_ns = clamp_rto(c->srtt_ns + (var > CLOCK_GRANULARITY_NS ? var : CLOCK_GRANULARITY_NS));
}

void vnet_tcp_arm(struct vnet_tcp_conn *c, uint64_t now_ns) {
  if (c->timer == VNET_TCP_TIMER_TIME_WAIT) return;
  bool synchronized = c->state >= VNET_TCP_ESTABLISHED && c->state != VNET_TCP_TIME_WAIT;
  if (c->state == VNET_TCP_CLOSED) {
    c->timer = VNET_TCP_TIMER_NONE;
  } else if (c->snd_nxt != c->snd_una) {
    /* 5.1: started when something is sent with none running; restarted by an ACK (5.3),
     * which clears the timer first. */
    if (c->timer != VNET_TCP_TIMER_RTX) {
      /* retries counted the persist timer's probes until now: they are no retransmissions,
       * and must not use up what the data sent into the opened window may have. */
      if (c->timer == VNET_TCP_TIMER_PERSIST) c->retries = 0;
      c->timer = VNET_TCP_TIMER_RTX;
      c->deadline_ns = vnet_later(now_ns, c->rto_ns);
    }
    return;
  } else if (synchronized && c->snd_wnd == 0 && vnet_seq_lt(c->snd_nxt, vnet_tcp_data_end(c))) {
    if (c->timer != VNET_TCP_TIMER_PERSIST) {
      c->timer = VNET_TCP_TIMER_PERSIST;
      c->retries = 0;
      c->deadline_ns = vnet_later(now_ns, c->rto_ns);
    }
    return;
  } else if (c->state == VNET_TCP_FIN_WAIT_2 && vnet_tcp_orphaned(c)) {
    /* Set once, from entering FIN_WAIT_2 or the close, whichever is later: the segments that
     * come meanwhile (ACKs: data resets an orphan, a FIN ends the wait) do not put it off. */
    if (c->timer != VNET_TCP_TIMER_FIN_WAIT_2) {
      c->timer = VNET_TCP_TIMER_FIN_WAIT_2;
      c->deadline_ns = vnet_later(now_ns, VNET_TCP_FIN_WAIT_2_NS);
    }
    return;
  } else {
    c->timer = VNET_TCP_TIMER_NONE;
  }
  c->deadline_ns = UINT64_MAX;
}

/* 5.4 to 5.6: back off, and send the first unacknowledged segment again (go-back-N: the rest
 * follows as ACKs come, the first one being a slow start from one segment). */
static void retransmission_timeout(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  bool handshake = c->state == VNET_TCP_SYN_SENT || c->state == VNET_TCP_SYN_RECEIVED;
  if (++c->retries > (handshake ? VNET_TCP_SYN_RETRIES : VNET_TCP_MAX_RETRIES)) {
    vnet_tcp_reset(net, c, VNET_ERR_TIMED_OUT, now_ns);
    return;
  }
  c->rto_ns = clamp_rto(c->rto_ns * 2);
  c->rtt_timing = 0;
  c->dupacks = 0;
  c->timer = VNET_TCP_TIMER_NONE;
  c->snd_nxt = c->snd_una;
  vnet_tcp_output(net, c, false, 1, now_ns);
}

static void persist_timeout(struct vnet *net, struct vnet_tcp_conn *c, uint64_t now_ns) {
  /* An orphan gives up after as many probes as a segment gets retransmissions (Linux's
   * tcp_orphan_retries): nobody will read our side again, and a peer that never opens its
   * window would hold the block for good. The count runs from when the window shut, so probes
   * made before the close count too. The RST tells a peer still there to drop its side. */
  if (vnet_tcp_orphaned(c) && c->retries >= VNET_TCP_MAX_RETRIES) {
    vnet_tcp_reset(net, c, VNET_ERR_TIMED_OUT, now_ns);
    return;
  }
  vnet_tcp_send_probe(net, c, now_ns);
  /* Backs off like the RTO, and while the caller holds the connection never gives up: a peer
   * may keep its window shut as long as it likes while it answers (RFC 1122 4.2.2.17). */
  if (c->retries < PERSIST_BACKOFF_MAX) c->retries++;
  uint64_t delay = c->rto_ns << c->retries;
  c->deadline_ns = vnet_later(now_ns, delay > VNET_TCP_RTO_MAX_NS ? VNET_TCP_RTO_MAX_NS : delay);
}

void vnet_tcp_poll(struct vnet *net, uint64_t now_ns) {
  for (size_t i = 0; i < net->tcp_count; i++) {
    struct vnet_tcp_conn *c = &net->tcp[i];
    /* Most blocks, every free one among them (their deadline is UINT64_MAX), stop here: a
     * poll visits every block, each round. */
    if (c->deadline_ns > now_ns && !c->ack_owed) continue;
    if (c->ack_owed) {
      c->ack_owed = 0;
      if (c->state != VNET_TCP_CLOSED) vnet_tcp_send_ack(net, c, now_ns);
    }
    if (c->state == VNET_TCP_CLOSED || c->deadline_ns > now_ns) continue;
    vnet_tcp_mark_changed(net, c);
    switch (c->timer) {
      case VNET_TCP_TIMER_RTX: retransmission_timeout(net, c, now_ns); break;
      case VNET_TCP_TIMER_PERSIST: persist_timeout(net, c, now_ns); break;
      case VNET_TCP_TIMER_TIME_WAIT: vnet_tcp_finish(c, 0); break;
      /* No RST, as Linux: the peer that went silent is likely gone, and a live one gets a
       * RST for its next segment, which finds no connection. */
      case VNET_TCP_TIMER_FIN_WAIT_2: vnet_tcp_finish(c, 0); break;
      default: c->deadline_ns = UINT64_MAX; break;
    }
  }
}

uint64_t vnet_tcp_next_deadline(const struct vnet *net) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < net->tcp_count; i++) {
    const struct vnet_tcp_conn *c = &net->tcp[i];
    if (c->deadline_ns >= next && !c->ack_owed) continue; /* most blocks, as in the poll */
    if (c->state == VNET_TCP_CLOSED) continue;
    if (c->ack_owed) return 0; /* due now */
    next = c->deadline_ns;
  }
  return next;
}
