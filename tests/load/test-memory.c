/* KV memory over simulated runs: invariants and hand-computed schedules. */
/* Memory (KV cache) in the scheduler core (docs/MODEL.md, "Memory (KV
 * cache)"): invariants over randomized workloads for every policy, on_full
 * mode and preemption mode, and hand-computed recompute and swap
 * schedules, run as the simulator runs them. */
#include "base/rng.h"
#include "base/units.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"
#include "load/sim.h"

#include "task.h"

#define MS(x) ((uint64_t)(x)*MLFQ_NS_PER_MS)
#define MAXJ 40

typedef struct {
  mlfq_req_t reqs[MAXJ];
  size_t n;
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  uint64_t max_foot, sum_foot;
} scenario_t;

/* What a run produced, to compare two runs exactly. */
typedef struct {
  uint64_t first[MAXJ], finish[MAXJ];
  uint64_t iterations, trace; /* FNV-1a of every iteration and its batch */
  uint64_t preemptions, swapped, peak;
} outcome_t;

static void mix(uint64_t *h, uint64_t v) {
  unsigned i;

  for (i = 0; i < 8; i++) {
    *h ^= (v >> (8 * i)) & 0xff;
    *h *= UINT64_C(1099511628211);
  }
}

/* The driver's view of a run, checked after every scheduler call. */
typedef struct {
  const scenario_t *sc;
  mlfq_sched_t *s;
  mlfq_job_t jobs[MAXJ];
  uint32_t seen[MAXJ];    /* tokens received so far */
  uint32_t ran_pre[MAXJ]; /* preemptions when it last joined a batch */
  uint64_t swapped[MAXJ]; /* tokens the test saw it move */
  uint32_t pre_before[MAXJ];
} run_t;

/* KV in use is the sum of what the jobs hold, within the capacity, and
 * each job holds what its state says; what is in host memory now is the
 * KV of the unfinished jobs swapped out. */
static void check_kv(const run_t *r) {
  const mlfq_sched_config_t *cfg = &r->sc->cfg;
  uint64_t sum = 0, cap = cfg->kv_capacity_tokens, base;
  uint64_t host_jobs = 0, host_tokens = 0;
  mlfq_sched_stats_t st;
  const mlfq_job_t *j;
  size_t i;

  mlfq_sched_stats(r->s, &st);
  for (i = 0; i < r->sc->n; i++) {
    j = &r->jobs[i];
    sum += j->_kv;
    base = (uint64_t)j->input_len + j->tokens;
    if (cap == 0 || j->_state != MLFQ_JOB_READY) {
      ASSERT_EQ_U64(j->_kv, 0);
    } else if (cfg->on_full == MLFQ_ON_FULL_DEFER) {
      ASSERT(j->_kv == 0 || j->_kv == mlfq_kv_footprint(j));
      ASSERT_EQ(j->preemptions, 0);
    } else if (j->_engine >= 0 && mlfq_sched_busy(r->s, (unsigned)j->_engine)) {
      ASSERT_EQ_U64(j->_kv, base + 1);
    } else if (j->_engine >= 0) {
      ASSERT_EQ_U64(j->_kv, base); /* kept, between iterations */
    } else {
      ASSERT(j->_kv == 0 || j->_kv == base);
    }
    ASSERT_EQ_U64(j->swapped_tokens, r->swapped[i]);
    if (j->_state == MLFQ_JOB_READY && j->_kvstate == MLFQ_KV_SWAPPED) {
      ASSERT_EQ_U64(j->_kv, 0);
      host_jobs++;
      host_tokens += base;
    }
  }
  ASSERT_EQ_U64(st.kv_used, sum);
  ASSERT_EQ_U64(st.kv_host_jobs, host_jobs);
  ASSERT_EQ_U64(st.kv_host_tokens, host_tokens);
  if (cap > 0) {
    ASSERT_LE_U64(st.kv_used, cap);
    ASSERT_LE_U64(st.kv_peak, cap);
  }
  if (cfg->on_full == MLFQ_ON_FULL_DEFER)
    ASSERT_EQ_U64(st.preemptions, 0);
  if (cfg->on_full != MLFQ_ON_FULL_SWAP)
    ASSERT_EQ_U64(st.swapped_tokens, 0);
}

