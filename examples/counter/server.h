/* Serving a stream of requests: parse, execute, reply, shared by TCP connections and UDP. */
#ifndef COUNTER_SERVER_H
#define COUNTER_SERVER_H

#include <stddef.h>

#include "reply.h"

/* The largest request, and the size of each TCP connection's input buffer: it holds a SET of
   a 512-byte key and value many times over, and 256 connections' buffers take 4 MiB. */
#define SERVER_MAX_REQUEST 16384

/* Error for a request that cannot fit the input buffer (Redis has no such limit). */
#define SERVER_ERR_TOO_BIG "ERR Protocol error: request bigger than the 16384-byte input buffer"

struct serve_result {
  size_t consumed; /* bytes of the requests executed; the rest starts an incomplete request */
  int close;       /* the connection must close after the replies: bad framing, or QUIT */
};

/* Executes the complete requests at the start of buf[0, len) in order and appends their
   replies to out. buf is written to (inline requests are unquoted in place). */
struct serve_result server_execute(char *buf, size_t len, struct reply *out);

#endif
