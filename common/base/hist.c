/* DESIGN: a value v < 64 counts in bucket v. A larger v with its highest
 * set bit at position e (6..63) counts in bucket (e - 5) * 64 + s, where s
 * is the 6 bits just below that bit: each power of two [2^e, 2^(e+1)) is
 * cut into 64 buckets of width 2^(e-6), 1/64 of the range's lower end (so
 * values below 128 are in fact exact). Reporting the middle of a bucket is
 * then within 1/128 of any value in it. Bucket order is value order, so a
 * percentile is a walk over the counts. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/hist.h"

#define SUB_BITS 6

/* Position of the highest set bit of v (v != 0). */
static int top_bit(uint64_t v) {
#if defined(__GNUC__)
  return 63 - __builtin_clzll(v);
#else
  int e;

  for (e = 0; v > 1; v >>= 1)
    e++;
  return e;
#endif
}

static size_t bucket_of(uint64_t v) {
  int e;

  if (v < MLFQ_HIST_SUB)
    return (size_t)v;
  e = top_bit(v);
  return (size_t)(e - SUB_BITS + 1) * MLFQ_HIST_SUB +
         (size_t)((v >> (e - SUB_BITS)) & (MLFQ_HIST_SUB - 1));
}

/* The middle of bucket i (its lowest value when it is one wide). */
static uint64_t bucket_mid(size_t i) {
  size_t e;
  uint64_t lo, width;

  if (i < MLFQ_HIST_SUB)
    return (uint64_t)i;
  e = i / MLFQ_HIST_SUB + SUB_BITS - 1;
  width = UINT64_C(1) << (e - SUB_BITS);
  lo = (uint64_t)(MLFQ_HIST_SUB + i % MLFQ_HIST_SUB) << (e - SUB_BITS);
  return lo + width / 2;
}

void mlfq_hist_init(mlfq_hist_t *h) { memset(h, 0, sizeof(*h)); }

void mlfq_hist_add(mlfq_hist_t *h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  if (h->n == 0 || v < h->min)
    h->min = v;
  if (h->n == 0 || v > h->max)
    h->max = v;
  h->n++;
  h->sum += (double)v;
}

void mlfq_hist_merge(mlfq_hist_t *dst, const mlfq_hist_t *src) {
  size_t i;

  if (src->n == 0)
    return;
  for (i = 0; i < MLFQ_HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  if (dst->n == 0 || src->min < dst->min)
    dst->min = src->min;
  if (dst->n == 0 || src->max > dst->max)
    dst->max = src->max;
  dst->n += src->n;
  dst->sum += src->sum;
}

uint64_t mlfq_hist_percentile(const mlfq_hist_t *h, double p) {
  double r;
  uint64_t rank, seen, v;
  size_t i;

  if (h->n == 0)
    return 0;
  /* Nearest rank: the smallest sample with at least p% of them at or
   * below it. Out-of-contract p (or NaN) falls to the first or last. */
  r = ceil(p / 100.0 * (double)h->n);
  if (!(r >= 1.0))
    rank = 1;
  else if (r >= (double)h->n)
    rank = h->n;
  else
    rank = (uint64_t)r;
  /* The first and last ranks are known exactly. */
  if (rank == 1)
    return h->min;
  if (rank == h->n)
    return h->max;
  seen = 0;
  for (i = 0; i < MLFQ_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank)
      break;
  }
  if (i == MLFQ_HIST_BUCKETS)
    return h->max;
  v = bucket_mid(i);
  if (v < h->min)
    return h->min;
  if (v > h->max)
    return h->max;
  return v;
}

double mlfq_hist_mean(const mlfq_hist_t *h) {
  return h->n > 0 ? h->sum / (double)h->n : 0.0;
}