/* Recomputes the duration of the iteration engine e just started: the cost
 * model's batch time, with the prompt and generated tokens of a job
 * resuming after recompute as prefill, plus the swap time of every token
 * moved out by this dispatch's evictions or in for its resumed jobs. */
static uint64_t expected_dur(run_t *r, unsigned e) {
  const mlfq_sched_config_t *cfg = &r->sc->cfg;
  uint64_t prefill = 0, maxdec = 0, d, moved = 0, swap_ns;
  mlfq_job_t *const *batch;
  uint32_t ndec = 0;
  unsigned n, k;
  mlfq_job_t *j;
  size_t i, id;
  int evicted;

  swap_ns = mlfq_sched_params(r->s)->swap_ns_per_token;
  for (i = 0; i < r->sc->n; i++) {
    j = &r->jobs[i];
    if (j->preemptions == r->pre_before[i])
      continue;
    ASSERT_EQ(j->preemptions, r->pre_before[i] + 1); /* once per dispatch */
    ASSERT(cfg->on_full != MLFQ_ON_FULL_DEFER);
    if (cfg->on_full == MLFQ_ON_FULL_SWAP) {
      moved += (uint64_t)j->input_len + j->tokens;
      r->swapped[i] += (uint64_t)j->input_len + j->tokens;
    }
  }
  batch = mlfq_sched_batch(r->s, e, &n, NULL, NULL);
  for (k = 0; k < n; k++) {
    j = batch[k];
    id = (size_t)j->id;
    evicted = j->preemptions > r->ran_pre[id];
    r->ran_pre[id] = j->preemptions;
    if (j->tokens == 0) {
      prefill += j->input_len;
    } else if (evicted && cfg->on_full == MLFQ_ON_FULL_RECOMPUTE) {
      prefill += (uint64_t)j->input_len + j->tokens;
    } else {
      ndec++;
      d = mlfq_cost_decode_ns(&r->sc->cost, j->input_len);
      if (d > maxdec)
        maxdec = d;
    }
    if (evicted && cfg->on_full == MLFQ_ON_FULL_SWAP) {
      moved += (uint64_t)j->input_len + j->tokens;
      r->swapped[id] += (uint64_t)j->input_len + j->tokens;
    }
  }
  return mlfq_cost_batch_ns(&r->sc->cost, prefill, maxdec, ndec) +
         moved * swap_ns;
}

/* Runs sc as the simulator does (arrivals, then iteration ends in engine
 * order, then idle engines pick), checking everything after every call. */
