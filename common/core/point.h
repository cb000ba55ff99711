/* The scheduling point, written once for the simulator and the daemon
 * (docs/MODEL.md, "Scheduling points").
 *
 * A driver owns its arrivals and its clock; the point owns the engines'
 * iteration ends and the order of events. mlfq_point_run goes through the
 * events in model-time order and, at each time t: submits every arrival due
 * by t (in the driver's order: arrival, ties by id), ends the iterations
 * that end at t in engine order, then lets each idle engine pick, in engine
 * order. So the daemon computes exactly what the simulator computes for the
 * same arrival times; only the clock differs.
 *
 * An iteration's end is an event only once its driver reports it
 * (mlfq_point_report): the simulator reports it as soon as the iteration
 * starts, the daemon when the engine's thread wakes at its end. A point
 * waits for the reports of every iteration that ends at or before it.
 *
 * Several schedulers may share one point: the replicas of a simulated
 * cluster. Engine e is then engine e % workers of scheduler e / workers;
 * at time t the arrivals of every scheduler come first, then the ends of
 * every engine, then the schedulers pick one after the other.
 *
 * Like the scheduler, a point is touched by one thread, the driver's.
 */
#ifndef MLFQ_POINT_H
#define MLFQ_POINT_H

#include <stdint.h>

#include "core/job.h"
#include "core/sched.h"

/* No time: an idle engine's end, no arrival left. */
#define MLFQ_POINT_NONE UINT64_MAX

/* What the driver does at a point. All calls come from mlfq_point_run. */
typedef struct {
  /* The model time of the earliest arrival not yet submitted, or
   * MLFQ_POINT_NONE. */
  uint64_t (*next_arrival)(void *ud);
  /* Submits that arrival at model time t (mlfq_sched_submit, on the
   * scheduler the driver chooses). Returns 0, or a negative code that stops
   * mlfq_point_run. */
  int (*arrive)(void *ud, uint64_t t);
  /* Engine e ended its iteration at t: out[0..n) got a token, in pick order
   * (as mlfq_sched_complete returns them; finished jobs are the driver's
   * again). */
  void (*ended)(void *ud, unsigned e, uint64_t t, mlfq_job_t *const *out,
                unsigned n);
  /* Engine e started an iteration at t of dur ns (mlfq_sched_dispatch),
   * which ends at end: t + dur, or MLFQ_TIME_MAX if that is later. Returns
   * 0, or a negative code that stops mlfq_point_run. */
  int (*started)(void *ud, unsigned e, uint64_t t, uint64_t dur, uint64_t end);
  /* Every idle engine of scheduler r has picked at t. May be NULL. */
  void (*picked)(void *ud, unsigned r, uint64_t t);
} mlfq_point_ops_t;

typedef struct {
  mlfq_sched_t *const *sched; /* nsched schedulers, the same workers each */
  unsigned nsched;
  unsigned workers;     /* engines per scheduler */
  uint64_t now;         /* model time of the latest point begun (0) */
  uint64_t *_end;       /* per engine: end of its iteration, or NONE */
  uint8_t *_reported;   /* per engine: its end was reported */
  unsigned _unreported; /* engines busy with an end not reported */
  mlfq_job_t **_out;    /* max_batch, for mlfq_sched_complete */
  const mlfq_point_ops_t *_ops;
  void *_ud;
} mlfq_point_t;

/* Sets pt up over sched[0..nsched), which must have the same workers and
 * max_batch and outlive pt; ops and ud are passed to the driver's calls.
 * Every engine must be idle. Returns 0 or MLFQ_ENOMEM. */
int mlfq_point_init(mlfq_point_t *pt, mlfq_sched_t *const *sched,
                    unsigned nsched, const mlfq_point_ops_t *ops, void *ud);

/* Frees what mlfq_point_init allocated (not the schedulers). */
void mlfq_point_free(mlfq_point_t *pt);

/* Engine e's current iteration has reached its end (in the driver's
 * clock): the point may close it. */
static inline void mlfq_point_report(mlfq_point_t *pt, unsigned e) {
  if (!pt->_reported[e]) {
    pt->_reported[e] = 1;
    pt->_unreported--;
  }
}

/* The end of engine e's iteration, or MLFQ_POINT_NONE when it is idle. */
static inline uint64_t mlfq_point_end(const mlfq_point_t *pt, unsigned e) {
  return pt->_end[e];
}

/* Runs every scheduling point the events known so far allow, in model-time
 * order (see above), and returns when the next event is an iteration end
 * not yet reported, or there is none and no arrival is left. Returns 0, or
 * the first negative code of arrive or started (the point then stops
 * where it is). */
int mlfq_point_run(mlfq_point_t *pt);

#endif
