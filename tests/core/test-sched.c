/* The scheduler core through its API: cancellation, validation, starvation
 * prevention and the two preemption modes on hand-checked schedules. */
#include "base/units.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"
#include "load/sim.h"

#include "task.h"

#define MS(x) ((uint64_t)(x)*MLFQ_NS_PER_MS)

static mlfq_sched_t *make(const char *policy, unsigned max_batch,
                          unsigned workers, mlfq_cost_t *cost) {
  mlfq_sched_config_t cfg;
  mlfq_sched_t *s;
  char err[256];

  ASSERT_OK(mlfq_cost_linear(cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.policy = policy;
  cfg.quantum_ms = 1;
  cfg.max_batch = max_batch;
  cfg.workers = workers;
  s = mlfq_sched_new(&cfg, cost, err, sizeof(err));
  ASSERT(s != NULL);
  return s;
}

static void job(mlfq_job_t *j, uint64_t id, uint32_t in, uint32_t out) {
  memset(j, 0, sizeof(*j));
  j->id = id;
  j->input_len = in;
  j->output_len = out;
}

TEST(sched, bad_configs_are_refused) {
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];

  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.policy = "lifo";
  ASSERT(mlfq_sched_new(&cfg, &cost, err, sizeof(err)) == NULL);
  ASSERT_CONTAINS(err, "unknown 'lifo'");
  mlfq_sched_config_init(&cfg);
  cfg.queues = 0;
  ASSERT(mlfq_sched_new(&cfg, &cost, err, sizeof(err)) == NULL);
  ASSERT_CONTAINS(err, "queues");
  mlfq_sched_config_init(&cfg);
  cfg.quantum_rate = 0.5;
  ASSERT(mlfq_sched_new(&cfg, &cost, err, sizeof(err)) == NULL);
  ASSERT_CONTAINS(err, "quantum-rate");
  mlfq_sched_config_init(&cfg);
  cfg.max_batch = 0;
  ASSERT(mlfq_sched_new(&cfg, &cost, err, sizeof(err)) == NULL);
  ASSERT_CONTAINS(err, "max-batch");
  mlfq_sched_config_init(&cfg);
  cfg.workers = 0;
  ASSERT(mlfq_sched_new(&cfg, &cost, err, sizeof(err)) == NULL);
  ASSERT_CONTAINS(err, "workers");
}

TEST(sched, default_quantum_is_smallest_decode) {
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t p;
  mlfq_cost_t cost;
  char err[256];

  ASSERT_OK(mlfq_cost_default(&cost));
  mlfq_sched_config_init(&cfg);
  ASSERT_OK(mlfq_sched_resolve(&p, &cfg, &cost, err, sizeof(err)));
  ASSERT_EQ(p.queues, 4);
  ASSERT_EQ_U64(p.quantum_ns[0], 5110000);
  ASSERT_EQ_U64(p.quantum_ns[1], 10220000);
  ASSERT_EQ_U64(p.quantum_ns[3], 40880000);
  mlfq_cost_free(&cost);
}

TEST(sched, submit_validates) {
  mlfq_cost_t cost;
  mlfq_sched_t *s = make("mlfq", 1, 1, &cost);
  mlfq_job_t a, b;

  job(&a, 0, 0, 1);
  ASSERT_EQ(mlfq_sched_submit(s, &a, 0), MLFQ_EINVAL);
  job(&b, 1, 1, 0);
  ASSERT_EQ(mlfq_sched_submit(s, &b, 0), MLFQ_EINVAL);
  job(&a, 0, 3, 2);
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_EQ(mlfq_sched_submit(s, &a, 0), MLFQ_EINVAL); /* already in */
  mlfq_sched_free(s);
}

TEST(sched, cancel_waiting_job) {
  mlfq_cost_t cost;
  mlfq_sched_t *s = make("fcfs", 1, 1, &cost);
  mlfq_job_t a, b, *out[1];
  mlfq_sched_stats_t st;
  uint64_t dur;

  job(&a, 0, 2, 1);
  job(&b, 1, 3, 1);
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  ASSERT_EQ(mlfq_sched_level_len(s, 0), 2);
  ASSERT_OK(mlfq_sched_cancel(s, &a, 0));
  ASSERT_EQ(mlfq_sched_cancel(s, &a, 0), MLFQ_ESTATE);
  ASSERT_EQ(mlfq_sched_level_len(s, 0), 1);
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 1);
  ASSERT_EQ_U64(dur, MS(3)); /* b's prefill: a is gone */
  ASSERT_EQ(mlfq_sched_complete(s, 0, MS(3), out), 1);
  ASSERT(out[0] == &b);
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.cancelled, 1);
  ASSERT_EQ_U64(st.completed, 1);
  ASSERT_EQ(st.waiting, 0);
  mlfq_sched_free(s);
}

