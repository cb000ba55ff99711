/* Invariants of the scheduler core over randomized workloads: every policy,
 * both preempt modes, arrivals at once and spread out, max_batch 1 and
 * more, one engine and several, starvation prevention on and off. */
#include "base/rng.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"
#include "load/sim.h"
#include "load/workload.h"

#include "task.h"

#define MAXJ 80

typedef struct {
  const mlfq_cost_t *cost;
  unsigned max_batch;
  size_t n;
  const mlfq_req_t *reqs;
  uint32_t tokens[MAXJ];     /* seen so far per job */
  uint64_t busy_until[MAXJ]; /* end of the job's last iteration */
  uint64_t last_token_t;
  uint64_t total_dur;
  uint64_t points;
} check_t;

static void on_token(void *ud, size_t id, uint32_t token, uint64_t t) {
  check_t *c = ud;

  ASSERT(id < c->n);
  ASSERT_EQ(token, c->tokens[id] + 1);
  ASSERT_LE(token, c->reqs[id].output_len);
  ASSERT_LE_U64(c->last_token_t, t);
  c->tokens[id] = token;
  c->last_token_t = t;
}

/* Recomputes an iteration's duration from docs/MODEL.md, "Cost model" with the
 * test's own count of each job's tokens. */
static void on_iteration(void *ud, unsigned e, uint64_t start, uint64_t dur,
                         mlfq_job_t *const *batch, unsigned n) {
  check_t *c = ud;
  uint64_t prefill = 0, maxdec = 0, d;
  uint32_t ndec = 0;
  unsigned i, k;

  (void)e;
  ASSERT(n >= 1);
  ASSERT_LE(n, c->max_batch);
  for (i = 0; i < n; i++) {
    size_t id = (size_t)batch[i]->id;
    ASSERT_LE_U64(c->reqs[id].arrival_ns, start);
    ASSERT_LE_U64(c->busy_until[id], start);
    ASSERT_LT(c->tokens[id], c->reqs[id].output_len);
    for (k = 0; k < i; k++)
      ASSERT(batch[k] != batch[i]);
    c->busy_until[id] = start + dur;
    if (c->tokens[id] == 0) {
      prefill += c->reqs[id].input_len;
    } else {
      ndec++;
      d = mlfq_cost_decode_ns(c->cost, c->reqs[id].input_len);
      if (d > maxdec)
        maxdec = d;
    }
  }
  ASSERT_EQ_U64(dur, mlfq_cost_batch_ns(c->cost, prefill, maxdec, ndec));
  c->total_dur += dur;
}

/* No engine idles while a job waits. */
static void on_point(void *ud, const mlfq_sched_t *s, uint64_t now) {
  check_t *c = ud;
  mlfq_sched_stats_t st;
  unsigned e, levels, i;
  size_t in_levels = 0;

  (void)now;
  c->points++;
  mlfq_sched_stats(s, &st);
  if (st.waiting > 0)
    for (e = 0; e < mlfq_sched_params(s)->workers; e++)
      ASSERT(mlfq_sched_busy(s, e));
  levels = mlfq_sched_levels(s);
  for (i = 0; i < levels; i++)
    in_levels += mlfq_sched_level_len(s, i);
  ASSERT_EQ(in_levels, st.waiting + st.running);
}

typedef struct {
  mlfq_req_t reqs[MAXJ];
  size_t n;
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
} scenario_t;

static void make_scenario(scenario_t *sc, uint64_t seed, int spread) {
  mlfq_rng_t r;
  mlfq_arrival_t a;
  uint64_t at[MAXJ];
  size_t i;

  mlfq_rng_seed(&r, seed, 99);
  sc->n = 1 + (size_t)mlfq_rng_below(&r, MAXJ);
  memset(&a, 0, sizeof(a));
  a.dist = (mlfq_dist_t)mlfq_rng_below(&r, 3);
  a.rate = spread ? 5 + (double)mlfq_rng_below(&r, 200) : 0;
  a.cv = 0.5 + 3 * mlfq_rng_uniform(&r);
  a.seed = seed;
  mlfq_arrival_schedule(&a, at, sc->n);
  for (i = 0; i < sc->n; i++) {
    sc->reqs[i].arrival_ns = at[i];
    sc->reqs[i].input_len = 1 + (uint32_t)mlfq_rng_below(&r, 600);
    sc->reqs[i].output_len = 1 + (uint32_t)mlfq_rng_below(&r, 40);
  }
  mlfq_sched_config_init(&sc->cfg);
  sc->cfg.queues = 1 + (unsigned)mlfq_rng_below(&r, 8);
  sc->cfg.quantum_rate = 1 + (double)mlfq_rng_below(&r, 4);
  sc->cfg.starve_limit_ms = mlfq_rng_below(&r, 2) ? 0 : 50;
  if (mlfq_rng_below(&r, 2)) {
    ASSERT_OK(mlfq_cost_default(&sc->cost));
  } else {
    ASSERT_OK(mlfq_cost_linear(&sc->cost, 0.5, 0.05, 2));
  }
  sc->cost.batch_decode_ms_per_seq = mlfq_rng_below(&r, 2) ? 0 : 0.25;
}

