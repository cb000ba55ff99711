/* The id map against a reference array, with hostile key patterns. */
#include "base/idmap.h"
#include "base/rng.h"

#include "oldhash.h"
#include "task.h"

/* Distinct non-NULL values to store. */
static char vals[1 << 18];

#define VAL(i) ((void *)&vals[(i) % sizeof(vals)])

/* Checks the map's shape: cap a power of two, load at most 70%, n equal
 * to the occupied slots. Returns the longest run of occupied slots. */
static size_t check_shape(const mlfq_idmap_t *m) {
  size_t i, used, run, longest;

  if (m->cap == 0) {
    ASSERT_EQ(m->n, 0);
    return 0;
  }
  ASSERT_EQ(m->cap & (m->cap - 1), 0);
  ASSERT_LE(m->n * 10, m->cap * 7);
  used = run = longest = 0;
  for (i = 0; i < m->cap; i++) {
    if (m->vals[i] != NULL) {
      used++;
      run++;
      longest = run > longest ? run : longest;
    } else {
      run = 0;
    }
  }
  ASSERT_EQ(used, m->n);
  return longest;
}

TEST(idmap, put_get_del) {
  mlfq_idmap_t m;

  mlfq_idmap_init(&m);
  ASSERT(mlfq_idmap_get(&m, 1) == NULL);
  ASSERT(mlfq_idmap_del(&m, 1) == NULL);
  ASSERT_OK(mlfq_idmap_put(&m, 1, VAL(1)));
  ASSERT_OK(mlfq_idmap_put(&m, 2, VAL(2)));
  ASSERT_EQ(m.n, 2);
  ASSERT(mlfq_idmap_get(&m, 1) == VAL(1));
  ASSERT(mlfq_idmap_get(&m, 2) == VAL(2));
  ASSERT(mlfq_idmap_get(&m, 3) == NULL);
  ASSERT(mlfq_idmap_del(&m, 1) == VAL(1));
  ASSERT(mlfq_idmap_del(&m, 1) == NULL);
  ASSERT(mlfq_idmap_get(&m, 1) == NULL);
  ASSERT(mlfq_idmap_get(&m, 2) == VAL(2));
  ASSERT_EQ(m.n, 1);
  ASSERT_OK(mlfq_idmap_put(&m, 1, VAL(5)));
  ASSERT(mlfq_idmap_get(&m, 1) == VAL(5));
  check_shape(&m);
  mlfq_idmap_free(&m);
  ASSERT_EQ(m.n, 0);
  ASSERT_EQ(m.cap, 0);
  /* Reusable after free. */
  ASSERT_OK(mlfq_idmap_put(&m, 7, VAL(7)));
  ASSERT(mlfq_idmap_get(&m, 7) == VAL(7));
  mlfq_idmap_free(&m);
}

TEST(idmap, eexist) {
  mlfq_idmap_t m;

  mlfq_idmap_init(&m);
  ASSERT_OK(mlfq_idmap_put(&m, 42, VAL(1)));
  ASSERT_EQ(mlfq_idmap_put(&m, 42, VAL(2)), MLFQ_EEXIST);
  ASSERT(mlfq_idmap_get(&m, 42) == VAL(1));
  ASSERT_EQ(m.n, 1);
  mlfq_idmap_free(&m);
}

TEST(idmap, key_zero_and_max) {
  mlfq_idmap_t m;

  mlfq_idmap_init(&m);
  ASSERT_OK(mlfq_idmap_put(&m, 0, VAL(1)));
  ASSERT_OK(mlfq_idmap_put(&m, UINT64_MAX, VAL(2)));
  ASSERT_EQ(mlfq_idmap_put(&m, 0, VAL(3)), MLFQ_EEXIST);
  ASSERT_EQ(mlfq_idmap_put(&m, UINT64_MAX, VAL(3)), MLFQ_EEXIST);
  ASSERT(mlfq_idmap_get(&m, 0) == VAL(1));
  ASSERT(mlfq_idmap_get(&m, UINT64_MAX) == VAL(2));
  ASSERT(mlfq_idmap_del(&m, 0) == VAL(1));
  ASSERT(mlfq_idmap_get(&m, 0) == NULL);
  ASSERT(mlfq_idmap_get(&m, UINT64_MAX) == VAL(2));
  ASSERT(mlfq_idmap_del(&m, UINT64_MAX) == VAL(2));
  ASSERT_EQ(m.n, 0);
  check_shape(&m);
  mlfq_idmap_free(&m);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;

  return (x > y) - (x < y);
}

/* Runs ops random puts and deletes over nkeys keys, checked against a
 * reference array, verifying every key each check_every operations. */
