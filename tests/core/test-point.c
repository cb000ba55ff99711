/* The scheduling point (core/point.h): the order of one time's events, the
 * wait for an end not yet reported, and that reporting ends late (as the
 * daemon's engine threads do) computes exactly what the simulator
 * computes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/units.h"
#include "core/cost.h"
#include "core/point.h"
#include "core/sched.h"
#include "load/sim.h"

#include "task.h"

#define MS(x) ((uint64_t)(x)*MLFQ_NS_PER_MS)
#define MAXJ 256

/* A driver: jobs j[0..n) arrive in index order (their arrival_ns sorted);
 * every call is written to log; ends are reported at once if `instant`. */
typedef struct {
  mlfq_sched_t *s[2];
  mlfq_point_t pt;
  mlfq_job_t j[MAXJ];
  size_t n, next;
  int instant;
  int fail_start; /* started returns MLFQ_ERANGE */
  char log[4096];
} drv_t;

static void say(drv_t *d, const char *fmt, ...) {
  size_t at = strlen(d->log);
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(d->log + at, sizeof(d->log) - at, fmt, ap);
  va_end(ap);
}

#define AT(t) ((unsigned)((t) / MLFQ_NS_PER_MS))

static uint64_t next_arrival(void *ud) {
  drv_t *d = ud;

  return d->next < d->n ? d->j[d->next].arrival_ns : MLFQ_POINT_NONE;
}

static int arrive(void *ud, uint64_t t) {
  drv_t *d = ud;
  mlfq_job_t *j = &d->j[d->next++];

  say(d, "a%u@%u ", (unsigned)j->id, AT(t));
  /* two schedulers: even ids to the first, odd to the second */
  return mlfq_sched_submit(d->s[d->s[1] != NULL ? j->id % 2 : 0], j, t);
}

static void ended(void *ud, unsigned e, uint64_t t, mlfq_job_t *const *out,
                  unsigned n) {
  drv_t *d = ud;
  unsigned i;

  say(d, "e%u@%u", e, AT(t));
  for (i = 0; i < n; i++)
    say(d, ":%u", (unsigned)out[i]->id);
  say(d, " ");
}

static int started(void *ud, unsigned e, uint64_t t, uint64_t dur,
                   uint64_t end) {
  drv_t *d = ud;

  ASSERT_EQ_U64(end, t + dur);
  say(d, "s%u@%u ", e, AT(t));
  if (d->fail_start)
    return MLFQ_ERANGE;
  if (d->instant)
    mlfq_point_report(&d->pt, e);
  return 0;
}

static void picked(void *ud, unsigned r, uint64_t t) {
  say(ud, "p%u@%u ", r, AT(t));
}

static const mlfq_point_ops_t ops = {next_arrival, arrive, ended, started,
                                     picked};

static void drv_init(drv_t *d, const char *policy, unsigned workers,
                     unsigned nsched, int instant) {
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];
  unsigned r;

  memset(d, 0, sizeof(*d));
  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1)); /* 1 ms a token, 1 ms decode */
  mlfq_sched_config_init(&cfg);
  cfg.policy = policy;
  cfg.quantum_ms = 1;
  cfg.workers = workers;
  for (r = 0; r < nsched; r++) {
    d->s[r] = mlfq_sched_new(&cfg, &cost, err, sizeof(err));
    ASSERT(d->s[r] != NULL);
  }
  mlfq_cost_free(&cost);
  ASSERT_OK(mlfq_point_init(&d->pt, d->s, nsched, &ops, d));
  d->instant = instant;
}

static void drv_job(drv_t *d, uint64_t at, uint32_t in, uint32_t out) {
  mlfq_job_t *j = &d->j[d->n];

  ASSERT(d->n < MAXJ);
  memset(j, 0, sizeof(*j));
  j->id = d->n++;
  j->arrival_ns = at;
  j->input_len = in;
  j->output_len = out;
}

