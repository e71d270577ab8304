/* The kvstore's requests: one line each, answered by one line.
     SET key value   -> OK                  (value: the rest of the line, spaces and all)
     GET key         -> VALUE value | NOT_FOUND
     DEL key         -> DELETED | NOT_FOUND
     COUNT           -> COUNT n
   Command names are case-insensitive; a key is 1 to KV_MAX_KEY bytes without spaces. Anything
   else is answered with "ERROR ...". Ordinary C, like store.c. */
#ifndef KVSTORE_PROTOCOL_H
#define KVSTORE_PROTOCOL_H

#include "store.h"

#define KV_MAX_KEY 250
/* The longest request line, without its line ending: a reply then always fits in one send. */
#define KV_MAX_LINE 16384

/* Runs one request (a line without its line ending) and returns its reply, ending in "\r\n",
   in a malloc'd string that the caller frees; NULL if there is no memory for it. */
char *kv_execute(struct kv_store *store, const char *line);

#endif
