/* kvstore: store.c and protocol.c, ordinary C that builds the same on the host, served on TCP
 * and UDP. This file is all that is vmft's: the main loop on the SDK's NIC, and the
 * connections' unfinished lines.
 *
 * On TCP, requests are lines ending in "\n" (or "\r\n"), pipelined and split anyhow across
 * packets; a line longer than KV_MAX_LINE is answered with an error and its connection closed.
 * On UDP, each datagram is one request (its line ending optional), answered by one datagram.
 * Every change is logged on the console with printf. When the guest owns its network (--tap)
 * it serves on port 7000.
 */
#define _POSIX_C_SOURCE 200809L /* strndup: POSIX, not ISO C */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "store.h"
#include "vmft.h"

#define KVSTORE_PORT 7000

static const char kNoMemory[] = "ERROR out of memory\r\n";

/* A TCP connection and the part of a line it has sent so far. */
struct client {
  struct client *next;
  uint32_t conn;
  char *line;
  size_t len, cap;
};

static struct kv_store *store;
static struct client *clients;

static struct client **find_client(uint32_t conn) {
  struct client **at = &clients;
  while (*at && (*at)->conn != conn) at = &(*at)->next;
  return at;
}

static void drop_client(struct client **at) {
  struct client *c = *at;
  *at = c->next;
  free(c->line);
  free(c);
}

/* The reply to the request in line[0, len) (which may end in "\r" or "\r\n"): a malloc'd
   string, or NULL if there was no memory. line[len] must be writable. */
static char *answer(char *line, size_t len) {
  if (len > 0 && line[len - 1] == '\n') len--;
  if (len > 0 && line[len - 1] == '\r') len--;
  line[len] = '\0';
  return kv_execute(store, line);
}

static void send_reply(uint32_t conn, char *reply) {
  if (!reply) {
    vmft_tcp_send(conn, kNoMemory, sizeof kNoMemory - 1);
    return;
  }
  vmft_tcp_send(conn, reply, strlen(reply));
  free(reply);
}

static void client_open(uint32_t conn) {
  struct client *c = calloc(1, sizeof *c);
  if (!c) {
    vmft_tcp_send(conn, kNoMemory, sizeof kNoMemory - 1);
    vmft_tcp_close(conn);
    return;
  }
  c->conn = conn;
  c->next = clients;
  clients = c;
}

/* Appends data to the client's line, answering each line it completes. Returns 0 if the
   connection was closed (a line too long, or no memory for it). */
static int client_receive(struct client *c, const char *data, size_t len) {
  while (len > 0) {
    const char *newline = memchr(data, '\n', len);
    const size_t take = newline ? (size_t)(newline - data) : len;
    if (c->len + take > KV_MAX_LINE + 1) { /* + 1: room for a '\r' before the '\n' */
      static const char kTooLong[] = "ERROR line too long\r\n";
      vmft_tcp_send(c->conn, kTooLong, sizeof kTooLong - 1);
      return 0;
    }
    if (c->len + take + 1 > c->cap) {
      size_t cap = c->cap ? c->cap : 64;
      while (cap < c->len + take + 1) cap *= 2;
      char *line = realloc(c->line, cap);
      if (!line) {
        vmft_tcp_send(c->conn, kNoMemory, sizeof kNoMemory - 1);
        return 0;
      }
      c->line = line;
      c->cap = cap;
    }
    memcpy(c->line + c->len, data, take);
    c->len += take;
    if (!newline) break;
    send_reply(c->conn, answer(c->line, c->len));
    c->len = 0;
    data += take + 1;
    len -= take + 1;
  }
  return 1;
}

static void handle_event(const struct vmft_nic_event *ev) {
  switch (ev->kind) {
    case VMFT_NIC_KIND_TCP_OPEN: client_open(ev->conn); break;
    case VMFT_NIC_KIND_TCP_DATA: {
      struct client **at = find_client(ev->conn);
      if (*at && !client_receive(*at, (const char *)ev->data, ev->len)) {
        vmft_tcp_close(ev->conn);
        drop_client(at);
      }
      break;
    }
    case VMFT_NIC_KIND_TCP_CLOSE: {
      /* Every complete line has been answered; an unfinished one is dropped. */
      vmft_tcp_close(ev->conn);
      struct client **at = find_client(ev->conn);
      if (*at) drop_client(at);
      break;
    }
    case VMFT_NIC_KIND_UDP: {
      char *line = strndup((const char *)ev->data, ev->len);
      char *reply = line ? answer(line, strlen(line)) : NULL;
      const char *out = reply ? reply : kNoMemory;
      vmft_udp_send(ev->peer_ip, ev->peer_port, out, strlen(out));
      free(reply);
      free(line);
      break;
    }
    default: break;
  }
}

int main(void) {
  static char rx_area[VMFT_NIC_RX_SLOTS * VMFT_NIC_MAX_PAYLOAD];
  store = kv_open();
  if (!store || vmft_nic_init(rx_area, sizeof rx_area) != 0 ||
      vmft_nic_listen(KVSTORE_PORT, KVSTORE_PORT) != 0) {
    printf("kvstore: cannot start (RAM too small?)\n");
    return 1;
  }
  printf("kvstore: ready\n");
  vmft_nic_serve(handle_event);
}
