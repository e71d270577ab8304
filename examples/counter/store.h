/* The counter's key-value store: byte-string keys and values in static memory. */
#ifndef COUNTER_STORE_H
#define COUNTER_STORE_H

#include <stddef.h>

/* Fixed-size slots need no allocator: 4096 slots of 512-byte keys and values take 4 MiB,
   half of the counter's RAM budget. A build may give fewer (the simulation's guest). */
#ifndef STORE_MAX_KEYS
#define STORE_MAX_KEYS 4096
#endif
#define STORE_MAX_KEY_LEN 512
#define STORE_MAX_VALUE_LEN 512

enum store_status {
  STORE_OK,
  STORE_FULL,
  STORE_KEY_TOO_LONG,
  STORE_VALUE_TOO_LONG,
};

/* A value inside the store; valid until the next store_set or store_delete. */
struct store_value {
  const char *data;
  size_t len;
};

/* Allocates the store's table; returns 0 if RAM is too small. Call once, first. */
int store_init(void);
/* Looks key up; returns 1 and fills *value if present, 0 if not. */
int store_get(const char *key, size_t key_len, struct store_value *value);
/* Creates or replaces key. */
enum store_status store_set(const char *key, size_t key_len, const char *value, size_t value_len);
/* Removes key; returns 1 if it was present. */
int store_delete(const char *key, size_t key_len);

#endif