/* A running job cancelled mid-iteration leaves its batch at once; the
 * iteration runs to its modeled end without it. */
TEST(sched, cancel_running_job) {
  mlfq_cost_t cost;
  mlfq_sched_t *s = make("fcfs", 2, 1, &cost);
  mlfq_job_t a, b, *out[2];
  mlfq_job_t *const *batch;
  mlfq_sched_stats_t st;
  uint64_t dur;
  unsigned n;

  job(&a, 0, 2, 3);
  job(&b, 1, 3, 3);
  ASSERT_OK(mlfq_sched_submit(s, &a, 0));
  ASSERT_OK(mlfq_sched_submit(s, &b, 0));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 2);
  ASSERT_EQ_U64(dur, MS(5)); /* one prefill of 5 prompt tokens */
  ASSERT_OK(mlfq_sched_cancel(s, &a, MS(1)));
  batch = mlfq_sched_batch(s, 0, &n, NULL, &dur);
  ASSERT_EQ(n, 1);
  ASSERT(batch[0] == &b);
  ASSERT_EQ_U64(dur, MS(5));
  mlfq_sched_stats(s, &st);
  ASSERT_EQ(st.running, 1);
  ASSERT_EQ(mlfq_sched_complete(s, 0, MS(5), out), 1);
  ASSERT(out[0] == &b);
  ASSERT_EQ(b.tokens, 1);
  ASSERT_EQ(a.tokens, 0);
  mlfq_sched_free(s);
}

/* Records the token times of job 0. */
typedef struct {
  uint64_t t[16];
  unsigned n;
} times_t;

static void on_token(void *ud, size_t id, uint32_t token, uint64_t t) {
  times_t *tt = ud;

  (void)token;
  if (id == 0 && tt->n < 16)
    tt->t[tt->n++] = t;
}

/* Job 0 (1 prompt token, 4 output) is demoted to level 2 after its prefill;
 * jobs 1..20 (1 prompt token, 1 output) arrive every ms from 1 ms and keep
 * level 1 busy until 21 ms. With a 5 ms starvation limit, job 0 is
 * promoted whenever it has waited more than 5 ms. */
static void starvation(double limit_ms, const uint64_t *want, unsigned nwant,
                       uint64_t promotions) {
  mlfq_sched_config_t cfg;
  mlfq_sim_hooks_t hooks;
  mlfq_sim_result_t res;
  mlfq_req_t reqs[21];
  mlfq_cost_t cost;
  times_t tt;
  char err[256];
  unsigned i;

  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.queues = 2;
  cfg.quantum_ms = 1;
  cfg.starve_limit_ms = limit_ms;
  reqs[0] = (mlfq_req_t){0, 1, 4};
  for (i = 1; i <= 20; i++)
    reqs[i] = (mlfq_req_t){MS(i), 1, 1};
  memset(&tt, 0, sizeof(tt));
  memset(&hooks, 0, sizeof(hooks));
  hooks.on_token = on_token;
  hooks.ud = &tt;
  ASSERT_OK(
      mlfq_sim_run(&cfg, &cost, reqs, 21, &hooks, &res, err, sizeof(err)));
  ASSERT_EQ(tt.n, nwant);
  for (i = 0; i < nwant; i++)
    ASSERT_EQ_U64(tt.t[i], MS(want[i]));
  ASSERT_EQ(res.jobs[0].promotions, promotions);
  ASSERT_EQ_U64(res.stats.promotions, promotions);
  mlfq_sim_result_free(&res);
}

