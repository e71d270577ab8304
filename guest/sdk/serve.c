/* The server API on either NIC: vmft_nic_serve, vmft_nic_listen and the socket-style sends.
 *
 * On the socket NIC the host terminates TCP and UDP, and the NIC's events go to the handler as
 * they are. On the frame NIC (vmft's --tap) the guest owns its network: this file runs the
 * SDK's own stack (net/vnet.h) on the NIC's frames and turns what the stack does into the same
 * events, so that a server's handler cannot tell which NIC carries it. Everything here runs in
 * the guest's one thread, off logged inputs only (frames, clock reads, entropy), so a replay or
 * a backup makes the same calls and sends the same frames.
 *
 * This file is a member of the SDK's archive: a guest links it, and the stack with it, only if
 * it calls one of its functions. */
#include <stdlib.h>

#include "vmft.h"
#include "vnet.h"

/* Inside vmft_nic_serve's handler: sends wait for the doorbell after the batch. */
static int batching;

/* ---- the frame NIC: the SDK's stack under the socket NIC's events ---- */

/* A connection the stack accepted, by its vnet handle. */
struct stack_conn {
  uint32_t id;         /* the conn the handler knows it by (conn_id); 0: closed by the guest, or
                          free */
  uint8_t peer_closed; /* TCP_CLOSE handed to the handler */
  uint8_t failed;      /* reset, timed out or too far behind: to be reported and released */
  uint8_t closing;     /* the guest closed it: the stack closes it once out[] is sent */
  uint8_t *out;        /* what the stack's send buffer had no room for, in order */
  size_t out_len, out_cap;
};

static struct {
  int started;
  struct vnet net;
  struct vnet_tcp_conn *tcp; /* the stack's pool, VMFT_NIC_FRAME_CONNECTIONS blocks */
  struct stack_conn *conns;  /* by vnet handle */
  int listener;              /* the TCP listener's handle, or -1 */
  uint16_t udp_port;         /* bound, or 0 */
  uint32_t generation;       /* of the last accepted connection's id */
  int send_failed; /* a send failed a connection (which the stack does not list as changed) */
  uint64_t now; /* the monotonic clock at the start of this round: one read per round */
  /* The datagram the stack delivered from the frame being handled; its bytes are in that
     frame's receive buffer, which stays the guest's until the frame is acknowledged. */
  int datagram;
  struct vmft_nic_event udp;
  uint8_t chunk[VMFT_NIC_FRAME_CHUNK]; /* a TCP_DATA event's payload */
} stack;

static void send_frame(void *ctx, const uint8_t *frame, size_t len) {
  (void)ctx;
  vmft_nic_send(VMFT_NIC_KIND_FRAME, 0, 0, 0, frame, len, batching);
}

static void on_datagram(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                        const uint8_t *data, size_t len) {
  (void)ctx;
  (void)dst_port;
  stack.udp = (struct vmft_nic_event){VMFT_NIC_KIND_UDP, 0, src_ip, src_port, (uint32_t)len,
                                      (uint8_t *)data};
  stack.datagram = 1;
}

/* Starts the stack on the frame NIC's settings, once; 1 when it runs, 0 on the socket NIC or
   when the guest's RAM is too small for its blocks. */
static int stack_running(void) {
  if (stack.started) return stack.started > 0;
  struct vmft_frame_nic nic;
  stack.started = -1;
  if (!vmft_frame_nic(&nic)) return 0;
  struct vnet_config cfg = {.ip = nic.ip,
                            .prefix_len = nic.prefix_len,
                            .gateway = nic.gateway,
                            .mtu = (uint16_t)(nic.mtu > VNET_MTU_MAX ? VNET_MTU_MAX : nic.mtu),
                            .tcp_conn_count = VMFT_NIC_FRAME_CONNECTIONS,
                            /* a request's ACK rides on its reply: one frame out, not two */
                            .delay_acks = 1};
  memcpy(cfg.mac, nic.mac, sizeof cfg.mac);
  /* The key of TCP's initial sequence numbers: random, and logged like every entropy read. */
  for (size_t i = 0; i < sizeof cfg.tcp_secret; i += 8) {
    const uint64_t r = vmft_entropy();
    memcpy(cfg.tcp_secret + i, &r, 8);
  }
  stack.tcp = calloc(VMFT_NIC_FRAME_CONNECTIONS, sizeof *stack.tcp);
  stack.conns = calloc(VMFT_NIC_FRAME_CONNECTIONS, sizeof *stack.conns);
  cfg.tcp_conns = stack.tcp;
  const struct vnet_driver drv = {.ctx = 0, .send_frame = send_frame};
  if (!stack.tcp || !stack.conns || vnet_init(&stack.net, &cfg, &drv) != VNET_OK) {
    vmft_puts("vmft: no room for the network stack's connections; give the guest more --mem\n");
    return 0;
  }
  stack.listener = -1;
  stack.now = vmft_clock_mono_ns();
  stack.started = 1;
  vnet_announce(&stack.net);
  if (!batching) vmft_nic_flush();
  return 1;
}

