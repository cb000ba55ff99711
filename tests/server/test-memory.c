/* Memory (KV cache) in the scheduler core (docs/MODEL.md, "Memory (KV
 * cache)"): invariants over randomized workloads for every policy, on_full
 * mode and preemption mode; hand-computed recompute and swap schedules; the
 * policies' choice of victim; mlfqsim's options and reports; the daemon's
 * Done, Stats and refusal of a request that can never fit. */
#include <signal.h>

#include "base/rng.h"
#include "base/units.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"
#include "load/sim.h"
#include "wire/wire.h"

#include "client.h"

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
 * each job holds what its state says. */
static void check_kv(const run_t *r) {
  const mlfq_sched_config_t *cfg = &r->sc->cfg;
  uint64_t sum = 0, cap = cfg->kv_capacity_tokens, base;
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
  }
  ASSERT_EQ_U64(st.kv_used, sum);
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

/* ---- victims ----------------------------------------------------------- */

static mlfq_sched_t *make(const char *policy, unsigned max_batch, uint64_t cap,
                          double quantum_ms, double rate, double prefill_ms,
                          mlfq_cost_t *cost) {
  mlfq_sched_config_t cfg;
  mlfq_sched_t *s;
  char err[256];

  ASSERT_OK(mlfq_cost_linear(cost, 0, prefill_ms, 1));
  mlfq_sched_config_init(&cfg);
  cfg.policy = policy;
  cfg.quantum_ms = quantum_ms;
  cfg.quantum_rate = rate;
  cfg.max_batch = max_batch;
  cfg.kv_capacity_tokens = cap;
  cfg.on_full = MLFQ_ON_FULL_RECOMPUTE;
  s = mlfq_sched_new(&cfg, cost, err, sizeof(err));
  if (s == NULL)
    MLFQ_TEST_FAIL("%s", err);
  return s;
}

static void job(mlfq_job_t *j, uint64_t id, uint32_t in, uint32_t out) {
  memset(j, 0, sizeof(*j));
  j->id = id;
  j->input_len = in;
  j->output_len = out;
}

/* mlfq: P and Q (prefill 20 ms) join level 4, R (3 ms) level 2; one batch
 * of the three (43 ms) demotes R to level 3 and keeps P and Q in level 4
 * in that order. S arrives in level 1 and needs 2 tokens, 1 is free: the
 * victim is Q, in the lowest level and scheduled last there; not P, nor R
 * (the latest arrival of the three). */
TEST(memory, mlfq_evicts_the_last_of_the_lowest_level) {
  mlfq_job_t p, q, r, sj, *out[3];
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  uint64_t dur;

  /* quanta 1, 4, 16, 64 ms */
  s = make("mlfq", 3, 47, 1, 4, 1, &cost);
  job(&p, 0, 20, 5);
  job(&q, 1, 20, 5);
  job(&r, 2, 3, 5);
  job(&sj, 3, 1, 5);
  ASSERT_OK(mlfq_sched_submit(s, &p, 0));
  ASSERT_OK(mlfq_sched_submit(s, &q, 0));
  ASSERT_OK(mlfq_sched_submit(s, &r, 0));
  ASSERT_EQ(p.level, 3);
  ASSERT_EQ(q.level, 3);
  ASSERT_EQ(r.level, 1);
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 3);
  ASSERT_EQ_U64(dur, MS(43));
  ASSERT_EQ(mlfq_sched_complete(s, 0, MS(43), out), 3);
  ASSERT_EQ(r.level, 2);
  ASSERT_OK(mlfq_sched_submit(s, &sj, MS(43)));
  ASSERT_EQ(sj.level, 0);
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, MS(43), &dur), 3);
  ASSERT_EQ(q.preemptions, 1);
  ASSERT_EQ(p.preemptions, 0);
  ASSERT_EQ(r.preemptions, 0);
  ASSERT_EQ_U64(q._kv, 0);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}

/* fcfs: A, B (the largest) and C run a first batch and fill the cache; at
 * the next, A's new slot evicts C, the latest arrival. */
