/* A key-value store of strings: a hash table of malloc'd entries that grows as keys are added.
   Ordinary C (stdlib, string.h, stdio.h): it builds and runs the same on the host. */
#ifndef KVSTORE_STORE_H
#define KVSTORE_STORE_H

#include <stddef.h>

struct kv_store;

/* A new, empty store, or NULL if there is no memory. */
struct kv_store *kv_open(void);
void kv_close(struct kv_store *store);

/* Sets key to a copy of value (len bytes, any bytes but '\0'). Returns 0, or -1 if there is no
   memory, in which case the store is as it was. */
int kv_set(struct kv_store *store, const char *key, const char *value, size_t len);
/* The value of key (its length in *len), or NULL if there is none. Valid until the next change
   to the store. */
const char *kv_get(const struct kv_store *store, const char *key, size_t *len);
/* Removes key; returns 1 if it was there, 0 if not. */
int kv_del(struct kv_store *store, const char *key);
size_t kv_count(const struct kv_store *store);

#endif
