/* Command lookup and the commands themselves. Replies and error texts are Redis 7's, so that
   redis-cli and Redis client libraries behave exactly as against a real server. */
#include "commands.h"

#include "store.h"
#include "vmft.h"

#define ERR_NOT_INTEGER "ERR value is not an integer or out of range"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"

/* ---- error messages that quote the client's input ---- */

/* Large enough for Redis's longest such message: the unknown-command error quotes at most
   128 bytes of the name and about 128 bytes of arguments. */
struct message {
  char text[512];
  size_t len;
};

/* Appends n bytes, truncating at the end of the buffer; CR and LF become spaces as in Redis,
   because an error reply must stay on one line. */
static void message_add(struct message *m, const char *s, size_t n) {
  size_t room = sizeof m->text - 1 - m->len;
  if (n > room) n = room;
  for (size_t i = 0; i < n; i++) {
    m->text[m->len++] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
  }
  m->text[m->len] = '\0';
}

static void message_add_text(struct message *m, const char *s) { message_add(m, s, strlen(s)); }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static void reply_unknown_command(const struct resp_request *request, struct reply *out) {
  struct message m = {.len = 0};
  message_add_text(&m, "ERR unknown command '");
  message_add(&m, request->argv[0].data, min_size(request->argv[0].len, 128));
  message_add_text(&m, "', with args beginning with: ");
  /* Redis quotes arguments until 128 bytes of them have been quoted. */
  size_t quoted = 0;
  for (size_t i = 1; i < request->argc && quoted < 128; i++) {
    size_t n = min_size(request->argv[i].len, 128 - quoted);
    message_add_text(&m, "'");
    message_add(&m, request->argv[i].data, n);
    message_add_text(&m, "' ");
    quoted += n + 3;
  }
  reply_error(out, m.text);
}

static void reply_wrong_arity(const char *name, struct reply *out) {
  struct message m = {.len = 0};
  message_add_text(&m, "ERR wrong number of arguments for '");
  message_add_text(&m, name);
  message_add_text(&m, "' command");
  reply_error(out, m.text);
}

/* ---- helpers shared by the commands ---- */

static int ascii_equal_ignoring_case(const char *a, size_t a_len, const char *b) {
  size_t i = 0;
  for (; i < a_len && b[i] != '\0'; i++) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] - 'A' + 'a') : b[i];
    if (x != y) return 0;
  }
  return i == a_len && b[i] == '\0';
}

#define KEYS_TEXT(n) #n
#define KEYS_STR(n) KEYS_TEXT(n)

/* Stores key = value; on failure replies with the reason and returns 0. */
static int store_or_reply_error(const struct resp_arg *key, const char *value, size_t value_len,
                                struct reply *out) {
  switch (store_set(key->data, key->len, value, value_len)) {
    case STORE_OK: return 1;
    case STORE_FULL:
      reply_error(out, "ERR the store is full: it holds at most " KEYS_STR(STORE_MAX_KEYS) " keys");
      return 0;
    case STORE_KEY_TOO_LONG: reply_error(out, "ERR key is longer than 512 bytes"); return 0;
    case STORE_VALUE_TOO_LONG: reply_error(out, "ERR value is longer than 512 bytes"); return 0;
  }
  return 0;
}
_Static_assert(STORE_MAX_KEY_LEN == 512 && STORE_MAX_VALUE_LEN == 512,
               "the error messages above name the store's limits");

/* Adds delta to the integer stored at key (0 if missing), as Redis's incrDecrCommand does. */
static void increment(const struct resp_arg *key, int64_t delta, struct reply *out) {
  int64_t current = 0;
  struct store_value stored;
  if (store_get(key->data, key->len, &stored) &&
      !resp_parse_int64(stored.data, stored.len, &current)) {
    reply_error(out, ERR_NOT_INTEGER);
    return;
  }
  if ((delta < 0 && current < 0 && delta < INT64_MIN - current) ||
      (delta > 0 && current > 0 && delta > INT64_MAX - current)) {
    reply_error(out, ERR_OVERFLOW);
    return;
  }
  int64_t next = current + delta;
  char digits[21];
  if (!store_or_reply_error(key, digits, vmft_fmt_i64(digits, next), out)) return;
  reply_integer(out, next);
}

/* Parses the increment argument of INCRBY and DECRBY; replies with the error if it is bad. */
static int parse_delta(const struct resp_arg *arg, int64_t *delta, struct reply *out) {
  if (resp_parse_int64(arg->data, arg->len, delta)) return 1;
  reply_error(out, ERR_NOT_INTEGER);
  return 0;
}

/* ---- the commands ---- */

/* PING [message]: its arity (-1) cannot say "at most two", so it checks that itself, as in
   Redis. */