TEST(memory, fcfs_evicts_the_latest_arrival) {
  mlfq_job_t a, b, c, *out[3];
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  uint64_t dur;

  s = make("fcfs", 3, 2 + 9 + 3, 1, 2, 1, &cost);
  job(&a, 0, 1, 4);
  job(&b, 1, 8, 4);
  job(&c, 2, 2, 4);
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  ASSERT_OK(mlfq_sched_submit(s, &c, 0));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 3);
  ASSERT_EQ(mlfq_sched_complete(s, 0, dur, out), 3);
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, dur, &dur), 2); /* A and B */
  ASSERT_EQ(c.preemptions, 1);
  ASSERT_EQ(b.preemptions, 0);
  ASSERT_EQ(a.preemptions, 0);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}

/* srpt: B (longest remaining), C and A run a first batch; D arrives with
 * the least remaining time and needs room: B is evicted, not A (the latest
 * arrival) nor C (the most KV). Linear model: 0.1 ms per prompt token, 1 ms
 * per decode. */
TEST(memory, srpt_evicts_the_longest_remaining) {
  mlfq_job_t a, b, c, d, *out[3];
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  uint64_t dur, t;

  s = make("srpt", 3, 25, 1, 2, 0.1, &cost);
  job(&b, 0, 1, 8);  /* remaining after one token: 7 ms */
  job(&c, 1, 10, 4); /* 3 ms */
  job(&a, 2, 10, 3); /* 2 ms */
  job(&d, 3, 1, 2);  /* 0.1 + 1 ms */
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  ASSERT_OK(mlfq_sched_submit(s, &c, 0));
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 3);
  t = dur;
  ASSERT_EQ(mlfq_sched_complete(s, 0, t, out), 3);
  ASSERT_OK(mlfq_sched_submit(s, &d, t));           /* 24 of 25 in use */
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, t, &dur), 2); /* D and A */
  ASSERT_EQ(b.preemptions, 1);
  ASSERT_EQ(c.preemptions, 0);
  ASSERT_EQ(a.preemptions, 0);
  ASSERT_EQ(d.preemptions, 0);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}

/* A job whose footprint exceeds the capacity could never run. */
TEST(memory, submit_refuses_a_job_too_large) {
  mlfq_job_t a, b;
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  mlfq_sched_stats_t st;

  s = make("mlfq", 1, 10, 1, 2, 1, &cost);
  job(&a, 0, 5, 6);
  job(&b, 1, 5, 5);
  ASSERT_EQ(mlfq_sched_submit(s, &a, 0), MLFQ_EINVAL);
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.submitted, 1);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}

/* Cancelling frees the job's KV at once, running or resident. */
TEST(memory, cancel_frees_kv) {
  mlfq_job_t a, b, *out[2];
  mlfq_sched_stats_t st;
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  uint64_t dur;

  s = make("fcfs", 2, 20, 1, 2, 1, &cost);
  job(&a, 0, 4, 5);
  job(&b, 1, 3, 5);
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 2);
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_used, 9);
  ASSERT_OK(mlfq_sched_cancel(s, &a, 1)); /* running */
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_used, 4);
  ASSERT_EQ(mlfq_sched_complete(s, 0, dur, out), 1);
  ASSERT_OK(mlfq_sched_cancel(s, &b, dur)); /* resident */
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_used, 0);
  ASSERT_EQ_U64(st.kv_peak, 9);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}

/* ---- mlfqsim ------------------------------------------------------------ */

#define SIM MLFQ_BIN_DIR "/mlfqsim"