static void run_checked(scenario_t *sc, mlfq_sim_result_t *res) {
  mlfq_sim_hooks_t hooks;
  check_t c;
  char err[256];
  uint64_t busy = 0, work = 0;
  size_t i;
  unsigned e;

  memset(&c, 0, sizeof(c));
  c.cost = &sc->cost;
  c.max_batch = sc->cfg.max_batch;
  c.n = sc->n;
  c.reqs = sc->reqs;
  hooks.on_token = on_token;
  hooks.on_iteration = on_iteration;
  hooks.on_point = on_point;
  hooks.ud = &c;
  ASSERT_OK(mlfq_sim_run(&sc->cfg, &sc->cost, sc->reqs, sc->n, &hooks, res, err,
                         sizeof(err)));
  for (i = 0; i < sc->n; i++) {
    ASSERT_EQ(c.tokens[i], sc->reqs[i].output_len);
    ASSERT_EQ(res->jobs[i].tokens, sc->reqs[i].output_len);
    ASSERT_LE_U64(res->jobs[i].arrival_ns, res->jobs[i].first_token_ns);
    ASSERT_LE_U64(res->jobs[i].first_token_ns, res->jobs[i].finish_ns);
    work += mlfq_cost_prefill_ns(&sc->cost, sc->reqs[i].input_len) +
            (uint64_t)(sc->reqs[i].output_len - 1) *
                mlfq_cost_decode_ns(&sc->cost, sc->reqs[i].input_len);
  }
  for (e = 0; e < res->workers; e++)
    busy += res->busy_ns[e];
  ASSERT_EQ_U64(busy, c.total_dur);
  if (sc->cfg.max_batch == 1)
    ASSERT_EQ_U64(busy, work); /* busy time is exactly the modeled work */
  ASSERT_EQ_U64(res->stats.completed, sc->n);
  ASSERT_EQ_U64(res->stats.running, 0);
  ASSERT_EQ_U64(res->stats.waiting, 0);
}

static void sweep(int spread, unsigned max_batch, unsigned workers,
                  unsigned seeds) {
  const mlfq_policy_t *const *pol = mlfq_policy_all();
  mlfq_sim_result_t res;
  scenario_t sc;
  unsigned s, p, m;

  for (s = 0; s < seeds; s++) {
    make_scenario(&sc, 1000 + s, spread);
    sc.cfg.max_batch = max_batch;
    sc.cfg.workers = workers;
    for (p = 0; pol[p] != NULL; p++) {
      for (m = 0; m < 2; m++) {
        sc.cfg.policy = pol[p]->name;
        sc.cfg.preempt = m ? MLFQ_PREEMPT_QUANTUM : MLFQ_PREEMPT_ITERATION;
        run_checked(&sc, &res);
        mlfq_sim_result_free(&res);
      }
    }
    mlfq_cost_free(&sc.cost);
  }
}

TEST(invariants, at_once_batch1_workers1) { sweep(0, 1, 1, 300); }

TEST(invariants, spread_batch1_workers1) { sweep(1, 1, 1, 300); }

TEST(invariants, at_once_batch8_workers1) { sweep(0, 8, 1, 200); }

TEST(invariants, spread_batch4_workers1) { sweep(1, 4, 1, 200); }

TEST(invariants, at_once_batch1_workers3) { sweep(0, 1, 3, 200); }

TEST(invariants, spread_batch3_workers2) { sweep(1, 3, 2, 200); }

TEST(invariants, spread_batch16_workers4) { sweep(1, 16, 4, 100); }

static double mean_jct(const mlfq_sim_result_t *res) {
  double total = 0;
  size_t i;

  for (i = 0; i < res->n; i++)
    total += (double)(res->jobs[i].finish_ns - res->jobs[i].arrival_ns);
  return total / (double)res->n;
}

/* With everything arriving at 0 on one engine of batch 1, SRPT minimises
 * the mean JCT: no policy beats it. */
TEST(invariants, srpt_is_a_lower_bound) {
  const mlfq_policy_t *const *pol = mlfq_policy_all();
  mlfq_sim_result_t res;
  scenario_t sc;
  double best;
  unsigned s, p, m;

  for (s = 0; s < 300; s++) {
    make_scenario(&sc, 5000 + s, 0);
    sc.cfg.policy = "srpt";
    run_checked(&sc, &res);
    best = mean_jct(&res);
    mlfq_sim_result_free(&res);
    for (p = 0; pol[p] != NULL; p++) {
      for (m = 0; m < 2; m++) {
        sc.cfg.policy = pol[p]->name;
        sc.cfg.preempt = m ? MLFQ_PREEMPT_QUANTUM : MLFQ_PREEMPT_ITERATION;
        run_checked(&sc, &res);
        ASSERT_LE_DBL(best, mean_jct(&res) + 1e-6);
        mlfq_sim_result_free(&res);
      }
    }
    mlfq_cost_free(&sc.cost);
  }
}

/* The same inputs give the same outputs, job by job. */
TEST(invariants, deterministic) {
  mlfq_sim_result_t a, b;
  scenario_t sc;
  unsigned s;
  size_t i;

  for (s = 0; s < 50; s++) {
    make_scenario(&sc, 9000 + s, 1);
    sc.cfg.max_batch = 4;
    sc.cfg.workers = 2;
    run_checked(&sc, &a);
    run_checked(&sc, &b);
    for (i = 0; i < sc.n; i++) {
      ASSERT_EQ_U64(a.jobs[i].first_token_ns, b.jobs[i].first_token_ns);
      ASSERT_EQ_U64(a.jobs[i].finish_ns, b.jobs[i].finish_ns);
    }
    mlfq_sim_result_free(&a);
    mlfq_sim_result_free(&b);
    mlfq_cost_free(&sc.cost);
  }
}
