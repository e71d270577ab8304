/* The key-value store: an open-addressing hash index (linear probing) over fixed entry slots.
 *
 * All of it starts zeroed, and a zeroed index is an empty store, so the store's layout depends
 * only on the commands it has run. */
#include "store.h"

#include <stdint.h>
#include <stdlib.h>

#include "vmft.h"

/* Twice as many index slots as entries: probe chains stay short even when the store is full,
   and at least half the index is always empty, so every probe loop ends. */
#define INDEX_SIZE (2 * STORE_MAX_KEYS)
#define INDEX_MASK (INDEX_SIZE - 1)
_Static_assert((INDEX_SIZE & INDEX_MASK) == 0, "the index size must be a power of two");

struct entry {
  uint32_t hash;
  uint16_t key_len;
  uint16_t value_len;
  char key[STORE_MAX_KEY_LEN];
  char value[STORE_MAX_VALUE_LEN];
};

/* STORE_MAX_KEYS entries, claimed by store_init: too big for a static array. */
static struct entry *entries;
/* Entry number + 1 per index slot; 0 marks an empty slot. */
static uint16_t index_slots[INDEX_SIZE];
_Static_assert(STORE_MAX_KEYS < 0xffff, "entry numbers + 1 must fit in index_slots");
/* Entries released by store_delete, reused before never-used ones. */
static uint16_t free_entries[STORE_MAX_KEYS];
static size_t free_count;
/* Entries [0, entries_touched) have been handed out at least once. */
static size_t entries_touched;

/* FNV-1a: short, and good enough for a table that only ever holds 4096 keys. */
static uint32_t hash_key(const char *key, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 16777619u;
  }
  return h;
}

static size_t home_slot(uint32_t hash) { return hash & INDEX_MASK; }

/* Returns the index slot that holds key, or the empty slot where it would be inserted. */
static size_t find_slot(const char *key, size_t len, uint32_t hash) {
  size_t slot = home_slot(hash);
  for (;;) {
    uint16_t number = index_slots[slot];
    if (number == 0) return slot;
    const struct entry *e = &entries[number - 1];
    if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0) return slot;
    slot = (slot + 1) & INDEX_MASK;
  }
}

/* Returns a free entry number, or -1 when all are in use. */
static int allocate_entry(void) {
  if (free_count > 0) return free_entries[--free_count];
  if (entries_touched < STORE_MAX_KEYS) return (int)entries_touched++;
  return -1;
}

/* Whether x lies in the cyclic slot range (lo, hi]. */
static int in_cyclic_range(size_t lo, size_t x, size_t hi) {
  return lo <= hi ? (lo < x && x <= hi) : (lo < x || x <= hi);
}

/* Empties an index slot by shifting later members of its probe chain back into it (instead
   of leaving a tombstone), so lookups never slow down after many deletions. */
static void remove_slot(size_t hole) {
  size_t next = hole;
  for (;;) {
    next = (next + 1) & INDEX_MASK;
    uint16_t number = index_slots[next];
    if (number == 0) break;
    /* An entry whose home lies between the hole and itself is still reachable; leave it. */
    if (in_cyclic_range(hole, home_slot(entries[number - 1].hash), next)) continue;
    index_slots[hole] = number;
    hole = next;
  }
  index_slots[hole] = 0;
}

int store_init(void) {
  entries = calloc(STORE_MAX_KEYS, sizeof(struct entry));
  return entries != 0;
}

int store_get(const char *key, size_t key_len, struct store_value *value) {
  if (key_len > STORE_MAX_KEY_LEN) return 0; /* could never have been stored */
  uint16_t number = index_slots[find_slot(key, key_len, hash_key(key, key_len))];
  if (number == 0) return 0;
  const struct entry *e = &entries[number - 1];
  value->data = e->value;
  value->len = e->value_len;
  return 1;
}

enum store_status store_set(const char *key, size_t key_len, const char *value, size_t value_len) {
  if (key_len > STORE_MAX_KEY_LEN) return STORE_KEY_TOO_LONG;
  if (value_len > STORE_MAX_VALUE_LEN) return STORE_VALUE_TOO_LONG;
  uint32_t hash = hash_key(key, key_len);
  size_t slot = find_slot(key, key_len, hash);
  if (index_slots[slot] == 0) {
    int number = allocate_entry();
    if (number < 0) return STORE_FULL;
    struct entry *e = &entries[number];
    e->hash = hash;
    e->key_len = (uint16_t)key_len;
    memcpy(e->key, key, key_len);
    index_slots[slot] = (uint16_t)(number + 1);
  }
  struct entry *e = &entries[index_slots[slot] - 1];
  memmove(e->value, value, value_len); /* value may be this entry's own bytes */
  e->value_len = (uint16_t)value_len;
  return STORE_OK;
}

int store_delete(const char *key, size_t key_len) {
  if (key_len > STORE_MAX_KEY_LEN) return 0;
  size_t slot = find_slot(key, key_len, hash_key(key, key_len));
  uint16_t number = index_slots[slot];
  if (number == 0) return 0;
  free_entries[free_count++] = (uint16_t)(number - 1);
  remove_slot(slot);
  return 1;
}
