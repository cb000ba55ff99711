/* A hash map from 64-bit ids to pointers: open addressing with linear
 * probing and backward-shift deletion (no tombstones), so lookups stay
 * short however many ids come and go. Ids are placed by a keyed hash with
 * a random key of the map's own, so O(1) expected per operation whoever
 * chooses the ids. One thread at a time. */
#ifndef MLFQ_IDMAP_H
#define MLFQ_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/siphash.h"

typedef struct {
  uint64_t *keys;
  void **vals; /* NULL marks an empty slot, so values are never NULL */
  size_t cap;  /* a power of two, or 0 */
  size_t n;
  mlfq_siphash_key_t _key; /* drawn from the process secret at first put */
} mlfq_idmap_t;

void mlfq_idmap_init(mlfq_idmap_t *m);
void mlfq_idmap_free(mlfq_idmap_t *m);

/* Adds key -> val (val != NULL). Returns 0, MLFQ_EEXIST if key is there,
 * MLFQ_ENOMEM, or at a map's first put mlfq_secret_key's error (none once
 * mlfq_secret_init has succeeded). */
int mlfq_idmap_put(mlfq_idmap_t *m, uint64_t key, void *val);

/* The value of key, or NULL. */
void *mlfq_idmap_get(const mlfq_idmap_t *m, uint64_t key);

/* Removes key and returns its value, or NULL if absent. The table shrinks
 * when it is mostly empty. */
void *mlfq_idmap_del(mlfq_idmap_t *m, uint64_t key);

#endif
