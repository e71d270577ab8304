/* RESP2 replies, gathered in a buffer so that the replies to one batch of requests leave in as
   few send requests as possible (one per TCP_DATA event when pipelining). */
#ifndef COUNTER_REPLY_H
#define COUNTER_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* Twice the largest request (server.h): the largest reply, an ECHO or PING of a whole
   request, always fits, so a UDP reply is one datagram. Below VMFT_NIC_MAX_PAYLOAD. */
#define REPLY_BUFFER_SIZE 32768

/* Sends len bytes of replies; ctx says to whom. */
typedef void (*reply_send_fn)(void *ctx, const char *data, size_t len);

struct reply {
  char buf[REPLY_BUFFER_SIZE];
  size_t len;
  reply_send_fn send;
  void *ctx;
};

/* Starts an empty batch of replies that reply_flush hands to send(ctx, ...). */
void reply_begin(struct reply *r, reply_send_fn send, void *ctx);
/* Sends what is buffered. Also called by the writers below when the buffer fills up. */
void reply_flush(struct reply *r);

void reply_status(struct reply *r, const char *status); /* +status */
/* -message; message starts with the error code ("ERR ...") and must not hold CR or LF. */
void reply_error(struct reply *r, const char *message);
void reply_integer(struct reply *r, int64_t value);             /* :value */
void reply_bulk(struct reply *r, const char *data, size_t len); /* $len data */
void reply_nil(struct reply *r);                                /* $-1, a missing value */

#endif
