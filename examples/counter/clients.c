/* TCP clients. Input is buffered per connection because a request may arrive split across
   several TCP_DATA events; the replies to one event go out in as few sends as possible. */
#include "clients.h"

#include <stdlib.h>

#include "reply.h"
#include "server.h"
#include "vmft.h"

struct client {
  int open;
  uint32_t conn;
  size_t len; /* bytes of input[] not yet executed: the start of an incomplete request */
  char input[SERVER_MAX_REQUEST];
};

/* CLIENTS_MAX slots, allocated by clients_init: 4 MiB is too big for a static array. */
static struct client *clients;
/* Only one event is handled at a time, so one reply buffer serves every connection. */
static struct reply replies;

int clients_init(void) {
  clients = calloc(CLIENTS_MAX, sizeof(struct client));
  return clients != 0;
}

/* A linear scan: 256 slots cost far less than parsing the request that follows. */
static struct client *find_client(uint32_t conn) {
  for (size_t i = 0; i < CLIENTS_MAX; i++) {
    if (clients[i].open && clients[i].conn == conn) return &clients[i];
  }
  return 0;
}

static struct client *free_client(void) {
  for (size_t i = 0; i < CLIENTS_MAX; i++) {
    if (!clients[i].open) return &clients[i];
  }
  return 0;
}

static void send_to_client(void *ctx, const char *data, size_t len) {
  const struct client *client = ctx;
  vmft_tcp_send(client->conn, data, len);
}

static void close_client(struct client *client) {
  vmft_tcp_close(client->conn);
  client->open = 0;
  client->len = 0;
}

void clients_open(uint32_t conn) {
  struct client *client = find_client(conn);
  if (!client) client = free_client();
  if (!client) {
    /* Redis's words for the same condition. */
    static const char error[] = "-ERR max number of clients reached\r\n";
    vmft_tcp_send(conn, error, sizeof error - 1);
    vmft_tcp_close(conn);
    return;
  }
  client->open = 1;
  client->conn = conn;
  client->len = 0;
}

/* Drops the executed requests from the front of the input buffer. */
static void discard_input(struct client *client, size_t consumed) {
  client->len -= consumed;
  memmove(client->input, client->input + consumed, client->len);
}

/* Appends as much of data as fits, executes what is complete, and repeats until all of data
   has been taken in. Returns 0 if the connection was closed. */
static int take_input(struct client *client, const char *data, size_t len) {
  size_t taken = 0;
  do {
    size_t room = SERVER_MAX_REQUEST - client->len;
    size_t n = len - taken < room ? len - taken : room;
    memcpy(client->input + client->len, data + taken, n);
    client->len += n;
    taken += n;
    struct serve_result result = server_execute(client->input, client->len, &replies);
    if (result.close) return 0;
    discard_input(client, result.consumed);
    if (client->len == SERVER_MAX_REQUEST) {
      /* A full buffer with no complete request in it: the request can never fit. */
      reply_error(&replies, SERVER_ERR_TOO_BIG);
      return 0;
    }
  } while (taken < len);
  return 1;
}

void clients_receive(uint32_t conn, const char *data, size_t len) {
  struct client *client = find_client(conn);
  if (!client) return;
  reply_begin(&replies, send_to_client, client);
  int still_open = take_input(client, data, len);
  reply_flush(&replies);
  if (!still_open) close_client(client);
}

void clients_peer_closed(uint32_t conn) {
  struct client *client = find_client(conn);
  if (!client) return;
  /* Every complete request has been answered when it arrived; an unfinished one is dropped,
     as Redis drops it. */
  close_client(client);
}
