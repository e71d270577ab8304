#define _POSIX_C_SOURCE 200809L /* strcasecmp: POSIX, not ISO C */

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *reply(const char *text) {
  const size_t len = strlen(text);
  char *r = malloc(len + 3);
  if (r) memcpy(r, text, len), memcpy(r + len, "\r\n", 3);
  return r;
}

static char *reply_value(const char *value, size_t len) {
  char *r = malloc(len + 9);
  if (r) memcpy(r, "VALUE ", 6), memcpy(r + 6, value, len), memcpy(r + 6 + len, "\r\n", 3);
  return r;
}

/* Splits "WORD rest" at its first space: *rest is what follows it (or "" if none). Copies the
   word into `word` (room for `size` bytes); returns 1, or 0 if it is empty, or -1 if it does
   not fit. */
static int first_word(const char *line, char *word, size_t size, const char **rest) {
  const char *space = strchr(line, ' ');
  const size_t len = space ? (size_t)(space - line) : strlen(line);
  *rest = space ? space + 1 : line + len;
  if (len == 0) return 0;
  if (len >= size) return -1;
  memcpy(word, line, len);
  word[len] = '\0';
  return 1;
}

char *kv_execute(struct kv_store *store, const char *line) {
  if (strlen(line) > KV_MAX_LINE) return reply("ERROR line too long");
  char command[8];
  char key[KV_MAX_KEY + 1];
  const char *args;
  if (first_word(line, command, sizeof command, &args) != 1) {
    return reply(*line ? "ERROR unknown command" : "ERROR empty request");
  }
  if (strcasecmp(command, "COUNT") == 0) {
    if (*args) return reply("ERROR usage: COUNT");
    char text[32];
    snprintf(text, sizeof text, "COUNT %zu", kv_count(store));
    return reply(text);
  }
  const int set = strcasecmp(command, "SET") == 0;
  const int get = strcasecmp(command, "GET") == 0;
  const int del = strcasecmp(command, "DEL") == 0;
  if (!set && !get && !del) return reply("ERROR unknown command");
  const char *value;
  const int have_key = first_word(args, key, sizeof key, &value);
  if (have_key < 0) return reply("ERROR key longer than 250 bytes");
  if (have_key == 0 || (!set && *value)) {
    return reply(set   ? "ERROR usage: SET key value"
                 : get ? "ERROR usage: GET key"
                       : "ERROR usage: DEL key");
  }
  if (set) return kv_set(store, key, value, strlen(value)) == 0 ? reply("OK") : NULL;
  if (del) return reply(kv_del(store, key) ? "DELETED" : "NOT_FOUND");
  size_t len;
  const char *found = kv_get(store, key, &len);
  return found ? reply_value(found, len) : reply("NOT_FOUND");
}