TEST(sched, starvation_prevention_promotes) {
  static const uint64_t want[] = {1, 9, 18, 24};
  starvation(5, want, 4, 2);
}

TEST(sched, starvation_off_lets_job_wait) {
  static const uint64_t want[] = {1, 22, 23, 24};
  starvation(0, want, 4, 0);
}

/* Job 0 (1 prompt token, 6 output) sits in level 2 (quantum 4 ms) when job
 * 1 arrives at 2 ms in level 1. Under preempt=iteration job 1 runs at the
 * next boundary; under preempt=quantum only when job 0 has used its
 * quantum. */
static void preempt_mode(mlfq_preempt_t mode, uint64_t finish0,
                         uint64_t finish1) {
  mlfq_sched_config_t cfg;
  mlfq_sim_result_t res;
  mlfq_req_t reqs[2] = {{0, 1, 6}, {MS(2), 1, 1}};
  mlfq_cost_t cost;
  char err[256];

  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.queues = 2;
  cfg.quantum_ms = 1;
  cfg.quantum_rate = 4;
  cfg.preempt = mode;
  ASSERT_OK(mlfq_sim_run(&cfg, &cost, reqs, 2, NULL, &res, err, sizeof(err)));
  ASSERT_EQ_U64(res.jobs[0].finish_ns, MS(finish0));
  ASSERT_EQ_U64(res.jobs[1].finish_ns, MS(finish1));
  mlfq_sim_result_free(&res);
}

TEST(sched, preempt_iteration_lets_new_job_in) {
  preempt_mode(MLFQ_PREEMPT_ITERATION, 7, 3);
}

TEST(sched, preempt_quantum_keeps_engine) {
  preempt_mode(MLFQ_PREEMPT_QUANTUM, 7, 6);
}

/* Two engines pick in engine order, each filling its batch before the next
 * picks; a job never runs on two engines at once. */
TEST(sched, engines_fill_in_order) {
  mlfq_cost_t cost;
  mlfq_sched_t *s = make("fcfs", 2, 2, &cost);
  mlfq_job_t j[5], *out[2];
  mlfq_job_t *const *b0, *const *b1;
  uint64_t dur;
  unsigned i, n0, n1;

  for (i = 0; i < 5; i++) {
    job(&j[i], i, 1, 2);
    ASSERT_OK(mlfq_sched_submit(s, &j[i], 0));
  }
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 2);
  ASSERT_EQ(mlfq_sched_dispatch(s, 1, 0, &dur), 2);
  b0 = mlfq_sched_batch(s, 0, &n0, NULL, NULL);
  b1 = mlfq_sched_batch(s, 1, &n1, NULL, NULL);
  ASSERT(b0[0] == &j[0] && b0[1] == &j[1]);
  ASSERT(b1[0] == &j[2] && b1[1] == &j[3]);
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 0); /* busy */
  ASSERT_EQ(mlfq_sched_complete(s, 0, MS(2), out), 2);
  /* fcfs keeps the earliest jobs: engine 0 takes j0 and j1 again. */
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, MS(2), &dur), 2);
  b0 = mlfq_sched_batch(s, 0, &n0, NULL, NULL);
  ASSERT(b0[0] == &j[0] && b0[1] == &j[1]);
  ASSERT_EQ_U64(dur, MS(1)); /* two decodes */
  mlfq_sched_free(s);
}
