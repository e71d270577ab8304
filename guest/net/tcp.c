/* TCP (RFC 9293): the pool of control blocks, listeners, and the calls a caller makes on its
 * handles. Segment arrival is in tcp_input.c, sending in tcp_output.c, timers in tcp_timer.c. */
#include <string.h>

#include "vnet_internal.h"

/* The first ephemeral port and how many there are (RFC 6335's dynamic range). */
#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u

static bool ready(const struct vnet *net) { return net->cfg.mtu != 0; }

static void free_conn(struct vnet_tcp_conn *c) {
  /* The buffers need no clearing: rx_len and tx_len say what in them is valid. */
  memset(c, 0, offsetof(struct vnet_tcp_conn, rx));
  c->deadline_ns = UINT64_MAX; /* so that the timers' loops pass over it at once */
}

struct vnet_tcp_conn *vnet_tcp_alloc(struct vnet *net) {
  struct vnet_tcp_conn *pick = NULL;
  for (size_t i = 0; i < net->tcp_count; i++) {
    struct vnet_tcp_conn *c = &net->tcp[i];
    if (c->state == VNET_TCP_CLOSED && !c->owned) {
      pick = c;
      break;
    }
    /* A TIME_WAIT block only guards against old duplicates: reusing it is safer than
     * refusing a connection (and the ISN clock has moved on). */
    if (c->state == VNET_TCP_TIME_WAIT && !c->owned &&
        (pick == NULL || c->deadline_ns < pick->deadline_ns))
      pick = c;
  }
  if (pick == NULL) return NULL;
  free_conn(pick);
  pick->order = net->tcp_order++;
  pick->rto_ns = VNET_TCP_RTO_INIT_NS;
  pick->deadline_ns = UINT64_MAX;
  return pick;
}

struct vnet_tcp_conn *vnet_tcp_find(struct vnet *net, uint32_t remote_ip, uint16_t local_port,
                                    uint16_t remote_port) {
  for (size_t i = 0; i < net->tcp_count; i++) {
    struct vnet_tcp_conn *c = &net->tcp[i];
    /* The peer's port first: a server's clients share its address and its port. */
    if (c->remote_port == remote_port && c->remote_ip == remote_ip &&
        c->local_port == local_port && c->state != VNET_TCP_CLOSED)
      return c;
  }
  return NULL;
}

void vnet_tcp_finish(struct vnet_tcp_conn *c, int error) {
  if (!c->owned) {
    free_conn(c);
    return;
  }
  c->state = VNET_TCP_CLOSED;
  c->timer = VNET_TCP_TIMER_NONE;
  c->deadline_ns = UINT64_MAX;
  if (error != 0) c->error = (int16_t)error;
}

void vnet_tcp_reset(struct vnet *net, struct vnet_tcp_conn *c, int error, uint64_t now_ns) {
  if (c->state != VNET_TCP_CLOSED && c->state != VNET_TCP_SYN_SENT) {
    vnet_tcp_send_rst(net, c->remote_ip, c->local_port, c->remote_port, c->snd_nxt, 0, VNET_TCP_RST,
                      now_ns);
  }
  vnet_tcp_finish(c, error);
}

void vnet_tcp_link_moved(struct vnet *net, uint64_t now_ns) {
  for (size_t i = 0; i < net->tcp_count; i++) {
    struct vnet_tcp_conn *c = &net->tcp[i];
    if (c->state < VNET_TCP_ESTABLISHED || c->state == VNET_TCP_TIME_WAIT) continue;
    if (c->snd_una != c->snd_nxt) { /* everything unacknowledged, as far as the window goes */
      const uint32_t resume = c->snd_nxt;
      c->snd_nxt = c->snd_una;
      vnet_tcp_output(net, c, false, VNET_TCP_TX_BUF, now_ns);
      c->snd_nxt = vnet_seq_max(c->snd_nxt, resume);
    }
    for (int k = 0; k < VNET_TCP_LINK_DUPACKS; k++) vnet_tcp_send_ack(net, c, now_ns);
  }
}

