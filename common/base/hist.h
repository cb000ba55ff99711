/* A fixed-size histogram of non-negative integers (nanoseconds, usually)
 * with about 1.6% relative precision: values below 64 are exact, larger
 * ones fall in one of 64 sub-buckets per power of two. For latency
 * percentiles (timer lateness, send-time error). Fixed memory, O(1) add,
 * no allocation. Not thread-safe: one per thread, merged by the owner. */
#ifndef MLFQ_HIST_H
#define MLFQ_HIST_H

#include <stdint.h>

#define MLFQ_HIST_SUB 64
#define MLFQ_HIST_BUCKETS (64 * MLFQ_HIST_SUB)

typedef struct {
  uint64_t counts[MLFQ_HIST_BUCKETS];
  uint64_t n;
  uint64_t min;
  uint64_t max;
  double sum;
} mlfq_hist_t;

void mlfq_hist_init(mlfq_hist_t *h);
void mlfq_hist_add(mlfq_hist_t *h, uint64_t v);
/* Adds every sample of src to dst. */
void mlfq_hist_merge(mlfq_hist_t *dst, const mlfq_hist_t *src);
/* The nearest-rank percentile p (0 < p <= 100), reported as the middle of
 * its bucket and clamped to [min, max]; the first rank is exactly min and
 * the last (p = 100) exactly max. 0 when empty. */
uint64_t mlfq_hist_percentile(const mlfq_hist_t *h, double p);
double mlfq_hist_mean(const mlfq_hist_t *h);

#endif
