#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  struct entry *next; /* in the same bucket */
  char *value;
  size_t len;
  char key[]; /* '\0'-terminated */
};

struct kv_store {
  struct entry **buckets;
  size_t nbuckets; /* a power of two */
  size_t count;
};

/* FNV-1a: a fixed function of the key, so the table's layout is the same on every run. */
static size_t hash(const char *key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *key; key++) h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
  return (size_t)h;
}

struct kv_store *kv_open(void) {
  struct kv_store *store = malloc(sizeof *store);
  if (!store) return NULL;
  store->nbuckets = 16;
  store->count = 0;
  store->buckets = calloc(store->nbuckets, sizeof *store->buckets);
  if (!store->buckets) {
    free(store);
    return NULL;
  }
  return store;
}

void kv_close(struct kv_store *store) {
  for (size_t i = 0; i < store->nbuckets; i++) {
    for (struct entry *e = store->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e->value);
      free(e);
    }
  }
  free(store->buckets);
  free(store);
}

static struct entry **find(const struct kv_store *store, const char *key) {
  struct entry **at = &store->buckets[hash(key) & (store->nbuckets - 1)];
  while (*at && strcmp((*at)->key, key) != 0) at = &(*at)->next;
  return at;
}

/* Doubles the table once it holds as many entries as buckets. Without memory for a bigger
   one, the store goes on with longer chains. */
static void grow(struct kv_store *store) {
  if (store->count < store->nbuckets) return;
  const size_t n = store->nbuckets * 2;
  struct entry **buckets = calloc(n, sizeof *buckets);
  if (!buckets) return;
  for (size_t i = 0; i < store->nbuckets; i++) {
    for (struct entry *e = store->buckets[i], *next; e; e = next) {
      next = e->next;
      struct entry **head = &buckets[hash(e->key) & (n - 1)];
      e->next = *head;
      *head = e;
    }
  }
  free(store->buckets);
  store->buckets = buckets;
  store->nbuckets = n;
  printf("kvstore: table grown to %zu buckets\n", n);
}

int kv_set(struct kv_store *store, const char *key, const char *value, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, value, len);
  copy[len] = '\0';
  struct entry **at = find(store, key);
  if (*at) {
    free((*at)->value);
  } else {
    const size_t key_len = strlen(key);
    struct entry *e = malloc(sizeof *e + key_len + 1);
    if (!e) {
      free(copy);
      return -1;
    }
    memcpy(e->key, key, key_len + 1);
    e->next = NULL;
    *at = e;
    store->count++;
  }
  (*at)->value = copy;
  (*at)->len = len;
  printf("kvstore: set %s (%zu bytes), %zu keys\n", key, len, store->count);
  grow(store);
  return 0;
}

const char *kv_get(const struct kv_store *store, const char *key, size_t *len) {
  const struct entry *e = *find(store, key);
  if (!e) return NULL;
  *len = e->len;
  return e->value;
}

int kv_del(struct kv_store *store, const char *key) {
  struct entry **at = find(store, key);
  struct entry *e = *at;
  if (!e) return 0;
  *at = e->next;
  free(e->value);
  free(e);
  store->count--;
  printf("kvstore: deleted %s, %zu keys\n", key, store->count);
  return 1;
}

size_t kv_count(const struct kv_store *store) { return store->count; }
