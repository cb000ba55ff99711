/* DESIGN: arrival times are integer nanoseconds of model time. poisson and
 * gamma draw each gap from stream MLFQ_STREAM_ARRIVAL of the seed, round it
 * to a whole nanosecond and add it to the previous arrival, so a schedule
 * depends only on (dist, rate, cv, seed) and the n-th arrival is the same
 * however many come after it. uniform computes arrival i as
 * round(i * 1e9 / rate) directly, so no rounding error accumulates. A time
 * past MLFQ_ARRIVAL_MAX_NS is an error, never a saturated value: a
 * saturated time would read as "never" (MLFQ_TIME_NONE) downstream.
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "load/arrival.h"

/* Rounds a non-negative number of ns to the nearest integer (halves away
 * from zero, as llround), saturating at UINT64_MAX; NaN and negative give 0. */
static uint64_t round_ns(double ns) {
  if (!(ns > 0.0))
    return 0;
  if (ns >= 0x1.0p64)
    return UINT64_MAX;
  return (uint64_t)round(ns);
}

static int all_at_once(const mlfq_arrival_t *a) {
  return a->rate == 0.0 || isinf(a->rate);
}

int mlfq_dist_parse(const char *s, mlfq_dist_t *d) {
  if (s == NULL)
    return MLFQ_EINVAL;
  if (strcmp(s, "poisson") == 0)
    *d = MLFQ_DIST_POISSON;
  else if (strcmp(s, "uniform") == 0)
    *d = MLFQ_DIST_UNIFORM;
  else if (strcmp(s, "gamma") == 0)
    *d = MLFQ_DIST_GAMMA;
  else
    return MLFQ_EINVAL;
  return 0;
}

/* Returns "unknown" for a value outside the enum; never NULL. */
const char *mlfq_dist_name(mlfq_dist_t d) {
  switch (d) {
  case MLFQ_DIST_POISSON:
    return "poisson";
  case MLFQ_DIST_UNIFORM:
    return "uniform";
  case MLFQ_DIST_GAMMA:
    return "gamma";
  }
  return "unknown";
}

int mlfq_arrival_check(const mlfq_arrival_t *a, char *err, size_t errlen) {
  if (a->dist != MLFQ_DIST_POISSON && a->dist != MLFQ_DIST_UNIFORM &&
      a->dist != MLFQ_DIST_GAMMA)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "unknown arrival distribution %d", (int)a->dist);
  if (isnan(a->rate))
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--rate: %g is not a number",
                     a->rate);
  if (a->rate < 0.0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--rate: %g is negative",
                     a->rate);
  if (isnan(a->cv) || isinf(a->cv))
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--cv: %g is not finite", a->cv);
  if (a->cv <= 0.0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--cv: %g must be > 0", a->cv);
  return 0;
}

void mlfq_arrivals_init(mlfq_arrivals_t *g, const mlfq_arrival_t *a) {
  g->cfg = *a;
  g->i = 0;
  g->t_ns = 0;
  mlfq_rng_seed(&g->_rng, a->seed, MLFQ_STREAM_ARRIVAL);
}

/* One gap in ns (before rounding) for poisson or gamma. */
static double draw_gap_ns(mlfq_arrivals_t *g) {
  double mean_ns = 1e9 / g->cfg.rate;
  double cv2;

  if (g->cfg.dist == MLFQ_DIST_GAMMA) {
    /* Shape 1/cv^2 and scale cv^2 * mean: mean `mean`, CV `cv`. */
    cv2 = g->cfg.cv * g->cfg.cv;
    return mlfq_rng_gamma(&g->_rng, 1.0 / cv2, cv2 * mean_ns);
  }
  return mlfq_rng_exp(&g->_rng, mean_ns);
}

int mlfq_arrivals_next(mlfq_arrivals_t *g, uint64_t *t) {
  uint64_t v;

  if (g->t_ns > MLFQ_ARRIVAL_MAX_NS)
    return MLFQ_ERANGE;
  if (g->i == 0 || all_at_once(&g->cfg))
    v = 0;
  else if (g->cfg.dist == MLFQ_DIST_UNIFORM)
    v = round_ns((double)g->i * 1e9 / g->cfg.rate);
  else
    v = mlfq_add_sat(g->t_ns, round_ns(draw_gap_ns(g)));
  g->i++;
  g->t_ns = v;
  if (v > MLFQ_ARRIVAL_MAX_NS)
    return MLFQ_ERANGE;
  *t = v;
  return 0;
}

int mlfq_arrival_schedule(const mlfq_arrival_t *a, uint64_t *out, size_t n) {
  mlfq_arrivals_t g;
  size_t i;
  int rc;

  mlfq_arrivals_init(&g, a);
  for (i = 0; i < n; i++) {
    rc = mlfq_arrivals_next(&g, &out[i]);
    if (rc)
      return rc;
  }
  return 0;
}