static void drive(const scenario_t *sc, outcome_t *o) {
  mlfq_job_t *out[16];
  uint64_t t, done[8], dur;
  unsigned e, k, nb, workers = sc->cfg.workers;
  mlfq_sched_stats_t st;
  mlfq_job_t *j;
  char err[256];
  size_t ai = 0, i, id;
  run_t r;

  ASSERT_LE(sc->cfg.max_batch, sizeof(out) / sizeof(out[0]));
  ASSERT_LE(workers, 8);
  memset(&r, 0, sizeof(r));
  memset(o, 0, sizeof(*o));
  o->trace = UINT64_C(14695981039346656037);
  r.sc = sc;
  r.s = mlfq_sched_new(&sc->cfg, &sc->cost, err, sizeof(err));
  if (r.s == NULL)
    MLFQ_TEST_FAIL("mlfq_sched_new: %s", err);
  for (e = 0; e < workers; e++)
    done[e] = UINT64_MAX;
  for (;;) {
    t = ai < sc->n ? sc->reqs[ai].arrival_ns : UINT64_MAX;
    for (e = 0; e < workers; e++)
      if (done[e] < t)
        t = done[e];
    if (t == UINT64_MAX)
      break;
    while (ai < sc->n && sc->reqs[ai].arrival_ns <= t) {
      j = &r.jobs[ai];
      j->id = ai;
      j->arrival_ns = sc->reqs[ai].arrival_ns;
      j->input_len = sc->reqs[ai].input_len;
      j->output_len = sc->reqs[ai].output_len;
      ASSERT_OK(mlfq_sched_submit(r.s, j, t));
      check_kv(&r);
      ai++;
    }
    for (e = 0; e < workers; e++) {
      if (done[e] != t)
        continue;
      done[e] = UINT64_MAX;
      nb = mlfq_sched_complete(r.s, e, t, out);
      for (k = 0; k < nb; k++) {
        id = (size_t)out[k]->id;
        /* A job resumes with its tokens: never one twice, none skipped. */
        ASSERT_EQ(out[k]->tokens, r.seen[id] + 1);
        r.seen[id] = out[k]->tokens;
        if (out[k]->tokens == 1)
          ASSERT_EQ_U64(out[k]->first_token_ns, t);
      }
      check_kv(&r);
    }
    for (e = 0; e < workers; e++) {
      if (mlfq_sched_busy(r.s, e))
        continue;
      for (i = 0; i < sc->n; i++)
        r.pre_before[i] = r.jobs[i].preemptions;
      nb = mlfq_sched_dispatch(r.s, e, t, &dur);
      if (nb == 0) {
        for (i = 0; i < sc->n; i++) /* no iteration, no eviction */
          ASSERT_EQ(r.jobs[i].preemptions, r.pre_before[i]);
        check_kv(&r);
        continue;
      }
      ASSERT_EQ_U64(dur, expected_dur(&r, e));
      check_kv(&r);
      done[e] = t + dur;
      mix(&o->trace, e);
      mix(&o->trace, t);
      mix(&o->trace, dur);
      for (k = 0; k < nb; k++)
        mix(&o->trace, mlfq_sched_batch(r.s, e, NULL, NULL, NULL)[k]->id);
    }
  }
  mlfq_sched_stats(r.s, &st);
  for (i = 0; i < sc->n; i++) {
    ASSERT_EQ(r.jobs[i]._state, MLFQ_JOB_DONE);
    ASSERT_EQ(r.seen[i], sc->reqs[i].output_len);
    o->first[i] = r.jobs[i].first_token_ns;
    o->finish[i] = r.jobs[i].finish_ns;
  }
  ASSERT_EQ_U64(st.completed, sc->n);
  ASSERT_EQ_U64(st.kv_used, 0);
  o->iterations = st.iterations;
  o->preemptions = st.preemptions;
  o->swapped = st.swapped_tokens;
  o->peak = st.kv_peak;
  mlfq_sched_free(r.s);
}

