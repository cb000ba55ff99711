/* The run summary of docs/MLFQSIM.md, "Output files": counts, makespan,
 * throughput, and the mean, p50, p90, p99 and max of JCT, TTFT and TPOT.
 *
 * Percentiles use the nearest-rank rule: the p-th percentile of n sorted
 * values is the value at rank ceil(p/100 * n). Times are model ms.
 */
#ifndef MLFQ_SUMMARY_H
#define MLFQ_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

/* A time a request never reached (a failed request's missing finish). */
#define MLFQ_TIME_NONE UINT64_MAX

/* What happened to one request, as the per-job CSV reports it. */
typedef struct {
  uint64_t arrival_ns;
  uint64_t first_token_ns; /* MLFQ_TIME_NONE if never */
  uint64_t finish_ns;      /* MLFQ_TIME_NONE if never */
  uint32_t input_len;
  uint32_t output_len;
  uint32_t preemptions;    /* times its KV cache was evicted */
  uint64_t swapped_tokens; /* KV tokens moved to host memory and back */
  uint32_t replica;        /* 1-based replica that ran it; 0: unknown */
  const char *status;      /* NULL: ok; otherwise the error code's name */
} mlfq_outcome_t;

/* kv_peak of a summary that is not known. */
#define MLFQ_KV_PEAK_UNKNOWN UINT64_MAX

typedef struct {
  double mean, p50, p90, p99, max;
  size_t n; /* values it was computed from; all 0 when n is 0 */
} mlfq_stat_t;

typedef struct {
  size_t requests;
  size_t failed;
  uint64_t tokens;    /* output tokens of completed requests */
  double makespan_ms; /* from time 0 to the last finish */
  double req_per_s;   /* completed requests per model second */
  double tok_per_s;   /* their output tokens per model second */
  mlfq_stat_t jct, ttft, tpot;
  /* Memory (docs/MODEL.md, "Memory (KV cache)"). */
  uint64_t preemptions;    /* of the completed requests */
  uint64_t swapped_tokens; /* likewise */
  double preempt_rate;     /* preemptions per completed request */
  uint64_t kv_capacity;    /* tokens, 0: unlimited; set by the caller */
  uint64_t kv_peak; /* most KV in use at once, or MLFQ_KV_PEAK_UNKNOWN; set
                       by the caller */
} mlfq_summary_t;

/* Summarises o[0..n). Only requests with status NULL count towards times,
 * throughput and memory counts. kv_capacity and kv_peak are left 0 for the
 * caller, who knows the run's configuration. Returns 0 or MLFQ_ENOMEM. */
int mlfq_summary_compute(mlfq_summary_t *sum, const mlfq_outcome_t *o,
                         size_t n);

/* The nearest-rank percentile p (0 < p <= 100) of sorted[0..n), n >= 1. */
double mlfq_percentile(const double *sorted, size_t n, double p);

#endif