static void drv_free(drv_t *d) {
  mlfq_point_free(&d->pt);
  mlfq_sched_free(d->s[0]);
  mlfq_sched_free(d->s[1]);
}

TEST(point, arrivals_then_ends_then_picks_in_engine_order) {
  drv_t d;

  drv_init(&d, "fcfs", 2, 1, 1);
  drv_job(&d, 0, 1, 2); /* 0 and 1 start at 0 and end at 1 */
  drv_job(&d, 0, 1, 1);
  drv_job(&d, MS(1), 2, 1); /* arrives as they end: enqueued first */
  ASSERT_OK(mlfq_point_run(&d.pt));
  /* At 1, job 1 is done and job 0 (decoding) comes before job 2 in fcfs:
   * engine 0 takes job 0, engine 1 job 2. */
  ASSERT_STR_EQ(d.log, "a0@0 a1@0 s0@0 s1@0 p0@0 "
                       "a2@1 e0@1:0 e1@1:1 s0@1 s1@1 p0@1 "
                       "e0@2:0 p0@2 e1@3:2 p0@3 ");
  ASSERT_EQ_U64(d.j[0].finish_ns, MS(2));
  ASSERT_EQ_U64(d.j[2].finish_ns, MS(3));
  ASSERT_EQ_U64(d.pt.now, MS(3));
  ASSERT_EQ_U64(mlfq_point_end(&d.pt, 0), MLFQ_POINT_NONE);
  drv_free(&d);
}

TEST(point, schedulers_share_the_order_of_a_time) {
  drv_t d;

  /* Two schedulers of one engine each: every arrival first, then every
   * end, then each scheduler picks in turn. */
  drv_init(&d, "fcfs", 1, 2, 1);
  drv_job(&d, 0, 1, 1);
  drv_job(&d, 0, 1, 1);
  drv_job(&d, MS(1), 1, 1);
  drv_job(&d, MS(1), 1, 1);
  ASSERT_OK(mlfq_point_run(&d.pt));
  ASSERT_STR_EQ(d.log, "a0@0 a1@0 s0@0 p0@0 s1@0 p1@0 "
                       "a2@1 a3@1 e0@1:0 e1@1:1 s0@1 p0@1 s1@1 p1@1 "
                       "e0@2:2 e1@2:3 p0@2 p1@2 ");
  drv_free(&d);
}

TEST(point, an_end_waits_for_its_report) {
  drv_t d;

  drv_init(&d, "fcfs", 1, 1, 0);
  drv_job(&d, 0, 1, 2);     /* runs 0-1 (prefill), 1-2 (decode) */
  drv_job(&d, MS(1), 1, 1); /* at the end, not yet reported */
  drv_job(&d, MS(5), 1, 1); /* after it */
  ASSERT_OK(mlfq_point_run(&d.pt));
  /* The arrival at the end's time is submitted; the end waits. */
  ASSERT_STR_EQ(d.log, "a0@0 s0@0 p0@0 a1@1 ");
  ASSERT_EQ_U64(d.pt.now, MS(1));
  ASSERT_EQ_U64(mlfq_point_end(&d.pt, 0), MS(1));
  ASSERT_OK(mlfq_point_run(&d.pt)); /* nothing new: still waiting */
  ASSERT_STR_EQ(d.log, "a0@0 s0@0 p0@0 a1@1 ");
  d.log[0] = '\0';
  mlfq_point_report(&d.pt, 0);
  ASSERT_OK(mlfq_point_run(&d.pt));
  ASSERT_STR_EQ(d.log, "e0@1:0 s0@1 p0@1 ");
  d.log[0] = '\0';
  mlfq_point_report(&d.pt, 0);
  ASSERT_OK(mlfq_point_run(&d.pt));
  /* The arrival at 5 waits for the end at 2 to be reported, not the
   * other way round. */
  ASSERT_STR_EQ(d.log, "e0@2:0 s0@2 p0@2 ");
  d.log[0] = '\0';
  mlfq_point_report(&d.pt, 0);
  ASSERT_OK(mlfq_point_run(&d.pt));
  ASSERT_STR_EQ(d.log, "e0@3:1 p0@3 a2@5 s0@5 p0@5 ");
  d.log[0] = '\0';
  mlfq_point_report(&d.pt, 0);
  ASSERT_OK(mlfq_point_run(&d.pt));
  ASSERT_STR_EQ(d.log, "e0@6:2 p0@6 ");
  drv_free(&d);
}

