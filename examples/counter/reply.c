/* RESP2 reply encoding. */
#include "reply.h"

#include "vmft.h"

void reply_begin(struct reply *r, reply_send_fn send, void *ctx) {
  r->len = 0;
  r->send = send;
  r->ctx = ctx;
}

void reply_flush(struct reply *r) {
  if (r->len > 0) r->send(r->ctx, r->buf, r->len);
  r->len = 0;
}

static void append(struct reply *r, const char *data, size_t len) {
  while (len > 0) {
    if (r->len == REPLY_BUFFER_SIZE) reply_flush(r);
    size_t room = REPLY_BUFFER_SIZE - r->len;
    size_t n = len < room ? len : room;
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    data += n;
    len -= n;
  }
}

/* Flushes first if a reply of `total` bytes would not fit behind what is buffered, so that a
   reply no bigger than the buffer is never split across two sends (two UDP datagrams). */
static void make_room(struct reply *r, size_t total) {
  if (r->len + total > REPLY_BUFFER_SIZE) reply_flush(r);
}

static void append_line(struct reply *r, char type, const char *text, size_t len) {
  make_room(r, 1 + len + 2);
  append(r, &type, 1);
  append(r, text, len);
  append(r, "\r\n", 2);
}

void reply_status(struct reply *r, const char *status) {
  append_line(r, '+', status, strlen(status));
}

void reply_error(struct reply *r, const char *message) {
  append_line(r, '-', message, strlen(message));
}

void reply_integer(struct reply *r, int64_t value) {
  char digits[21];
  append_line(r, ':', digits, vmft_fmt_i64(digits, value));
}

void reply_bulk(struct reply *r, const char *data, size_t len) {
  char digits[21];
  size_t digits_len = vmft_fmt_u64(digits, len);
  make_room(r, 1 + digits_len + 2 + len + 2);
  append_line(r, '$', digits, digits_len);
  append(r, data, len);
  append(r, "\r\n", 2);
}

void reply_nil(struct reply *r) {
  make_room(r, 5);
  append(r, "$-1\r\n", 5);
}
