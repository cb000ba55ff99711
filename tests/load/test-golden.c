/* docs/MODEL.md, "Figure 6": FastServe's Figure 6, every policy, both preempt
 * modes. */
#include "base/units.h"
#include "core/cost.h"
#include "core/sched.h"
#include "load/sim.h"
#include "load/workload.h"

#include "task.h"

typedef struct {
  char order[64];
} trace_t;

static void on_token(void *ud, size_t id, uint32_t token, uint64_t t_ns) {
  trace_t *t = ud;
  size_t len = strlen(t->order);

  (void)t_ns;
  snprintf(t->order + len, sizeof(t->order) - len, "%sJ%zu T%u",
           len ? ", " : "", id + 1, token);
}

/* Runs Figure 6 under policy and checks finish times (ms) and token order. */
static void check(const char *policy, mlfq_preempt_t preempt, unsigned j1,
                  unsigned j2, unsigned j3, const char *order) {
  mlfq_sched_config_t cfg;
  mlfq_sim_hooks_t hooks;
  mlfq_sim_result_t res;
  mlfq_workload_t w;
  mlfq_cost_t cost;
  trace_t trace;
  char err[256];
  size_t i;
  double total = 0;

  ASSERT_OK(
      mlfq_workload_load(&w, MLFQ_DATA_DIR "/figure6.csv", err, sizeof(err)));
  ASSERT_EQ(w.n, 3);
  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.policy = policy;
  cfg.queues = 4;
  cfg.quantum_ms = 1;
  cfg.quantum_rate = 2;
  cfg.preempt = preempt;
  memset(&hooks, 0, sizeof(hooks));
  memset(&trace, 0, sizeof(trace));
  hooks.on_token = on_token;
  hooks.ud = &trace;
  ASSERT_OK(
      mlfq_sim_run(&cfg, &cost, w.reqs, w.n, &hooks, &res, err, sizeof(err)));
  ASSERT_EQ_U64(res.jobs[0].finish_ns, (uint64_t)j1 * MLFQ_NS_PER_MS);
  ASSERT_EQ_U64(res.jobs[1].finish_ns, (uint64_t)j2 * MLFQ_NS_PER_MS);
  ASSERT_EQ_U64(res.jobs[2].finish_ns, (uint64_t)j3 * MLFQ_NS_PER_MS);
  for (i = 0; i < 3; i++)
    total += (double)(res.jobs[i].finish_ns - res.jobs[i].arrival_ns);
  ASSERT_NEAR(total / 3 / 1e6, (j1 + j2 + j3) / 3.0, 1e-9);
  ASSERT_STR_EQ(trace.order, order);
  ASSERT_EQ_U64(res.makespan_ns, 11 * MLFQ_NS_PER_MS);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
  mlfq_workload_free(&w);
}

/* Figure 6's answer under each policy: finish times (ms) and token
 * order, the same in both preempt modes. */
typedef struct {
  const char *policy;
  unsigned j1, j2, j3;
  const char *order;
} golden_t;

static const golden_t fcfs = {"fcfs", 6, 8, 11,
                              "J1 T1, J1 T2, J2 T1, J2 T2, J3 T1, J3 T2"};
static const golden_t naive = {"naive-mlfq", 9, 10, 11,
                               "J1 T1, J2 T1, J3 T1, J1 T2, J2 T2, J3 T2"};
static const golden_t mlfq = {"mlfq", 11, 4, 5,
                              "J2 T1, J3 T1, J2 T2, J3 T2, J1 T1, J1 T2"};
static const golden_t srpt = {"srpt", 11, 2, 5,
                              "J2 T1, J2 T2, J3 T1, J3 T2, J1 T1, J1 T2"};

static void golden(const golden_t *g, mlfq_preempt_t preempt) {
  check(g->policy, preempt, g->j1, g->j2, g->j3, g->order);
}

TEST(golden, fcfs) { golden(&fcfs, MLFQ_PREEMPT_ITERATION); }

TEST(golden, naive_mlfq) { golden(&naive, MLFQ_PREEMPT_ITERATION); }

TEST(golden, mlfq) { golden(&mlfq, MLFQ_PREEMPT_ITERATION); }

TEST(golden, srpt) { golden(&srpt, MLFQ_PREEMPT_ITERATION); }

TEST(golden, fcfs_quantum) { golden(&fcfs, MLFQ_PREEMPT_QUANTUM); }

TEST(golden, naive_mlfq_quantum) { golden(&naive, MLFQ_PREEMPT_QUANTUM); }

TEST(golden, mlfq_quantum) { golden(&mlfq, MLFQ_PREEMPT_QUANTUM); }

TEST(golden, srpt_quantum) { golden(&srpt, MLFQ_PREEMPT_QUANTUM); }

/* Skip-join places each job by its prefill: J1 (5 ms) in level 4 (quantum
 * 8), J2 (1 ms) in level 1, J3 (2 ms) in level 2. */
TEST(golden, mlfq_join_levels) {
  mlfq_sched_config_t cfg;
  mlfq_sim_result_t res;
  mlfq_workload_t w;
  mlfq_cost_t cost;
  char err[256];

  ASSERT_OK(
      mlfq_workload_load(&w, MLFQ_DATA_DIR "/figure6.csv", err, sizeof(err)));
  ASSERT_OK(mlfq_cost_linear(&cost, 0, 1, 1));
  mlfq_sched_config_init(&cfg);
  cfg.quantum_ms = 1;
  ASSERT_OK(
      mlfq_sim_run(&cfg, &cost, w.reqs, w.n, NULL, &res, err, sizeof(err)));
  ASSERT_EQ(res.jobs[0].initial_level, 3);
  ASSERT_EQ(res.jobs[1].initial_level, 0);
  ASSERT_EQ(res.jobs[2].initial_level, 1);
  ASSERT_EQ(res.jobs[0].demotions, 0);
  ASSERT_EQ(res.jobs[1].demotions, 1);
  ASSERT_EQ(res.jobs[2].demotions, 1);
  ASSERT_EQ_U64(res.stats.demotions, 2);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
  mlfq_workload_free(&w);
}