static void make_scenario(scenario_t *sc, uint64_t seed) {
  mlfq_rng_t r;
  mlfq_arrival_t a;
  uint64_t at[MAXJ], foot;
  size_t i;

  memset(sc, 0, sizeof(*sc));
  mlfq_rng_seed(&r, seed, 7);
  sc->n = 1 + (size_t)mlfq_rng_below(&r, MAXJ);
  memset(&a, 0, sizeof(a));
  a.dist = (mlfq_dist_t)mlfq_rng_below(&r, 3);
  a.rate = mlfq_rng_below(&r, 3) ? 5 + (double)mlfq_rng_below(&r, 300) : 0;
  a.cv = 0.5 + 3 * mlfq_rng_uniform(&r);
  a.seed = seed;
  mlfq_arrival_schedule(&a, at, sc->n);
  for (i = 0; i < sc->n; i++) {
    sc->reqs[i].arrival_ns = at[i];
    sc->reqs[i].input_len = 1 + (uint32_t)mlfq_rng_below(&r, 300);
    sc->reqs[i].output_len = 1 + (uint32_t)mlfq_rng_below(&r, 30);
    foot = (uint64_t)sc->reqs[i].input_len + sc->reqs[i].output_len;
    if (foot > sc->max_foot)
      sc->max_foot = foot;
    sc->sum_foot += foot;
  }
  mlfq_sched_config_init(&sc->cfg);
  sc->cfg.queues = 1 + (unsigned)mlfq_rng_below(&r, 6);
  sc->cfg.quantum_rate = 1 + (double)mlfq_rng_below(&r, 4);
  sc->cfg.starve_limit_ms = mlfq_rng_below(&r, 3) ? 0 : 40;
  sc->cfg.max_batch = 1 + (unsigned)mlfq_rng_below(&r, 16);
  sc->cfg.workers = 1 + (unsigned)mlfq_rng_below(&r, 3);
  sc->cfg.swap_ms_per_token = 0.001 * (double)mlfq_rng_below(&r, 20);
  switch (mlfq_rng_below(&r, 5)) { /* tight to loose */
  case 0:
    sc->cfg.kv_capacity_tokens = sc->max_foot;
    break;
  case 1:
    sc->cfg.kv_capacity_tokens = sc->max_foot + 1 + mlfq_rng_below(&r, 16);
    break;
  case 2:
    sc->cfg.kv_capacity_tokens = sc->max_foot * 2;
    break;
  case 3:
    sc->cfg.kv_capacity_tokens = sc->max_foot + sc->sum_foot / 4;
    break;
  default:
    sc->cfg.kv_capacity_tokens = sc->max_foot + sc->sum_foot / 2;
    break;
  }
  if (mlfq_rng_below(&r, 2)) {
    ASSERT_OK(mlfq_cost_default(&sc->cost));
  } else {
    ASSERT_OK(mlfq_cost_linear(&sc->cost, 0.5, 0.05, 2));
  }
  sc->cost.batch_decode_ms_per_seq = mlfq_rng_below(&r, 2) ? 0 : 0.25;
}

/* seeds workloads x every policy under on_full and preempt. */
static void sweep(mlfq_on_full_t on_full, mlfq_preempt_t preempt,
                  unsigned seeds) {
  const mlfq_policy_t *const *pol = mlfq_policy_all();
  uint64_t preemptions = 0;
  scenario_t sc;
  outcome_t o;
  unsigned s, p;

  for (s = 0; s < seeds; s++) {
    make_scenario(&sc, 20000 + s);
    sc.cfg.on_full = on_full;
    sc.cfg.preempt = preempt;
    for (p = 0; pol[p] != NULL; p++) {
      sc.cfg.policy = pol[p]->name;
      drive(&sc, &o);
      preemptions += o.preemptions;
      if (on_full == MLFQ_ON_FULL_DEFER)
        ASSERT_EQ_U64(o.preemptions, 0);
    }
    mlfq_cost_free(&sc.cost);
  }
  if (on_full != MLFQ_ON_FULL_DEFER)
    ASSERT_GT(preemptions, 0); /* the capacities were tight enough */
}

TEST(memory, invariants_defer_iteration) {
  sweep(MLFQ_ON_FULL_DEFER, MLFQ_PREEMPT_ITERATION, 500);
}

TEST(memory, invariants_defer_quantum) {
  sweep(MLFQ_ON_FULL_DEFER, MLFQ_PREEMPT_QUANTUM, 500);
}

TEST(memory, invariants_recompute_iteration) {
  sweep(MLFQ_ON_FULL_RECOMPUTE, MLFQ_PREEMPT_ITERATION, 500);
}

TEST(memory, invariants_recompute_quantum) {
  sweep(MLFQ_ON_FULL_RECOMPUTE, MLFQ_PREEMPT_QUANTUM, 500);
}

TEST(memory, invariants_swap_iteration) {
  sweep(MLFQ_ON_FULL_SWAP, MLFQ_PREEMPT_ITERATION, 500);
}

TEST(memory, invariants_swap_quantum) {
  sweep(MLFQ_ON_FULL_SWAP, MLFQ_PREEMPT_QUANTUM, 500);
}

/* A capacity that every job fits in at once changes nothing: the runs
 * equal the run without one, iteration by iteration. */