/* A connection's id: its vnet handle in the low bits, so that finding it costs no search, and
   a generation above them, so that an id outlives its connection by 2^24 others before it
   names a new one (a send to a connection that is gone fails). Never 0. */
#define ID_SOCK_BITS 8
_Static_assert(VMFT_NIC_FRAME_CONNECTIONS <= 1 << ID_SOCK_BITS, "ids hold the handle");

static uint32_t new_id(int sock) {
  if (++stack.generation == 1u << (32 - ID_SOCK_BITS)) stack.generation = 1;
  return stack.generation << ID_SOCK_BITS | (uint32_t)sock;
}

/* The connection the handler calls `id`, or 0. */
static struct stack_conn *conn_by_id(uint32_t id) {
  const uint32_t sock = id & ((1u << ID_SOCK_BITS) - 1);
  if (id == 0 || sock >= VMFT_NIC_FRAME_CONNECTIONS || stack.conns[sock].id != id) return 0;
  return &stack.conns[sock];
}

static int sock_of(const struct stack_conn *c) { return (int)(c - stack.conns); }

static void release(struct stack_conn *c) {
  free(c->out);
  memset(c, 0, sizeof *c);
}

/* Hands as much of out[] to the stack as its send buffer takes; a dead connection fails. */
static void drain(struct stack_conn *c) {
  size_t sent = 0;
  while (sent < c->out_len) {
    const int n = vnet_tcp_write(&stack.net, sock_of(c), c->out + sent, c->out_len - sent,
                                 stack.now);
    if (n == VNET_ERR_WOULD_BLOCK) break;
    if (n < 0) {
      c->failed = 1;
      break;
    }
    sent += (size_t)n;
  }
  c->out_len -= sent;
  memmove(c->out, c->out + sent, c->out_len);
}

/* Keeps len bytes for later; fails the connection past VMFT_NIC_FRAME_UNSENT_MAX, as the host
   drops a client that leaves too many replies unread. */
