/* Request parsing, as a Redis server reads its input: a RESP array of bulk strings
   ("*2\r\n$4\r\nINCR\r\n$4\r\nhits\r\n", what redis-cli sends) or an inline command
   ("INCR hits\r\n", what a person types into nc). */
#ifndef COUNTER_RESP_H
#define COUNTER_RESP_H

#include <stddef.h>
#include <stdint.h>

/* The most arguments one request may carry. Every argument takes at least two bytes of input,
   so a request that fits the input buffer (server.h) never needs more. */
#define RESP_MAX_ARGS 8192

struct resp_arg {
  const char *data; /* points into the parsed buffer */
  size_t len;
};

struct resp_request {
  size_t argc; /* 0 for an empty request (a blank line, "*0"), which gets no reply */
  struct resp_arg argv[RESP_MAX_ARGS];
};

enum resp_parse_status {
  RESP_INCOMPLETE, /* the buffer holds only the start of a request: wait for more bytes */
  RESP_REQUEST,    /* one request parsed */
  RESP_ERROR,      /* the bytes are not a request; the connection cannot be resynchronised */
  RESP_TOO_BIG,    /* the request's header announces more than max_request bytes */
};

struct resp_parse_result {
  enum resp_parse_status status;
  size_t consumed;   /* RESP_REQUEST: length of the request in the buffer */
  const char *error; /* RESP_ERROR: the error reply's text ("ERR Protocol error: ..."), worded
                        as Redis words it; valid until the next resp_parse */
};

/* Parses the request at the start of buf[0, len). A RESP request whose header announces more
   than max_request bytes (or more than RESP_MAX_ARGS arguments) is RESP_TOO_BIG at once; the
   caller, which knows its buffer, notices longer inline requests. Inline arguments are unquoted in
   place, so buf is written to; argv points into buf and is valid until buf changes. */
struct resp_parse_result resp_parse(char *buf, size_t len, size_t max_request,
                                    struct resp_request *request);

/* Parses a whole decimal integer with Redis's strictness (no spaces, no '+', no leading
   zeros, within int64). Returns 1 and sets *value on success. */
int resp_parse_int64(const char *s, size_t len, int64_t *value);

#endif