TEST(point, started_error_stops_the_run) {
  drv_t d;

  drv_init(&d, "fcfs", 1, 1, 1);
  drv_job(&d, 0, 1, 1);
  drv_job(&d, MS(9), 1, 1);
  d.fail_start = 1;
  ASSERT_EQ(mlfq_point_run(&d.pt), MLFQ_ERANGE);
  ASSERT_STR_EQ(d.log, "a0@0 s0@0 ");
  ASSERT_EQ(d.next, 1);
  drv_free(&d);
}

/* Runs d to the end, reporting ends only when the point waits for them and
 * then only the earliest ones, as engine threads waking in time order. */
static void run_late(drv_t *d, unsigned engines) {
  uint64_t tc;
  unsigned e, rounds = 0;

  for (;;) {
    ASSERT_OK(mlfq_point_run(&d->pt));
    tc = MLFQ_POINT_NONE;
    for (e = 0; e < engines; e++)
      if (mlfq_point_end(&d->pt, e) < tc)
        tc = mlfq_point_end(&d->pt, e);
    if (tc == MLFQ_POINT_NONE)
      break;
    for (e = 0; e < engines; e++)
      if (mlfq_point_end(&d->pt, e) == tc)
        mlfq_point_report(&d->pt, e);
    ASSERT(++rounds < 1000000);
  }
  ASSERT_EQ(d->next, d->n);
}

TEST(point, late_reports_compute_what_the_simulator_computes) {
  static const char *const policies[] = {"fcfs", "naive-mlfq", "mlfq", "srpt"};
  mlfq_sched_config_t cfg;
  mlfq_sim_result_t res;
  mlfq_req_t reqs[MAXJ];
  mlfq_cost_t cost;
  mlfq_rng_t rng;
  uint64_t t = 0;
  size_t i, k, n = 200;
  char err[256];
  drv_t *d = malloc(sizeof(*d));

  ASSERT(d != NULL);
  mlfq_rng_seed(&rng, 14, 0);
  for (k = 0; k < 4; k++) {
    drv_init(d, policies[k], 3, 1, 0);
    for (i = 0; i < n; i++) {
      t += mlfq_rng_below(&rng, 4) == 0 ? 0 : mlfq_rng_below(&rng, MS(3));
      drv_job(d, t, 1 + (uint32_t)mlfq_rng_below(&rng, 8),
              1 + (uint32_t)mlfq_rng_below(&rng, 6));
      reqs[i].arrival_ns = d->j[i].arrival_ns;
      reqs[i].input_len = d->j[i].input_len;
      reqs[i].output_len = d->j[i].output_len;
    }
    run_late(d, 3);

    ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
    cfg = *mlfq_sched_config(d->s[0]);
    ASSERT_OK(mlfq_sim_run(&cfg, &cost, reqs, n, NULL, &res, err, sizeof(err)));
    for (i = 0; i < n; i++) {
      ASSERT_EQ_U64(d->j[i].first_token_ns, res.jobs[i].first_token_ns);
      ASSERT_EQ_U64(d->j[i].finish_ns, res.jobs[i].finish_ns);
      ASSERT_EQ(d->j[i].demotions, res.jobs[i].demotions);
    }
    mlfq_sim_result_free(&res);
    mlfq_cost_free(&cost);
    drv_free(d);
  }
  free(d);
}
