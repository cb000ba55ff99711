/* What one loadgen run measured beyond its summary: each request's
 * outcome, the model error (the server's recorded arrivals replayed
 * through the scheduler core), the send time error, the failures by
 * status, and the per-token trace file. */
#ifndef MLFQ_LG_MEASURE_H
#define MLFQ_LG_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "load/summary.h"
#include "run.h"

typedef struct {
  mlfq_summary_t sum;
  double err_mean_pct; /* model error of the mean JCT, % */
  double diff_mean_ms; /* per-job |measured - model| JCT */
  double diff_p95_ms;
  double within_half_ms; /* fraction of jobs within 0.5 ms */
  int model_ok;
  unsigned replicas; /* > 1: a router; the model error is not computed */
  uint64_t send_p50, send_p99, send_max; /* actual - intended, ns */
  double sent_per_s;    /* requests sent per wall second, first to last send */
  size_t late;          /* requests the server served behind the model */
  uint64_t late_max_ns; /* at worst by this much, model ns */
  cJSON *failures;      /* each failed request's status name and its count */
  char model_why[320];  /* why the model error was not computed, or "" */
} lg_report_t;

/* Fills o[0..r->n) from r; a status name that is not a constant (a code
 * this build does not know) goes into names[i]. */
void lg_outcomes(const lg_result_t *r, mlfq_outcome_t *o,
                 char (*names)[LG_STATUS_NAME_MAX]);

/* Counts the failed requests of o[0..n) by status in rep->failures (a new
 * object, the caller's to delete), in the order each status first occurs
 * (on out of memory, some are not counted). */
void lg_count_failures(lg_report_t *rep, const mlfq_outcome_t *o, size_t n);

/* Replays the server's recorded arrivals through the scheduler core with
 * its configuration, and compares each job's measured JCT with the
 * model's: rep->model_ok and the model error, or rep->replicas (a router)
 * or rep->model_why. Needs every request done (rep->sum computed). */
void lg_model_error(const lg_result_t *r, lg_report_t *rep);

/* The send time error (actual - intended send time) and the send rate of
 * r into rep. */
void lg_send_error(const lg_result_t *r, lg_report_t *rep);

/* The requests whose Done said the server fell behind the model while
 * serving them (mlfqd --late-warn-fraction): rep->late, rep->late_max_ns. */
void lg_late(const lg_result_t *r, lg_report_t *rep);

/* Writes r's per-token trace CSV to path, in time order. Returns 0, or 1
 * after saying why on stderr. */
int lg_write_trace(const char *path, const lg_result_t *r);

#endif