TEST(memory, unlimited_capacity_changes_nothing) {
  const mlfq_policy_t *const *pol = mlfq_policy_all();
  outcome_t none, big;
  scenario_t sc;
  unsigned s, p, m, f;
  size_t i;

  for (s = 0; s < 150; s++) {
    make_scenario(&sc, 40000 + s);
    for (p = 0; pol[p] != NULL; p++) {
      for (m = 0; m < 2; m++) {
        sc.cfg.policy = pol[p]->name;
        sc.cfg.preempt = m ? MLFQ_PREEMPT_QUANTUM : MLFQ_PREEMPT_ITERATION;
        sc.cfg.kv_capacity_tokens = 0;
        drive(&sc, &none);
        ASSERT_EQ_U64(none.peak, 0);
        for (f = 0; f < 3; f++) {
          sc.cfg.on_full = (mlfq_on_full_t)f;
          sc.cfg.kv_capacity_tokens = sc.sum_foot;
          drive(&sc, &big);
          ASSERT_EQ_U64(big.trace, none.trace);
          ASSERT_EQ_U64(big.iterations, none.iterations);
          ASSERT_EQ_U64(big.preemptions, 0);
          ASSERT_LE_U64(big.peak, sc.sum_foot);
          for (i = 0; i < sc.n; i++) {
            ASSERT_EQ_U64(big.first[i], none.first[i]);
            ASSERT_EQ_U64(big.finish[i], none.finish[i]);
          }
        }
      }
    }
    mlfq_cost_free(&sc.cost);
  }
}

/* ---- hand-computed schedules --------------------------------------------
 *
 * Linear model, 1 ms per prompt token, 1 ms per decode. A (4 in, 5 out) and
 * B (3 in, 3 out) arrive at 0; fcfs, max_batch 2, capacity 10.
 *   t=0  A and B prefill together (7 ms); they hold 4+1 and 3+1 = 9.
 *   t=7  A takes its slot (10 in use); B's does not fit and nothing is
 *        scheduled after it: A decodes alone (1 ms).
 *   t=8  A needs a slot, none is free: B (resident, after A) is evicted.
 *        B then needs 3+1+1 = 5, 3 are free: A alone.
 *   ...  A alone until it finishes at 11 (recompute) or 13 (swap).
 * Then B resumes: recompute prefills its 3 prompt tokens and its 1
 * generated token (4 ms); swap moves its 4 tokens back and decodes.
 */

typedef struct {
  uint64_t start[16], dur[16];
  unsigned batch[16];
  unsigned n;
} iters_t;

static void on_iteration(void *ud, unsigned e, uint64_t start, uint64_t dur,
                         mlfq_job_t *const *batch, unsigned n) {
  iters_t *it = ud;

  (void)e;
  ASSERT_LT(it->n, 16);
  it->start[it->n] = start;
  it->dur[it->n] = dur;
  it->batch[it->n] = n == 1 ? (unsigned)batch[0]->id : 99;
  it->n++;
}

