#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "load/summary.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double mlfq_percentile(const double *sorted, size_t n, double p) {
  double r = ceil(p / 100.0 * (double)n);
  size_t rank = r < 1 ? 1 : (size_t)r;

  if (rank > n)
    rank = n;
  return sorted[rank - 1];
}

/* Sorts v[0..n) and fills st. */
static void describe(mlfq_stat_t *st, double *v, size_t n) {
  double total = 0;
  size_t i;

  memset(st, 0, sizeof(*st));
  if (n == 0)
    return;
  qsort(v, n, sizeof(*v), cmp_double);
  for (i = 0; i < n; i++)
    total += v[i];
  st->n = n;
  st->mean = total / (double)n;
  st->p50 = mlfq_percentile(v, n, 50);
  st->p90 = mlfq_percentile(v, n, 90);
  st->p99 = mlfq_percentile(v, n, 99);
  st->max = v[n - 1];
}

int mlfq_summary_compute(mlfq_summary_t *sum, const mlfq_outcome_t *o,
                         size_t n) {
  double *jct, *ttft, *tpot, secs;
  size_t i, nok = 0, ntpot = 0;
  uint64_t last = 0;

  memset(sum, 0, sizeof(*sum));
  sum->requests = n;
  jct = malloc((n ? n : 1) * sizeof(*jct));
  ttft = malloc((n ? n : 1) * sizeof(*ttft));
  tpot = malloc((n ? n : 1) * sizeof(*tpot));
  if (jct == NULL || ttft == NULL || tpot == NULL) {
    free(jct);
    free(ttft);
    free(tpot);
    return MLFQ_ENOMEM;
  }
  for (i = 0; i < n; i++) {
    const mlfq_outcome_t *r = &o[i];
    double j, t;

    if (r->status != NULL) {
      sum->failed++;
      continue;
    }
    j = (double)(r->finish_ns - r->arrival_ns) / 1e6;
    t = (double)(r->first_token_ns - r->arrival_ns) / 1e6;
    jct[nok] = j;
    ttft[nok] = t;
    nok++;
    if (r->output_len > 1)
      tpot[ntpot++] = (j - t) / (double)(r->output_len - 1);
    sum->tokens += r->output_len;
    sum->preemptions += r->preemptions;
    sum->swapped_tokens += r->swapped_tokens;
    if (r->finish_ns > last)
      last = r->finish_ns;
  }
  sum->makespan_ms = (double)last / 1e6;
  secs = (double)last / 1e9;
  if (secs > 0) {
    sum->req_per_s = (double)nok / secs;
    sum->tok_per_s = (double)sum->tokens / secs;
  }
  if (nok > 0)
    sum->preempt_rate = (double)sum->preemptions / (double)nok;
  describe(&sum->jct, jct, nok);
  describe(&sum->ttft, ttft, nok);
  describe(&sum->tpot, tpot, ntpot);
  free(jct);
  free(ttft);
  free(tpot);
  return 0;
}
