/* DESIGN: keys and values in two parallel arrays of cap slots (a power of
 * two); a slot is empty when its value is NULL, so every key, 0 and
 * UINT64_MAX included, is storable. A key's home slot is its SipHash-1-3
 * (siphash.c) under the map's own key, masked to cap, computed once per
 * operation; collisions probe linearly. The keys are ids a peer chooses:
 * with a fixed hash (this map used an unkeyed splitmix64 mix) a peer can
 * invert it and send ids that share one home, and then every insert,
 * lookup and resize walks a run as long as the map. The map's key is
 * drawn from the process's random secret (secret.c) at its first put, so
 * which ids collide cannot be known outside the process.
 * The table doubles before an insert would pass 70% load, and halves
 * (down to IDMAP_MIN_CAP slots) once a deletion leaves it under 12.5%, so
 * a map that once held a burst gives that memory back; the two thresholds
 * are far apart, so churn around either does not resize back and forth.
 * Deletion shifts later entries of the same run back into the hole
 * (Knuth's algorithm R) instead of leaving tombstones, so a probe always
 * ends at the first empty slot and lookups stay short under churn. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/idmap.h"
#include "base/secret.h"

#define IDMAP_MIN_CAP 16

static uint64_t hash(const mlfq_idmap_t *m, uint64_t key) {
  return mlfq_siphash13_u64(&m->_key, key);
}

/* The slot holding key, whose hash is h, or the empty slot where it would
 * go. cap > 0 and at least one slot is empty. */
static size_t find_slot(const mlfq_idmap_t *m, uint64_t key, uint64_t h) {
  size_t i, mask;

  mask = m->cap - 1;
  i = (size_t)h & mask;
  while (m->vals[i] != NULL && m->keys[i] != key)
    i = (i + 1) & mask;
  return i;
}

/* Moves every entry into fresh arrays of cap slots; on ENOMEM the map is
 * unchanged. */
static int resize(mlfq_idmap_t *m, size_t cap) {
  mlfq_idmap_t t;
  size_t i, j;

  if (cap > SIZE_MAX / sizeof(uint64_t) || cap > SIZE_MAX / sizeof(void *))
    return MLFQ_ENOMEM;
  t._key = m->_key;
  t.cap = cap;
  t.n = m->n;
  t.keys = malloc(cap * sizeof(uint64_t));
  t.vals = malloc(cap * sizeof(void *));
  if (t.keys == NULL || t.vals == NULL) {
    free(t.keys);
    free(t.vals);
    return MLFQ_ENOMEM;
  }
  for (i = 0; i < cap; i++)
    t.vals[i] = NULL;
  for (i = 0; i < m->cap; i++) {
    if (m->vals[i] == NULL)
      continue;
    j = find_slot(&t, m->keys[i], hash(m, m->keys[i]));
    t.keys[j] = m->keys[i];
    t.vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  *m = t;
  return 0;
}

void mlfq_idmap_init(mlfq_idmap_t *m) {
  m->keys = NULL;
  m->vals = NULL;
  m->cap = 0;
  m->n = 0;
  m->_key.k0 = m->_key.k1 = 0; /* drawn at the first put */
}

void mlfq_idmap_free(mlfq_idmap_t *m) {
  free(m->keys);
  free(m->vals);
  mlfq_idmap_init(m);
}

int mlfq_idmap_put(mlfq_idmap_t *m, uint64_t key, void *val) {
  uint64_t h;
  size_t i;
  int err;

  assert(val != NULL);
  if (m->cap == 0) {
    err = mlfq_secret_key(&m->_key);
    if (err)
      return err;
  }
  h = hash(m, key);
  if (m->cap > 0) {
    i = find_slot(m, key, h);
    if (m->vals[i] != NULL)
      return MLFQ_EEXIST;
  }
  /* Keep n + 1 <= 70% of cap. */
  if (m->cap == 0 || (m->n + 1) * 10 > m->cap * 7) {
    if (m->cap > SIZE_MAX / 2)
      return MLFQ_ENOMEM;
    err = resize(m, m->cap > 0 ? m->cap * 2 : IDMAP_MIN_CAP);
    if (err)
      return err;
  }
  i = find_slot(m, key, h);
  m->keys[i] = key;
  m->vals[i] = val;
  m->n++;
  return 0;
}

void *mlfq_idmap_get(const mlfq_idmap_t *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  return m->vals[find_slot(m, key, hash(m, key))];
}

void *mlfq_idmap_del(mlfq_idmap_t *m, uint64_t key) {
  size_t hole, j, k, mask;
  void *val;

  if (m->cap == 0)
    return NULL;
  mask = m->cap - 1;
  hole = find_slot(m, key, hash(m, key));
  val = m->vals[hole];
  if (val == NULL)
    return NULL;
  /* Walk the rest of the run: an entry whose home is not cyclically in
   * (hole, j] can (and must) move back into the hole. */
  j = hole;
  for (;;) {
    j = (j + 1) & mask;
    if (m->vals[j] == NULL)
      break;
    k = (size_t)hash(m, m->keys[j]) & mask;
    if (((j - k) & mask) >= ((j - hole) & mask)) {
      m->keys[hole] = m->keys[j];
      m->vals[hole] = m->vals[j];
      hole = j;
    }
  }
  m->vals[hole] = NULL;
  m->n--;
  if (m->cap > IDMAP_MIN_CAP && m->n * 8 < m->cap)
    (void)resize(m, m->cap / 2); /* on ENOMEM it stays as it is */
  return val;
}
