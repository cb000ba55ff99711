/* Arrival processes (docs/MODEL.md, "Arrivals"): when each request arrives, in
 * model time.
 *
 * poisson: exponential gaps with mean 1/rate; uniform: every gap exactly
 * 1/rate; gamma: gamma gaps with mean 1/rate and coefficient of variation cv.
 * The first request arrives at time 0. A rate of 0 or infinity sends every
 * request at time 0. Rates are requests per model second.
 */
#ifndef MLFQ_ARRIVAL_H
#define MLFQ_ARRIVAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

typedef enum {
  MLFQ_DIST_POISSON = 0,
  MLFQ_DIST_UNIFORM = 1,
  MLFQ_DIST_GAMMA = 2
} mlfq_dist_t;

typedef struct {
  mlfq_dist_t dist;
  double rate; /* requests per model second; 0 or INFINITY: all at once */
  double cv;   /* gamma only; > 0 */
  uint64_t seed;
} mlfq_arrival_t;

/* Largest arrival time, from an arrival process or a workload file's
 * arrival_ms (10^12 ms, about 31.7 years of model time). */
#define MLFQ_ARRIVAL_MAX_NS (UINT64_C(1000000000000) * UINT64_C(1000000))

/* An open-ended generator of arrival times. */
typedef struct {
  mlfq_arrival_t cfg;
  uint64_t i;    /* arrivals produced so far */
  uint64_t t_ns; /* last arrival time */
  mlfq_rng_t _rng;
} mlfq_arrivals_t;

/* "poisson", "uniform", "gamma" to *d. Returns 0 or MLFQ_EINVAL. */
int mlfq_dist_parse(const char *s, mlfq_dist_t *d);
const char *mlfq_dist_name(mlfq_dist_t d);

/* Checks a configuration: rate >= 0 (or infinite), cv > 0 and finite.
 * Returns 0 or MLFQ_EINVAL with a message in err. */
int mlfq_arrival_check(const mlfq_arrival_t *a, char *err, size_t errlen);

/* Starts a generator; a must be valid (mlfq_arrival_check). */
void mlfq_arrivals_init(mlfq_arrivals_t *g, const mlfq_arrival_t *a);

/* Stores the next arrival time in ns in *t: 0 for the first, then one gap
 * after the previous one. Uniform arrivals are computed as i / rate (no
 * accumulated rounding). Returns 0, or MLFQ_ERANGE when the arrival would
 * come after MLFQ_ARRIVAL_MAX_NS (a rate too low for so many requests);
 * every later call then fails too. */
int mlfq_arrivals_next(mlfq_arrivals_t *g, uint64_t *t);

/* Fills out[0..n) with the first n arrival times of a. Returns 0, or
 * MLFQ_ERANGE when arrival i (out[0..i) filled) would come after
 * MLFQ_ARRIVAL_MAX_NS. */
int mlfq_arrival_schedule(const mlfq_arrival_t *a, uint64_t *out, size_t n);

#endif