void vnet_tcp_mark_changed(struct vnet *net, struct vnet_tcp_conn *c) {
  if (c->changed) return;
  const int16_t sock = (int16_t)(c - net->tcp);
  c->changed = 1;
  c->changed_next = -1;
  if (net->changed_tail < 0) {
    net->changed_head = sock;
  } else {
    net->tcp[net->changed_tail].changed_next = sock;
  }
  net->changed_tail = sock;
}

int vnet_tcp_next_changed(struct vnet *net) {
  if (!ready(net) || net->changed_head < 0) return -1;
  const int sock = net->changed_head;
  struct vnet_tcp_conn *c = &net->tcp[sock];
  net->changed_head = c->changed_next;
  if (net->changed_head < 0) net->changed_tail = -1;
  c->changed = 0;
  return sock;
}

/* The caller's handle, or NULL when it is not one the caller holds. */
static struct vnet_tcp_conn *held(struct vnet *net, int sock) {
  if (!ready(net) || sock < 0 || (size_t)sock >= net->tcp_count) return NULL;
  struct vnet_tcp_conn *c = &net->tcp[sock];
  return c->owned ? c : NULL;
}

static struct vnet_tcp_listener *listener_at(struct vnet *net, int listener) {
  if (!ready(net) || listener < 0 || listener >= VNET_TCP_LISTENERS) return NULL;
  struct vnet_tcp_listener *l = &net->tcp_listeners[listener];
  return l->port != 0 ? l : NULL;
}

