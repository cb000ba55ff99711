/* DESIGN
 *
 * The scheduling point (point.h): the one place that orders a time's
 * events, arrivals, then iteration ends in engine order, then picks in
 * engine order (docs/MODEL.md, "Scheduling points"). The simulator and the
 * daemon call it with their own arrivals and clock, so neither writes the
 * rule again.
 *
 * It owns one end time and one "reported" flag per engine, and the array
 * mlfq_sched_complete fills. An engine's end is known when its iteration
 * starts, but it may be closed only once reported: the daemon's engine
 * threads report when they wake, so that an arrival stamped later in wall
 * time, but earlier in model time than an end not yet heard of, is still
 * submitted before that end is closed. The wait is the timer lateness. The
 * simulator reports at once, so it never waits.
 *
 * Cost per point: O(engines) to find the earliest end, plus the
 * scheduler's work. Nothing here allocates after init.
 */
#include <stdlib.h>

#include "base/error.h"
#include "base/units.h"
#include "core/point.h"

int mlfq_point_init(mlfq_point_t *pt, mlfq_sched_t *const *sched,
                    unsigned nsched, const mlfq_point_ops_t *ops, void *ud) {
  const mlfq_sched_params_t *p = mlfq_sched_params(sched[0]);
  size_t e, ne = (size_t)nsched * p->workers;

  pt->sched = sched;
  pt->nsched = nsched;
  pt->workers = p->workers;
  pt->now = 0;
  pt->_unreported = 0;
  pt->_ops = ops;
  pt->_ud = ud;
  pt->_end = malloc(ne * sizeof(*pt->_end));
  pt->_reported = malloc(ne * sizeof(*pt->_reported));
  pt->_out = malloc(p->max_batch * sizeof(*pt->_out));
  if (pt->_end == NULL || pt->_reported == NULL || pt->_out == NULL) {
    mlfq_point_free(pt);
    return MLFQ_ENOMEM;
  }
  for (e = 0; e < ne; e++) {
    pt->_end[e] = MLFQ_POINT_NONE;
    pt->_reported[e] = 1; /* 0 only while busy with an end not reported */
  }
  return 0;
}

void mlfq_point_free(mlfq_point_t *pt) {
  free(pt->_end);
  free(pt->_reported);
  free(pt->_out);
  pt->_end = NULL;
  pt->_reported = NULL;
  pt->_out = NULL;
}

/* Closes the iterations that end at t, in engine order. */
static void end_all(mlfq_point_t *pt, uint64_t t) {
  unsigned e, n, ne = pt->nsched * pt->workers;

  for (e = 0; e < ne; e++) {
    if (pt->_end[e] != t)
      continue;
    pt->_end[e] = MLFQ_POINT_NONE;
    n = mlfq_sched_complete(pt->sched[e / pt->workers], e % pt->workers, t,
                            pt->_out);
    pt->_ops->ended(pt->_ud, e, t, pt->_out, n);
  }
}

/* Lets each idle engine pick at t, scheduler by scheduler, in engine
 * order. Returns 0 or started's error. */
static int pick_all(mlfq_point_t *pt, uint64_t t) {
  unsigned r, k, e;
  uint64_t dur;
  int rc;

  for (r = 0; r < pt->nsched; r++) {
    for (k = 0; k < pt->workers; k++) {
      e = r * pt->workers + k;
      if (pt->_end[e] != MLFQ_POINT_NONE)
        continue;
      if (mlfq_sched_dispatch(pt->sched[r], k, t, &dur) == 0)
        continue;
      /* Saturated at the largest time, never wrapped to an early end nor
       * to NONE; dur may itself be a saturated cost (UINT64_MAX). */
      pt->_end[e] = dur > MLFQ_TIME_MAX - t ? MLFQ_TIME_MAX : t + dur;
      pt->_reported[e] = 0;
      pt->_unreported++;
      rc = pt->_ops->started(pt->_ud, e, t, dur, pt->_end[e]);
      if (rc)
        return rc;
    }
    if (pt->_ops->picked != NULL)
      pt->_ops->picked(pt->_ud, r, t);
  }
  return 0;
}

int mlfq_point_run(mlfq_point_t *pt) {
  unsigned e, ne = pt->nsched * pt->workers;
  uint64_t ta, tc, t;
  int ready, rc;

  for (;;) {
    tc = MLFQ_POINT_NONE;
    for (e = 0; e < ne; e++)
      if (pt->_end[e] < tc)
        tc = pt->_end[e];
    ready = 1;
    for (e = 0; e < ne && pt->_unreported > 0; e++)
      if (pt->_end[e] == tc && !pt->_reported[e])
        ready = 0;
    /* Asked at every point: the driver's calls may have removed arrivals
     * (a daemon's connection that closed). */
    ta = pt->_ops->next_arrival(pt->_ud);
    if (ta == MLFQ_POINT_NONE && tc == MLFQ_POINT_NONE)
      return 0;
    t = ta <= tc ? ta : tc;
    if (t == tc && !ready && ta > tc)
      return 0; /* the next event is an end not yet reported */

    /* Arrivals at the time of an end not yet reported are submitted; the
     * end and the picks wait for the report. */
    while (ta <= t) {
      rc = pt->_ops->arrive(pt->_ud, t);
      if (rc)
        return rc;
      ta = pt->_ops->next_arrival(pt->_ud);
    }
    pt->now = t;
    if (t == tc) {
      if (!ready)
        return 0;
      end_all(pt, t);
    }
    rc = pick_all(pt, t);
    if (rc)
      return rc;
  }
}