static void keep(struct stack_conn *c, const uint8_t *data, size_t len) {
  if (c->out_len + len > VMFT_NIC_FRAME_UNSENT_MAX) {
    c->failed = stack.send_failed = 1;
    return;
  }
  if (c->out_len + len > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + len) cap *= 2;
    uint8_t *bigger = realloc(c->out, cap);
    if (!bigger) {
      c->failed = stack.send_failed = 1;
      return;
    }
    c->out = bigger;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

static int stack_tcp_send(uint32_t id, const void *data, size_t len) {
  struct stack_conn *c = conn_by_id(id);
  if (!c || c->failed) return VMFT_NIC_ERR_CONN;
  if (len > VMFT_NIC_MAX_PAYLOAD) return VMFT_NIC_ERR_BUFFER;
  size_t sent = 0;
  if (c->out_len == 0) {
    const int n = vnet_tcp_write(&stack.net, sock_of(c), data, len, stack.now);
    if (n >= 0) {
      sent = (size_t)n;
    } else if (n != VNET_ERR_WOULD_BLOCK) {
      c->failed = stack.send_failed = 1;
      return VMFT_NIC_ERR_CONN;
    }
  }
  if (sent < len) keep(c, (const uint8_t *)data + sent, len - sent);
  if (!batching) vmft_nic_flush();
  return VMFT_NIC_OK;
}

static int stack_tcp_close(uint32_t id) {
  struct stack_conn *c = conn_by_id(id);
  if (!c) return VMFT_NIC_ERR_CONN;
  c->id = 0;
  c->closing = 1;
  if (c->out_len == 0 || c->failed) {
    /* A graceful close; the stack resets it instead if the peer sent what nobody read. */
    vnet_tcp_close(&stack.net, sock_of(c), stack.now);
    release(c);
  }
  if (!batching) vmft_nic_flush();
  return VMFT_NIC_OK;
}

static int stack_udp_send(uint32_t peer_ip, uint32_t peer_port, const void *data, size_t len) {
  if (stack.udp_port == 0) return VMFT_NIC_ERR_KIND;
  if (peer_port > 0xffff || len > vnet_udp_max_payload(&stack.net)) return VMFT_NIC_ERR_BUFFER;
  const int status = vnet_udp_send(&stack.net, peer_ip, (uint16_t)peer_port, stack.udp_port, data,
                                   len, stack.now);
  if (!batching) vmft_nic_flush();
  /* Held for ARP counts as sent; a route the stack has not is no peer at all. */
  return status == VNET_OK ? VMFT_NIC_OK : VMFT_NIC_ERR_CONN;
}

static void deliver(vmft_nic_handler handle, uint32_t kind, const struct stack_conn *c,
                    uint8_t *data, size_t len) {
  struct vmft_nic_event ev = {kind, c->id, 0, 0, (uint32_t)len, data};
  uint16_t port = 0;
  vnet_tcp_peer(&stack.net, sock_of(c), &ev.peer_ip, &port);
  ev.peer_port = port;
  handle(&ev);
}

/* One connection's round: what it owes goes out, then what it received comes in, a chunk per
   event, while the handler's replies fit the stack's send buffer (past that the guest stops
   reading, and TCP's window holds the client back). */
static void serve_conn(vmft_nic_handler handle, struct stack_conn *c) {
  const uint32_t id = c->id;
  if (c->out_len > 0) drain(c);
  if (c->closing) {
    if (c->out_len == 0 || c->failed) {
      vnet_tcp_close(&stack.net, sock_of(c), stack.now);
      release(c);
    }
    return;
  }
  while (!c->failed && !c->peer_closed && c->out_len == 0 && c->id == id) {
    const int n =
        vnet_tcp_read(&stack.net, sock_of(c), stack.chunk, sizeof stack.chunk, stack.now);
    if (n > 0) {
      deliver(handle, VMFT_NIC_KIND_TCP_DATA, c, stack.chunk, (size_t)n);
    } else if (n == 0) {
      c->peer_closed = 1;
      deliver(handle, VMFT_NIC_KIND_TCP_CLOSE, c, 0, 0);
    } else {
      if (n != VNET_ERR_WOULD_BLOCK) c->failed = 1;
      break;
    }
  }
  if (c->id != id || !c->failed) return; /* closed by the handler, or still serving */
  if (!c->peer_closed) deliver(handle, VMFT_NIC_KIND_TCP_CLOSE, c, 0, 0);
  if (c->id == id) { /* the handler did not close it: the connection is gone all the same */
    vnet_tcp_abort(&stack.net, sock_of(c), stack.now);
    release(c);
  }
}

/* The connections the stack changed (and, after a send failed one, all of them), then the new
   ones: a round costs what happened in it, not the number of connections. Returns whether it
   served any. */
static int serve_tcp(vmft_nic_handler handle) {
  int sock, accept = 0, served = 0;
  while ((sock = vnet_tcp_next_changed(&stack.net)) >= 0) {
    served = 1;
    struct stack_conn *c = &stack.conns[sock];
    if (c->id != 0 || c->closing) {
      serve_conn(handle, c);
    } else {
      accept = 1; /* established, not yet accepted; or gone */
    }
  }
  if (stack.send_failed) {
    served = 1;
    stack.send_failed = 0;
    for (size_t i = 0; i < VMFT_NIC_FRAME_CONNECTIONS; i++) {
      if (stack.conns[i].failed) serve_conn(handle, &stack.conns[i]);
    }
  }
  if (!accept || stack.listener < 0) return served;
  while ((sock = vnet_tcp_accept(&stack.net, stack.listener)) >= 0) {
    struct stack_conn *c = &stack.conns[sock];
    release(c);
    c->id = new_id(sock);
    deliver(handle, VMFT_NIC_KIND_TCP_OPEN, c, 0, 0);
    if (c->id != 0) serve_conn(handle, c);
  }
  return served;
}

__attribute__((noreturn)) static void serve_frames(vmft_nic_handler handle) {
  for (;;) {
    stack.now = vmft_clock_mono_ns();
    batching = 1;
    struct vmft_nic_event ev;
    while (vmft_nic_peek(&ev)) {
      if (ev.kind == VMFT_NIC_KIND_FRAME) {
        stack.datagram = 0;
        vnet_input(&stack.net, ev.data, ev.len, stack.now);
        if (stack.datagram) handle(&stack.udp);
      } else if (ev.kind == VMFT_NIC_KIND_LINK) {
        vnet_link_moved(&stack.net, stack.now); /* a failover: tell the network at once */
      }
      vmft_nic_ack();
    }
    serve_tcp(handle);
    /* After the handler answered: an ACK its replies did not carry goes now, and what the
       timers changed (a connection given up) is served in the same round. */
    uint64_t deadline = vnet_poll(&stack.net, stack.now);
    if (serve_tcp(handle)) deadline = vnet_next_deadline(&stack.net);
    batching = 0;
    vmft_nic_flush();
    vmft_nic_wait(deadline);
  }
}

/* ---- either NIC ---- */

int vmft_nic_listen(uint16_t tcp_port, uint16_t udp_port) {
  if (!stack_running()) return vmft_frame_nic(0) ? -1 : 0;
  if (tcp_port != 0 && stack.listener < 0) {
    /* The whole pool: clients that connect all at once (redis-benchmark -c 50) all get in. */
    stack.listener = vnet_tcp_listen(&stack.net, tcp_port, VMFT_NIC_FRAME_CONNECTIONS);
    if (stack.listener < 0) return -1;
  }
  if (udp_port != 0 && stack.udp_port == 0) {
    if (vnet_udp_bind(&stack.net, udp_port, on_datagram, 0) != VNET_OK) return -1;
    stack.udp_port = udp_port;
  }
  return 0;
}

void vmft_nic_serve(vmft_nic_handler handle) {
  if (stack_running()) serve_frames(handle);
  if (vmft_frame_nic(0)) vmft_exit(1); /* stack_running said why */
  for (;;) {
    struct vmft_nic_event ev;
    batching = 1;
    while (vmft_nic_peek(&ev)) {
      handle(&ev);
      vmft_nic_ack();
    }
    batching = 0;
    vmft_nic_flush();
    /* Check and sleep with interrupts off, so an event filled in between still wakes the
       idle (it returns on pending & mie, whatever mstatus.MIE says); the doorbell cleared the
       interrupt, and a fill after it raises it again. */
    const int was_on = vmft_interrupts_save_off();
    vmft_irq_enable(VMFT_IRQ_NIC);
    if (!vmft_nic_peek(&ev)) vmft_idle();
    vmft_irq_disable(VMFT_IRQ_NIC);
    vmft_interrupts_restore(was_on);
  }
}

int vmft_udp_send(uint32_t peer_ip, uint32_t peer_port, const void *data, size_t len) {
  if (stack_running()) return stack_udp_send(peer_ip, peer_port, data, len);
  return vmft_nic_send(VMFT_NIC_KIND_UDP, 0, peer_ip, peer_port, data, len, batching);
}

int vmft_tcp_send(uint32_t conn, const void *data, size_t len) {
  if (stack_running()) return stack_tcp_send(conn, data, len);
  return vmft_nic_send(VMFT_NIC_KIND_TCP_DATA, conn, 0, 0, data, len, batching);
}

int vmft_tcp_close(uint32_t conn) {
  if (stack_running()) return stack_tcp_close(conn);
  return vmft_nic_send(VMFT_NIC_KIND_TCP_CLOSE, conn, 0, 0, 0, 0, batching);
}