static void churn(size_t nkeys, int ops, int check_every, uint64_t seed) {
  mlfq_idmap_t m;
  mlfq_rng_t r;
  uint64_t *keys, *sorted;
  void **ref;
  size_t i, j, n;
  int op;

  keys = malloc(nkeys * sizeof(*keys));
  ref = calloc(nkeys, sizeof(*ref));
  ASSERT(keys != NULL && ref != NULL);
  mlfq_rng_seed(&r, seed, 0);
  /* Random keys with the edge keys among them; a repeat would make the
   * reference wrong, so check that there is none. */
  for (i = 0; i < nkeys; i++)
    keys[i] = i == 0 ? 0 : i == 1 ? UINT64_MAX : mlfq_rng_next(&r);
  sorted = malloc(nkeys * sizeof(*sorted));
  ASSERT(sorted != NULL);
  memcpy(sorted, keys, nkeys * sizeof(*sorted));
  qsort(sorted, nkeys, sizeof(*sorted), cmp_u64);
  for (i = 1; i < nkeys; i++)
    ASSERT(sorted[i - 1] != sorted[i]);
  free(sorted);
  mlfq_idmap_init(&m);
  n = 0;
  for (op = 1; op <= ops; op++) {
    i = (size_t)mlfq_rng_below(&r, nkeys);
    if (ref[i] == NULL) {
      ASSERT_OK(mlfq_idmap_put(&m, keys[i], VAL(op)));
      ref[i] = VAL(op);
      n++;
    } else if (mlfq_rng_below(&r, 4) == 0) {
      ASSERT_EQ(mlfq_idmap_put(&m, keys[i], VAL(op)), MLFQ_EEXIST);
    } else {
      ASSERT(mlfq_idmap_del(&m, keys[i]) == ref[i]);
      ref[i] = NULL;
      n--;
    }
    ASSERT_EQ(m.n, n);
    ASSERT(mlfq_idmap_get(&m, keys[i]) == ref[i]);
    if (op % check_every == 0) {
      check_shape(&m);
      for (j = 0; j < nkeys; j++)
        ASSERT(mlfq_idmap_get(&m, keys[j]) == ref[j]);
    }
  }
  for (j = 0; j < nkeys; j++) {
    if (ref[j] != NULL)
      ASSERT(mlfq_idmap_del(&m, keys[j]) == ref[j]);
    ASSERT(mlfq_idmap_get(&m, keys[j]) == NULL);
  }
  ASSERT_EQ(m.n, 0);
  check_shape(&m);
  mlfq_idmap_free(&m);
  free(keys);
  free(ref);
}

TEST(idmap, many_keys_against_reference) {
  /* 50,000 keys, 200,000 operations. */
  churn(50000, 200000, 20000, 1);
}

TEST(idmap, small_table_churn) {
  /* Few keys in a 16-slot table: runs wrap around the end of the array
   * and deletion shifts across it often. */
  churn(10, 100000, 1, 2);
}

/* The i-th key of an adversarial pattern: sequential ids, ids that differ
 * only in their high bits, and ids that share their low 20 bits. */
static uint64_t adv_key(int pattern, uint64_t i) {
  if (pattern == 0)
    return i;
  if (pattern == 1)
    return i << 32;
  return i << 20 | 0xfffff;
}

TEST(idmap, adversarial_sequential_keys) {
  /* With an identity hash these would pile into one run. */
  enum { N = 100000 };
  mlfq_idmap_t m;
  uint64_t i;
  int pattern;

  for (pattern = 0; pattern < 3; pattern++) {
    mlfq_idmap_init(&m);
    for (i = 0; i < N; i++)
      ASSERT_OK(mlfq_idmap_put(&m, adv_key(pattern, i), VAL(i)));
    ASSERT_LT(check_shape(&m), 1000);
    for (i = 0; i < N; i += 2)
      ASSERT(mlfq_idmap_del(&m, adv_key(pattern, i)) == VAL(i));
    ASSERT_LT(check_shape(&m), 1000);
    for (i = 0; i < N; i++)
      ASSERT(mlfq_idmap_get(&m, adv_key(pattern, i)) ==
             (i % 2 ? VAL(i) : NULL));
    mlfq_idmap_free(&m);
  }
}

/* A map that held a burst gives the memory back as it empties, and grows
 * again when it must. */
TEST(idmap, shrinks_when_mostly_empty) {
  enum { N = 100000 };
  mlfq_idmap_t m;
  uint64_t i;

  mlfq_idmap_init(&m);
  for (i = 0; i < N; i++)
    ASSERT_OK(mlfq_idmap_put(&m, i, VAL(i)));
  ASSERT_GE(m.cap, 131072);
  for (i = 0; i < N - 3; i++)
    ASSERT(mlfq_idmap_del(&m, i) == VAL(i));
  ASSERT_EQ_U64(m.n, 3);
  ASSERT_EQ_U64(m.cap, 16);
  for (i = N - 3; i < N; i++)
    ASSERT(mlfq_idmap_get(&m, i) == VAL(i));
  ASSERT_LT(check_shape(&m), 16);
  for (i = 0; i < 1000; i++)
    ASSERT_OK(mlfq_idmap_put(&m, i, VAL(i)));
  ASSERT_EQ_U64(m.n, 1003);
  ASSERT_LT(check_shape(&m), 1000);
  mlfq_idmap_free(&m);
}

TEST(idmap, ids_crafted_against_a_fixed_hash_spread) {
  /* Ids whose old hash ends in 24 zero bits: under it they shared one home
   * slot in every table up to 2^24 slots, one run of all of them. */
  enum { N = 20000 };
  mlfq_idmap_t m;
  uint64_t i, id;

  ASSERT_EQ_U64(tc_oldhash(tc_oldhash_invert(UINT64_C(0x123456789abcdef))),
                UINT64_C(0x123456789abcdef));
  mlfq_idmap_init(&m);
  for (i = 1; i <= N; i++) {
    id = tc_oldhash_invert(i << 24);
    ASSERT_EQ_U64(tc_oldhash(id) & 0xffffff, 0);
    ASSERT_OK(mlfq_idmap_put(&m, id, VAL(i)));
  }
  ASSERT_LT(check_shape(&m), 1000);
  for (i = 1; i <= N; i++)
    ASSERT(mlfq_idmap_get(&m, tc_oldhash_invert(i << 24)) == VAL(i));
  mlfq_idmap_free(&m);
}