int vnet_tcp_listen(struct vnet *net, uint16_t port, unsigned backlog) {
  if (!ready(net) || port == 0 || backlog == 0) return VNET_ERR_INVALID;
  if (net->tcp_count == 0) return VNET_ERR_FULL;
  int free_slot = -1;
  for (int i = 0; i < VNET_TCP_LISTENERS; i++) {
    if (net->tcp_listeners[i].port == port) return VNET_ERR_IN_USE;
    if (net->tcp_listeners[i].port == 0 && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return VNET_ERR_FULL;
  net->tcp_listeners[free_slot].port = port;
  net->tcp_listeners[free_slot].backlog =
      (uint16_t)(backlog > net->tcp_count ? net->tcp_count : backlog);
  return free_slot;
}

int vnet_tcp_unlisten(struct vnet *net, int listener, uint64_t now_ns) {
  struct vnet_tcp_listener *l = listener_at(net, listener);
  if (l == NULL) return VNET_ERR_NOT_FOUND;
  for (size_t i = 0; i < net->tcp_count; i++) {
    if (net->tcp[i].listener == listener + 1 && net->tcp[i].state != VNET_TCP_CLOSED)
      vnet_tcp_reset(net, &net->tcp[i], 0, now_ns);
  }
  memset(l, 0, sizeof *l);
  return VNET_OK;
}

int vnet_tcp_accept(struct vnet *net, int listener) {
  if (listener_at(net, listener) == NULL) return VNET_ERR_INVALID;
  int best = -1;
  for (int i = 0; (size_t)i < net->tcp_count; i++) {
    const struct vnet_tcp_conn *c = &net->tcp[i];
    if (c->listener != listener + 1 || c->state == VNET_TCP_CLOSED ||
        c->state == VNET_TCP_SYN_RECEIVED)
      continue;
    if (best < 0 || vnet_seq_lt(c->order, net->tcp[best].order)) best = i;
  }
  if (best < 0) return VNET_ERR_WOULD_BLOCK;
  net->tcp[best].listener = 0;
  net->tcp[best].owned = 1;
  return best;
}

static bool port_in_use(const struct vnet *net, uint16_t port) {
  for (size_t i = 0; i < VNET_TCP_LISTENERS; i++) {
    if (net->tcp_listeners[i].port == port) return true;
  }
  for (size_t i = 0; i < net->tcp_count; i++) {
    const struct vnet_tcp_conn *c = &net->tcp[i];
    if ((c->state != VNET_TCP_CLOSED || c->owned) && c->local_port == port) return true;
  }
  return false;
}

/* The next ephemeral port no listener or connection uses; 0 when none is free (impossible
 * with fewer blocks than ports, but checked). */
static uint16_t ephemeral_port(struct vnet *net) {
  for (unsigned tries = 0; tries < EPHEMERAL_COUNT; tries++) {
    uint16_t port = (uint16_t)(EPHEMERAL_FIRST + net->tcp_next_port % EPHEMERAL_COUNT);
    net->tcp_next_port = (uint16_t)((net->tcp_next_port + 1) % EPHEMERAL_COUNT);
    if (!port_in_use(net, port)) return port;
  }
  return 0;
}

int vnet_tcp_connect(struct vnet *net, uint32_t ip, uint16_t port, uint16_t local_port,
                     uint64_t now_ns) {
  if (!ready(net) || ip == 0 || port == 0) return VNET_ERR_INVALID;
  if (local_port == 0) local_port = ephemeral_port(net);
  if (local_port == 0) return VNET_ERR_FULL;
  if (vnet_tcp_find(net, ip, local_port, port) != NULL) return VNET_ERR_IN_USE;
  struct vnet_tcp_conn *c = vnet_tcp_alloc(net);
  if (c == NULL) return VNET_ERR_FULL;
  c->state = VNET_TCP_SYN_SENT;
  c->owned = 1;
  c->remote_ip = ip;
  c->local_port = local_port;
  c->remote_port = port;
  c->mss =
      VNET_TCP_DEFAULT_MSS < vnet_tcp_our_mss(net) ? VNET_TCP_DEFAULT_MSS : vnet_tcp_our_mss(net);
  c->iss = vnet_tcp_isn(net, ip, local_port, port, now_ns);
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->tx_seq = c->iss + 1;
  vnet_tcp_output(net, c, false, 1, now_ns);
  return (int)(c - net->tcp);
}

static void ring_copy_out(uint8_t *dst, const uint8_t *ring, size_t cap, size_t at, size_t n) {
  size_t first = cap - at < n ? cap - at : n;
  memcpy(dst, ring + at, first);
  memcpy(dst + first, ring, n - first);
}

int vnet_tcp_read(struct vnet *net, int sock, void *buf, size_t len, uint64_t now_ns) {
  struct vnet_tcp_conn *c = held(net, sock);
  if (c == NULL || (buf == NULL && len > 0)) return c == NULL ? VNET_ERR_CLOSED : VNET_ERR_INVALID;
  if (c->error != 0) return c->error;
  if (c->rx_len == 0) return c->fin_received ? 0 : VNET_ERR_WOULD_BLOCK;
  if (len == 0) return 0;
  size_t n = len < c->rx_len ? len : c->rx_len;
  ring_copy_out(buf, c->rx, VNET_TCP_RX_BUF, c->rx_head, n);
  c->rx_head = (uint16_t)((c->rx_head + n) % VNET_TCP_RX_BUF);
  c->rx_len = (uint16_t)(c->rx_len - n);
  /* A window update when the edge moves far enough for the peer to send again (RFC 1122's
   * receiver side of silly window avoidance: at least min(half the buffer, an MSS)). */
  uint32_t edge = c->rcv_nxt + vnet_tcp_rx_free(c);
  uint32_t step = VNET_TCP_RX_BUF / 2 < c->mss ? VNET_TCP_RX_BUF / 2 : c->mss;
  bool synchronized = c->state >= VNET_TCP_ESTABLISHED && c->state != VNET_TCP_TIME_WAIT;
  if (synchronized && !c->fin_received && edge - c->rcv_adv >= step)
    vnet_tcp_send_ack(net, c, now_ns);
  return (int)n;
}

int vnet_tcp_write(struct vnet *net, int sock, const void *data, size_t len, uint64_t now_ns) {
  struct vnet_tcp_conn *c = held(net, sock);
  if (c == NULL) return VNET_ERR_CLOSED;
  if (data == NULL && len > 0) return VNET_ERR_INVALID;
  if (c->error != 0) return c->error;
  /* SYN_RECEIVED: a simultaneous open, whose caller already holds the handle. */
  bool handshake = c->state == VNET_TCP_SYN_SENT || c->state == VNET_TCP_SYN_RECEIVED;
  bool open = handshake || c->state == VNET_TCP_ESTABLISHED || c->state == VNET_TCP_CLOSE_WAIT;
  if (!open || c->fin_queued) return VNET_ERR_CLOSED;
  if (len == 0) return 0;
  size_t room = VNET_TCP_TX_BUF - c->tx_len;
  if (room == 0) return VNET_ERR_WOULD_BLOCK;
  size_t n = len < room ? len : room;
  size_t at = (c->tx_head + c->tx_len) % VNET_TCP_TX_BUF;
  size_t first = VNET_TCP_TX_BUF - at < n ? VNET_TCP_TX_BUF - at : n;
  memcpy(c->tx + at, data, first);
  memcpy(c->tx, (const uint8_t *)data + first, n - first);
  c->tx_len = (uint16_t)(c->tx_len + n);
  if (!handshake) vnet_tcp_output(net, c, false, VNET_TCP_TX_BUF, now_ns);
  return (int)n;
}

int vnet_tcp_shutdown(struct vnet *net, int sock, uint64_t now_ns) {
  struct vnet_tcp_conn *c = held(net, sock);
  if (c == NULL) return VNET_ERR_CLOSED;
  if (c->fin_queued) return VNET_OK;
  switch (c->state) {
    case VNET_TCP_SYN_SENT: /* sent once established */
    case VNET_TCP_SYN_RECEIVED: c->fin_queued = 1; return VNET_OK;
    case VNET_TCP_ESTABLISHED: c->state = VNET_TCP_FIN_WAIT_1; break;
    case VNET_TCP_CLOSE_WAIT: c->state = VNET_TCP_LAST_ACK; break;
    default: return VNET_OK;
  }
  c->fin_queued = 1;
  vnet_tcp_output(net, c, false, VNET_TCP_TX_BUF, now_ns);
  return VNET_OK;
}

int vnet_tcp_abort(struct vnet *net, int sock, uint64_t now_ns) {
  struct vnet_tcp_conn *c = held(net, sock);
  if (c == NULL) return VNET_ERR_CLOSED;
  c->owned = 0;
  vnet_tcp_reset(net, c, 0, now_ns);
  return VNET_OK;
}

int vnet_tcp_close(struct vnet *net, int sock, uint64_t now_ns) {
  struct vnet_tcp_conn *c = held(net, sock);
  if (c == NULL) return VNET_ERR_CLOSED;
  if (c->rx_len > 0 || c->state == VNET_TCP_SYN_SENT || c->state == VNET_TCP_CLOSED)
    return vnet_tcp_abort(net, sock, now_ns);
  int err = vnet_tcp_shutdown(net, sock, now_ns);
  c->owned = 0;
  vnet_tcp_arm(c, now_ns); /* an orphan's timers: in FIN_WAIT_2 already, the wait starts now */
  return err;
}

unsigned vnet_tcp_events(const struct vnet *net, int sock) {
  if (sock < 0 || (size_t)sock >= net->tcp_count || !net->tcp[sock].owned) return 0;
  const struct vnet_tcp_conn *c = &net->tcp[sock];
  if (c->error != 0) return VNET_TCP_READABLE | VNET_TCP_ERROR;
  unsigned ev = 0;
  if (c->rx_len > 0 || c->fin_received) ev |= VNET_TCP_READABLE;
  if (c->fin_received && c->rx_len == 0) ev |= VNET_TCP_EOF;
  bool open = c->state == VNET_TCP_ESTABLISHED || c->state == VNET_TCP_CLOSE_WAIT;
  if (open && !c->fin_queued && c->tx_len < VNET_TCP_TX_BUF) ev |= VNET_TCP_WRITABLE;
  bool synchronized = c->state != VNET_TCP_SYN_SENT && c->state != VNET_TCP_SYN_RECEIVED;
  if (synchronized && c->tx_len == 0 && c->snd_una == c->snd_max) ev |= VNET_TCP_SENT;
  return ev;
}

int vnet_tcp_peer(const struct vnet *net, int sock, uint32_t *ip, uint16_t *port) {
  if (sock < 0 || (size_t)sock >= net->tcp_count || !net->tcp[sock].owned) return VNET_ERR_CLOSED;
  *ip = net->tcp[sock].remote_ip;
  *port = net->tcp[sock].remote_port;
  return VNET_OK;
}

int vnet_tcp_state(const struct vnet *net, int sock) {
  if (sock < 0 || (size_t)sock >= net->tcp_count) return -1;
  const struct vnet_tcp_conn *c = &net->tcp[sock];
  if (c->state == VNET_TCP_CLOSED && !c->owned) return -1;
  return c->state;
}