static void expect_sim_error(char **argv, const char *msg) {
  char *out, *err;

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  ASSERT_CONTAINS(err, msg);
  ASSERT(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
  ASSERT_STR_EQ(out, "");
  free(out);
  free(err);
}

TEST(memory, mlfqsim_bad_values_exit_2) {
  char *a1[] = {SIM, "--on-full", "evict", NULL};
  char *a2[] = {SIM, "--swap-ms-per-token", "-1", NULL};
  char *a3[] = {SIM, "--kv-capacity-tokens", "lots", NULL};
  char *a4[] = {SIM, "--kv-capacity-tokens", "-5", NULL};
  char *a5[] = {
      SIM, "--workload", MLFQ_DATA_DIR "/figure6.csv", "--kv-capacity-tokens",
      "6", NULL};

  expect_sim_error(a1, "--on-full: 'evict' is not defer, recompute or swap");
  expect_sim_error(a2, "--swap-ms-per-token: -1 is not in");
  expect_sim_error(a3, "--kv-capacity-tokens: 'lots' is not a whole number");
  expect_sim_error(a4, "--kv-capacity-tokens:");
  /* J1 (5 + 2 tokens) can never fit in 6 */
  expect_sim_error(a5, "request 0: needs 7 KV tokens (input_length 5 + "
                       "output_length 2), more than the KV capacity of 6");
}

/* The options parse, a small capacity shows in the table, the per-job CSV
 * and the JSON, and the per-job counts add up to the totals. */
TEST(memory, mlfqsim_reports_preemptions) {
  char dir[] = "/tmp/mlfq-mem-XXXXXX", jobs[256], json[256], cmd[300];
  char *argv[] = {SIM,
                  "--workload",
                  MLFQ_DATA_DIR "/appendix_b.csv",
                  "--rate",
                  "20",
                  "--max-batch",
                  "8",
                  "--policy",
                  "fcfs,mlfq",
                  "--kv-capacity-tokens",
                  "4096",
                  "--on-full",
                  "swap",
                  "--swap-ms-per-token",
                  "0.002",
                  "--jobs-csv",
                  jobs,
                  "--json",
                  json,
                  NULL};
  char *out, *text, *line, *save = NULL, *comma, path[300], row[256];
  unsigned long long total_pre = 0, total_sw = 0, a, b;
  unsigned n = 0;

  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(json, sizeof(json), "%s/run.json", dir);
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  ASSERT_CONTAINS(out, "KV cache: 4096 tokens, on full: swap, 0.002 ms per "
                       "token moved\n");
  mlfq_test_find_line(out, "preemptions  ", row, sizeof(row));
  ASSERT_EQ(sscanf(row, "preemptions %llu %llu", &a, &b), 2);
  ASSERT_GT(b, 0); /* mlfq */
  mlfq_test_find_line(out, "KV peak (tokens)", row, sizeof(row));
  ASSERT_CONTAINS(row, "4096");

  snprintf(path, sizeof(path), "%s/jobs-mlfq.csv", dir);
  text = mlfq_test_slurp(path);
  line = strtok_r(text, "\n", &save);
  ASSERT_STR_EQ(line, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms,preemptions,"
                      "swapped_tokens");
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    comma = strrchr(line, ','); /* ...,preemptions,swapped_tokens */
    total_sw += strtoull(comma + 1, NULL, 10);
    *comma = '\0';
    total_pre += strtoull(strrchr(line, ',') + 1, NULL, 10);
    n++;
  }
  ASSERT_EQ(n, 99);
  ASSERT_EQ_U64(total_pre, b);
  ASSERT_GT(total_sw, 0);
  free(text);

  text = mlfq_test_slurp(json);
  ASSERT_CONTAINS(text, "\"kv_capacity_tokens\":\t4096");
  ASSERT_CONTAINS(text, "\"on_full\":\t\"swap\"");
  ASSERT_CONTAINS(text, "\"preemption_rate\":");
  ASSERT_CONTAINS(text, "\"kv_peak_tokens\":\t4096");
  free(text);
  free(out);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}

/* Without a capacity nothing of the memory shows: the output is as it was
 * before the KV cache existed. */
TEST(memory, mlfqsim_without_capacity_unchanged) {
  char *a1[] = {SIM,      "--workload", MLFQ_DATA_DIR "/appendix_b.csv",
                "--rate", "20",         "--policy",
                "all",    NULL};
  char *a2[] = {SIM,
                "--workload",
                MLFQ_DATA_DIR "/appendix_b.csv",
                "--rate",
                "20",
                "--policy",
                "all",
                "--kv-capacity-tokens",
                "0",
                "--on-full",
                "recompute",
                NULL};
  char *o1, *o2;

  ASSERT_EQ(mlfq_test_run(a1, &o1, NULL, 30), 0);
  ASSERT_EQ(mlfq_test_run(a2, &o2, NULL, 30), 0);
  ASSERT_STR_EQ(o1, o2);
  ASSERT(strstr(o1, "preemptions") == NULL);
  ASSERT(strstr(o1, "KV") == NULL);
  free(o1);
  free(o2);
}

