/* counter: a subset of Redis (RESP2) on TCP and UDP, for counting things fault-tolerantly.
 *
 * Commands: PING ECHO GET SET INCR INCRBY DECR DECRBY DEL EXISTS QUIT, as RESP arrays (what
 * redis-cli sends) or inline ("INCR hits\r\n"). On TCP, requests may be pipelined and split
 * anyhow across packets. On UDP, each datagram holds whole requests and gets the replies in
 * one datagram back.
 *
 * Files: resp.c parses requests, commands.c runs them against store.c, reply.c encodes the
 * replies, server.c ties those together, and clients.c keeps the TCP connections. The large
 * tables come from calloc, on the heap beyond the image. The same code serves on either NIC:
 * the host's sockets (--tcp, --udp) or, when the guest owns its network (--tap), the SDK's
 * stack on Redis's port, 6379.
 */
#include <stdlib.h>

#include "clients.h"
#include "reply.h"
#include "server.h"
#include "store.h"
#include "vmft.h"

/* The receive buffers, allocated at startup: each is sized to the largest UDP payload,
   so no datagram is cut short (the NIC truncates what does not fit); TCP data arrives in
   chunks of up to this size and is buffered per connection. A build for TCP clients only may
   give smaller ones (the simulation's guest). */
#ifndef COUNTER_RX_BUFFER_BYTES
#define COUNTER_RX_BUFFER_BYTES VMFT_NIC_MAX_PAYLOAD
#endif
_Static_assert(SERVER_MAX_REQUEST < COUNTER_RX_BUFFER_BYTES,
               "serve_datagram appends to datagrams");
#define RX_AREA_BYTES (VMFT_NIC_RX_SLOTS * COUNTER_RX_BUFFER_BYTES)
/* The least --mem the tables and the receive buffers fit in, as the build sized them. */
#ifndef COUNTER_LEAST_MEM
#define COUNTER_LEAST_MEM 16M
#endif
#define COUNTER_TEXT(x) #x
#define COUNTER_STR(x) COUNTER_TEXT(x)
static struct reply udp_replies;

struct udp_peer {
  uint32_t ip;
  uint32_t port;
};

static void send_to_peer(void *ctx, const char *data, size_t len) {
  const struct udp_peer *peer = ctx;
  vmft_udp_send(peer->ip, peer->port, data, len);
}

/* A datagram is complete by itself: a final inline request may omit its newline, and an
   unfinished RESP request is an error rather than something to wait for. */
static void serve_datagram(char *data, size_t len, struct reply *out) {
  if (len > SERVER_MAX_REQUEST) {
    reply_error(out, SERVER_ERR_TOO_BIG);
    return;
  }
  /* Room for the newline: len <= SERVER_MAX_REQUEST, far below the buffer's size. */
  if (len > 0 && data[0] != '*' && data[len - 1] != '\n') data[len++] = '\n';
  struct serve_result result = server_execute(data, len, out);
  if (!result.close && result.consumed < len) {
    reply_error(out, "ERR Protocol error: incomplete request in datagram");
  }
}

static void handle_datagram(const struct vmft_nic_event *ev) {
  struct udp_peer peer = {ev->peer_ip, ev->peer_port};
  reply_begin(&udp_replies, send_to_peer, &peer);
  serve_datagram((char *)ev->data, ev->len, &udp_replies);
  reply_flush(&udp_replies);
}

static void handle_event(const struct vmft_nic_event *ev) {
  switch (ev->kind) {
    case VMFT_NIC_KIND_UDP: handle_datagram(ev); break;
    case VMFT_NIC_KIND_TCP_OPEN: clients_open(ev->conn); break;
    case VMFT_NIC_KIND_TCP_DATA: clients_receive(ev->conn, (const char *)ev->data, ev->len); break;
    case VMFT_NIC_KIND_TCP_CLOSE: clients_peer_closed(ev->conn); break;
    default: break;
  }
}

int main(void) {
  void *rx_area = 0;
  if (!store_init() || !clients_init() || !(rx_area = calloc(1, RX_AREA_BYTES))) {
    vmft_puts("counter: RAM too small for " COUNTER_STR(STORE_MAX_KEYS) " keys and " COUNTER_STR(
        CLIENTS_MAX) " clients; run with --mem " COUNTER_STR(COUNTER_LEAST_MEM) "\n");
    return 1;
  }
  if (vmft_nic_init(rx_area, RX_AREA_BYTES) != 0 || vmft_nic_listen(6379, 6379) != 0) {
    vmft_puts("counter: cannot start the NIC\n");
    return 1;
  }
  vmft_puts("counter: ready\n");
  vmft_nic_serve(handle_event);
}