static void ping(const struct resp_request *request, struct reply *out) {
  if (request->argc > 2) {
    reply_wrong_arity("ping", out);
  } else if (request->argc == 1) {
    reply_status(out, "PONG");
  } else {
    reply_bulk(out, request->argv[1].data, request->argv[1].len);
  }
}

static void echo(const struct resp_request *request, struct reply *out) {
  reply_bulk(out, request->argv[1].data, request->argv[1].len);
}

static void get(const struct resp_request *request, struct reply *out) {
  struct store_value value;
  if (store_get(request->argv[1].data, request->argv[1].len, &value)) {
    reply_bulk(out, value.data, value.len);
  } else {
    reply_nil(out);
  }
}

/* SET key value [NX|XX]. Expiry options are not offered: they would make the store depend on
   the clock. */
static void set(const struct resp_request *request, struct reply *out) {
  int only_if_missing = 0, only_if_present = 0;
  for (size_t i = 3; i < request->argc; i++) {
    const struct resp_arg *option = &request->argv[i];
    if (ascii_equal_ignoring_case(option->data, option->len, "nx") && !only_if_present) {
      only_if_missing = 1;
    } else if (ascii_equal_ignoring_case(option->data, option->len, "xx") && !only_if_missing) {
      only_if_present = 1;
    } else {
      reply_error(out, "ERR syntax error");
      return;
    }
  }
  const struct resp_arg *key = &request->argv[1], *value = &request->argv[2];
  struct store_value unused;
  int present = store_get(key->data, key->len, &unused);
  if ((only_if_missing && present) || (only_if_present && !present)) {
    reply_nil(out);
    return;
  }
  if (store_or_reply_error(key, value->data, value->len, out)) reply_status(out, "OK");
}

static void incr(const struct resp_request *request, struct reply *out) {
  increment(&request->argv[1], 1, out);
}

static void decr(const struct resp_request *request, struct reply *out) {
  increment(&request->argv[1], -1, out);
}

static void incrby(const struct resp_request *request, struct reply *out) {
  int64_t delta;
  if (parse_delta(&request->argv[2], &delta, out)) increment(&request->argv[1], delta, out);
}

static void decrby(const struct resp_request *request, struct reply *out) {
  int64_t delta;
  if (!parse_delta(&request->argv[2], &delta, out)) return;
  if (delta == INT64_MIN) {
    reply_error(out, "ERR decrement would overflow"); /* -delta does not exist */
    return;
  }
  increment(&request->argv[1], -delta, out);
}

static void del(const struct resp_request *request, struct reply *out) {
  int64_t deleted = 0;
  for (size_t i = 1; i < request->argc; i++) {
    deleted += store_delete(request->argv[i].data, request->argv[i].len);
  }
  reply_integer(out, deleted);
}

/* Counts a key once per time it is named, as Redis does. */
static void exists(const struct resp_request *request, struct reply *out) {
  int64_t found = 0;
  struct store_value unused;
  for (size_t i = 1; i < request->argc; i++) {
    found += store_get(request->argv[i].data, request->argv[i].len, &unused);
  }
  reply_integer(out, found);
}

static void quit(const struct resp_request *request, struct reply *out) {
  (void)request;
  reply_status(out, "OK");
}

/* ---- dispatch ---- */

struct command {
  const char *name; /* lower case, as Redis names commands in error messages */
  int arity;        /* argc including the name; -n means at least n */
  void (*run)(const struct resp_request *request, struct reply *out);
  enum command_outcome outcome;
};

static const struct command commands[] = {
    {"ping", -1, ping, COMMAND_CONTINUE}, {"echo", 2, echo, COMMAND_CONTINUE},
    {"get", 2, get, COMMAND_CONTINUE},    {"set", -3, set, COMMAND_CONTINUE},
    {"incr", 2, incr, COMMAND_CONTINUE},  {"incrby", 3, incrby, COMMAND_CONTINUE},
    {"decr", 2, decr, COMMAND_CONTINUE},  {"decrby", 3, decrby, COMMAND_CONTINUE},
    {"del", -2, del, COMMAND_CONTINUE},   {"exists", -2, exists, COMMAND_CONTINUE},
    {"quit", -1, quit, COMMAND_CLOSE},
};

static int arity_matches(const struct command *command, size_t argc) {
  if (command->arity >= 0) return argc == (size_t)command->arity;
  return argc >= (size_t)-command->arity;
}

enum command_outcome command_execute(const struct resp_request *request, struct reply *out) {
  const struct resp_arg *name = &request->argv[0];
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    const struct command *command = &commands[i];
    if (!ascii_equal_ignoring_case(name->data, name->len, command->name)) continue;
    if (!arity_matches(command, request->argc)) {
      reply_wrong_arity(command->name, out);
      return COMMAND_CONTINUE;
    }
    command->run(request, out);
    return command->outcome;
  }
  reply_unknown_command(request, out);
  return COMMAND_CONTINUE;
}