/* ---- the daemon --------------------------------------------------------- */

/* srpt, recompute, 210 tokens. A (10 in, 200 out) runs; B (200 in, 2 out)
 * arrives with less remaining time and needs 201 tokens while A holds at
 * least 11: A is evicted, B runs, A recomputes and finishes. */
TEST(memory, daemon_reports_preemptions_and_refuses_too_large) {
  const char *args[] = {"--decode-ms",
                        "1",
                        "--prefill-ms-per-token",
                        "0.01",
                        "--policy",
                        "srpt",
                        "--kv-capacity-tokens",
                        "210",
                        "--on-full",
                        "recompute",
                        NULL};
  mlfq_test_daemon_t d;
  Mlfq__ServerMessage *m;
  tc_client_t *c;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  tc_submit(c, 1, 10, 200);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_TOKEN, 1); /* A has run */
  tc_submit(c, 2, 200, 2);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 2);
  ASSERT_EQ(m->done->preemptions, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(m->done->preemptions, 1);
  ASSERT_EQ_U64(m->done->swapped_tokens, 0);
  ASSERT_EQ(m->done->iterations, 200);
  mlfq__server_message__free_unpacked(m, NULL);
  ASSERT_EQ(c->tokens[1], 200);

  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->preemptions, 1);
  ASSERT_EQ_U64(m->stats->swapped_tokens, 0);
  ASSERT_EQ_U64(m->stats->kv_used_tokens, 0);
  ASSERT_GT(m->stats->kv_peak_tokens, 200);
  ASSERT_LE_U64(m->stats->kv_peak_tokens, 210);
  ASSERT_EQ_U64(m->stats->config->kv_capacity_tokens, 210);
  ASSERT_STR_EQ(m->stats->config->on_full, "recompute");
  mlfq__server_message__free_unpacked(m, NULL);

  tc_submit(c, 3, 200, 11);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_ERROR, 3);
  ASSERT_EQ(m->error->code, MLFQ__ERROR_CODE__INVALID_REQUEST);
  ASSERT_CONTAINS(m->error->message, "needs 211 KV tokens");
  ASSERT_CONTAINS(m->error->message, "capacity is 210");
  mlfq__server_message__free_unpacked(m, NULL);
  tc_run(c, 4, 10, 3); /* the connection goes on */
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* loadgen against a daemon with a KV capacity: the memory rows (the peak
 * from a final Stats), the per-job columns, and a model replay that
 * includes the KV cache. */
TEST(memory, loadgen_reports_memory) {
  const char *args[] = {
      "--decode-ms", "0.2",  "--prefill-ms-per-token", "0.002",
      "--max-batch", "4",    "--kv-capacity-tokens",   "300",
      "--on-full",   "swap", "--swap-ms-per-token",    "0.0001",
      NULL};
  char dir[] = "/tmp/mlfq-mem-lg-XXXXXX", jobs[256], cmd[300], line[256];
  char *argv[] = {MLFQ_BIN_DIR "/loadgen",
                  "--server",
                  NULL,
                  "--input-len",
                  "uniform:1:120",
                  "--output-len",
                  "uniform:1:40",
                  "--num-requests",
                  "60",
                  "--rate",
                  "inf",
                  "--quiet",
                  "--jobs-csv",
                  jobs,
                  NULL};
  unsigned long long peak;
  mlfq_test_daemon_t d;
  char *out, *text;

  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  mlfq_test_daemon_start(&d, args);
  argv[2] = d.addr;
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  mlfq_test_find_line(out, "preemptions  ", line, sizeof(line));
  mlfq_test_find_line(out, "swapped tokens", line, sizeof(line));
  mlfq_test_find_line(out, "KV peak (tokens)", line, sizeof(line));
  ASSERT_EQ(sscanf(line, "KV peak (tokens) %llu", &peak), 1);
  ASSERT_GT(peak, 0);
  ASSERT_LE_U64(peak, 300);
  ASSERT_CONTAINS(out, "model error: mean JCT");
  text = mlfq_test_slurp(jobs);
  *strchr(text, '\n') = '\0';
  ASSERT_STR_EQ(text, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms,status,preemptions,"
                      "swapped_tokens");
  free(text);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}
