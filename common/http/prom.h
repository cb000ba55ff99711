/* Prometheus' text exposition format: histograms and the lines that write
 * metrics, into a byte buffer. No I/O; the caller owns everything. */
#ifndef MLFQ_PROM_H
#define MLFQ_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define MLFQ_PROM_MAX_BUCKETS 32

/* A histogram with fixed upper bounds (ascending; +Inf is implied). */
typedef struct {
  const double *bounds;
  size_t n;
  uint64_t counts[MLFQ_PROM_MAX_BUCKETS]; /* per bucket, not cumulative */
  uint64_t count;                         /* every observation, +Inf too */
  double sum;
} mlfq_prom_hist_t;

/* Writes to out the bounds 1, 2, 5, 10, 20, 50, ... up to top (each at
 * most top, at most max of them; none when top < 1), as vLLM's histograms
 * of lengths have them, and returns how many. */
size_t mlfq_prom_buckets_125(double *out, size_t max, double top);

/* Sets h up with n bounds (n <= MLFQ_PROM_MAX_BUCKETS; bounds must outlive
 * h) and no observations. */
void mlfq_prom_hist_init(mlfq_prom_hist_t *h, const double *bounds, size_t n);
/* Counts one observation of v. */
void mlfq_prom_hist_add(mlfq_prom_hist_t *h, double v);

/* Each appends to b and returns 0, or MLFQ_ERANGE / MLFQ_ENOMEM when b is
 * full. There is no limit on the length of a line but b's. labels is NULL
 * or the inside of the braces ("level=\"1\""), as mlfq_prom_label makes
 * it. */
/* "# HELP name help" and "# TYPE name type". */
int mlfq_prom_head(mlfq_buf_t *b, const char *name, const char *type,
                   const char *help);
/* "name{labels} value". */
int mlfq_prom_value(mlfq_buf_t *b, const char *name, const char *labels,
                    double value);
/* The _bucket lines (cumulative, le="+Inf" last), _sum and _count. */
int mlfq_prom_hist_write(mlfq_buf_t *b, const char *name, const char *labels,
                         const mlfq_prom_hist_t *h);
/* Appends s to b as the inside of a label value's quotes: every backslash,
 * double quote and newline escaped, nothing cut. */
int mlfq_prom_escape(mlfq_buf_t *b, const char *s);
/* Appends name="value" (value escaped) to the label set in b, after a comma
 * unless b is empty, and keeps a NUL after b's bytes: (char *)b->data is
 * then the labels for the functions above. */
int mlfq_prom_label(mlfq_buf_t *b, const char *name, const char *value);

#endif