static void run_ab(mlfq_on_full_t on_full, double swap_ms,
                   mlfq_sim_result_t *res, iters_t *it, mlfq_cost_t *cost) {
  static const mlfq_req_t reqs[2] = {{0, 4, 5}, {0, 3, 3}};
  mlfq_sched_config_t cfg;
  mlfq_sim_hooks_t hooks;
  char err[256];

  ASSERT_OK(mlfq_cost_linear(cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.policy = "fcfs";
  cfg.max_batch = 2;
  cfg.kv_capacity_tokens = 10;
  cfg.on_full = on_full;
  cfg.swap_ms_per_token = swap_ms;
  memset(&hooks, 0, sizeof(hooks));
  memset(it, 0, sizeof(*it));
  hooks.on_iteration = on_iteration;
  hooks.ud = it;
  ASSERT_OK(mlfq_sim_run(&cfg, cost, reqs, 2, &hooks, res, err, sizeof(err)));
}

TEST(memory, recompute_repeats_exactly_its_prefill) {
  mlfq_sim_result_t res;
  mlfq_cost_t cost;
  iters_t it;

  run_ab(MLFQ_ON_FULL_RECOMPUTE, 0, &res, &it, &cost);
  ASSERT_EQ(it.n, 7);
  ASSERT_EQ_U64(it.dur[0], MS(7)); /* both prefill */
  ASSERT_EQ_U64(it.start[5], MS(11));
  ASSERT_EQ(it.batch[5], 1); /* B resumes alone... */
  /* ...and its iteration is the batch time of 3 + 1 prefill tokens. */
  ASSERT_EQ_U64(it.dur[5], mlfq_cost_batch_ns(&cost, 4, 0, 0));
  ASSERT_EQ_U64(it.dur[5], MS(4));
  ASSERT_EQ_U64(it.dur[6], MS(1)); /* then decodes */
  ASSERT_EQ_U64(res.jobs[0].finish_ns, MS(11));
  ASSERT_EQ_U64(res.jobs[1].first_token_ns, MS(7));
  ASSERT_EQ_U64(res.jobs[1].finish_ns, MS(16));
  ASSERT_EQ(res.jobs[0].preemptions, 0);
  ASSERT_EQ(res.jobs[1].preemptions, 1);
  ASSERT_EQ_U64(res.jobs[1].swapped_tokens, 0);
  ASSERT_EQ_U64(res.stats.preemptions, 1);
  ASSERT_EQ_U64(res.stats.kv_peak, 10);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
}

TEST(memory, swap_charges_its_transfer_time) {
  mlfq_sim_result_t res;
  mlfq_cost_t cost;
  iters_t it;

  run_ab(MLFQ_ON_FULL_SWAP, 0.5, &res, &it, &cost);
  ASSERT_EQ(it.n, 7);
  /* t=8: A decodes (1 ms) and B's 4 tokens go out (4 * 0.5 ms). */
  ASSERT_EQ_U64(it.start[2], MS(8));
  ASSERT_EQ_U64(it.dur[2], mlfq_cost_batch_ns(&cost, 0, MS(1), 1) + 4 * 500000);
  ASSERT_EQ_U64(it.dur[2], MS(3));
  /* t=13: B's 4 tokens come back and it decodes. */
  ASSERT_EQ_U64(it.start[5], MS(13));
  ASSERT_EQ(it.batch[5], 1);
  ASSERT_EQ_U64(it.dur[5], MS(3));
  ASSERT_EQ_U64(it.dur[6], MS(1));
  ASSERT_EQ_U64(res.jobs[0].finish_ns, MS(13));
  ASSERT_EQ_U64(res.jobs[1].finish_ns, MS(17));
  ASSERT_EQ(res.jobs[1].preemptions, 1);
  ASSERT_EQ_U64(res.jobs[1].swapped_tokens, 8); /* out and back in */
  ASSERT_EQ_U64(res.jobs[0].swapped_tokens, 0);
  ASSERT_EQ_U64(res.stats.swapped_tokens, 8);
  ASSERT_EQ_U64(res.stats.preemptions, 1);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
}

/* Under defer a job waits until its whole footprint fits, and holds it to
 * the end: same A and B, capacity 10 < 9 + 6, so B waits for A. */
TEST(memory, defer_admits_the_whole_footprint) {
  mlfq_sim_result_t res;
  mlfq_cost_t cost;
  iters_t it;

  run_ab(MLFQ_ON_FULL_DEFER, 0, &res, &it, &cost);
  ASSERT_EQ_U64(it.dur[0], MS(4)); /* A alone */
  ASSERT_EQ_U64(res.jobs[0].finish_ns, MS(8));
  ASSERT_EQ_U64(res.jobs[1].first_token_ns, MS(11)); /* 8 + its prefill */
  ASSERT_EQ_U64(res.jobs[1].finish_ns, MS(13));
  ASSERT_EQ_U64(res.stats.preemptions, 0);
  ASSERT_EQ_U64(res.stats.kv_peak, 9);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
}
