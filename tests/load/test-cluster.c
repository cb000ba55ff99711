/* The simulator's cluster runs: several replicas behind the router's
 * balancer, in virtual time. */
#include "base/rng.h"
#include "base/units.h"
#include "core/balance.h"
#include "core/cost.h"
#include "core/sched.h"
#include "load/sim.h"
#include "load/workload.h"

#include "task.h"

#define NREQ 200

/* NREQ requests with random lengths and Poisson-like arrivals; at_once
 * puts them all at time 0. */
static void make_reqs(mlfq_req_t *reqs, uint64_t seed, int at_once) {
  mlfq_rng_t rng;
  uint64_t t = 0;
  size_t i;

  mlfq_rng_seed(&rng, seed, 0);
  for (i = 0; i < NREQ; i++) {
    if (!at_once)
      t += (uint64_t)mlfq_rng_exp(&rng, 20e6);
    reqs[i].arrival_ns = t;
    reqs[i].input_len = 1 + (uint32_t)mlfq_rng_below(&rng, 512);
    reqs[i].output_len = 1 + (uint32_t)mlfq_rng_below(&rng, 64);
  }
}

static void config(mlfq_sched_config_t *cfg, const char *policy) {
  mlfq_sched_config_init(cfg);
  cfg->policy = policy;
  cfg->max_batch = 4;
}

/* One replica through the cluster path is the plain simulator. */
TEST(cluster, one_replica_is_the_plain_simulator) {
  static mlfq_req_t reqs[NREQ];
  mlfq_sim_result_t a, b;
  mlfq_sim_cluster_t cl = {1, MLFQ_BALANCE_LEAST_TOKENS, 7};
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];
  size_t i;

  make_reqs(reqs, 1, 0);
  ASSERT_OK(mlfq_cost_default(&cost));
  config(&cfg, "mlfq");
  ASSERT_OK(mlfq_sim_run(&cfg, &cost, reqs, NREQ, NULL, &a, err, sizeof(err)));
  ASSERT_OK(mlfq_sim_run_cluster(&cfg, &cost, &cl, reqs, NREQ, NULL, &b, err,
                                 sizeof(err)));
  ASSERT_EQ(b.replicas, 1);
  for (i = 0; i < NREQ; i++) {
    ASSERT_EQ_U64(a.jobs[i].first_token_ns, b.jobs[i].first_token_ns);
    ASSERT_EQ_U64(a.jobs[i].finish_ns, b.jobs[i].finish_ns);
    ASSERT_EQ(b.replica[i], 0);
  }
  ASSERT_EQ_U64(a.stats.iterations, b.stats.iterations);
  mlfq_sim_result_free(&a);
  mlfq_sim_result_free(&b);
  mlfq_cost_free(&cost);
}

/* Round-robin sends request i (in arrival order) to replica i mod R, and
 * each replica then runs exactly what a lone scheduler runs on its share. */
TEST(cluster, round_robin_equals_independent_replicas) {
  static mlfq_req_t reqs[NREQ], part[NREQ];
  static size_t idx[NREQ];
  const char *policies[] = {"fcfs", "mlfq", "srpt"};
  mlfq_sim_cluster_t cl = {3, MLFQ_BALANCE_ROUND_ROBIN, 1};
  mlfq_sim_result_t all, one;
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];
  size_t i, k, p;
  unsigned r;

  make_reqs(reqs, 2, 0);
  ASSERT_OK(mlfq_cost_default(&cost));
  for (p = 0; p < 3; p++) {
    config(&cfg, policies[p]);
    ASSERT_OK(mlfq_sim_run_cluster(&cfg, &cost, &cl, reqs, NREQ, NULL, &all,
                                   err, sizeof(err)));
    ASSERT_EQ(all.workers, 3);
    for (r = 0; r < 3; r++) {
      k = 0;
      for (i = 0; i < NREQ; i++) {
        ASSERT_EQ(all.replica[i], i % 3);
        if (i % 3 == r) {
          part[k] = reqs[i];
          idx[k++] = i;
        }
      }
      ASSERT_OK(
          mlfq_sim_run(&cfg, &cost, part, k, NULL, &one, err, sizeof(err)));
      for (i = 0; i < k; i++) {
        ASSERT_EQ_U64(one.jobs[i].first_token_ns,
                      all.jobs[idx[i]].first_token_ns);
        ASSERT_EQ_U64(one.jobs[i].finish_ns, all.jobs[idx[i]].finish_ns);
      }
      ASSERT_EQ_U64(one.busy_ns[0], all.busy_ns[r]);
      mlfq_sim_result_free(&one);
    }
    ASSERT_EQ_U64(all.stats.completed, NREQ);
    mlfq_sim_result_free(&all);
  }
  mlfq_cost_free(&cost);
}

/* A burst at time 0 of equal requests: loads change at dispatch, so the
 * load-aware policies spread it evenly, never herding on one replica. */
TEST(cluster, burst_spreads_evenly_on_dispatch_loads) {
  static mlfq_req_t reqs[NREQ];
  mlfq_balance_policy_t pols[] = {MLFQ_BALANCE_LEAST_REQUESTS,
                                  MLFQ_BALANCE_LEAST_TOKENS};
  mlfq_sim_result_t res;
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];
  size_t i, p, count[4];

  for (i = 0; i < NREQ; i++) {
    reqs[i].arrival_ns = 0;
    reqs[i].input_len = 100;
    reqs[i].output_len = 10;
  }
  ASSERT_OK(mlfq_cost_default(&cost));
  config(&cfg, "fcfs");
  for (p = 0; p < 2; p++) {
    mlfq_sim_cluster_t cl = {4, pols[p], 1};
    ASSERT_OK(mlfq_sim_run_cluster(&cfg, &cost, &cl, reqs, NREQ, NULL, &res,
                                   err, sizeof(err)));
    memset(count, 0, sizeof(count));
    for (i = 0; i < NREQ; i++)
      count[res.replica[i]]++;
    for (i = 0; i < 4; i++)
      ASSERT_EQ(count[i], NREQ / 4);
    mlfq_sim_result_free(&res);
  }
  mlfq_cost_free(&cost);
}

/* least-tokens sees work, not requests: after one long request, the next
 * short ones avoid its replica until their tokens add up to its. */
TEST(cluster, least_tokens_weighs_work) {
  mlfq_req_t reqs[4] = {{0, 1000, 1000}, {0, 10, 10}, {0, 10, 10}, {0, 10, 10}};
  mlfq_sim_cluster_t cl = {2, MLFQ_BALANCE_LEAST_TOKENS, 1};
  mlfq_sim_result_t res;
  mlfq_sched_config_t cfg;
  mlfq_cost_t cost;
  char err[256];

  ASSERT_OK(mlfq_cost_default(&cost));
  config(&cfg, "fcfs");
  ASSERT_OK(mlfq_sim_run_cluster(&cfg, &cost, &cl, reqs, 4, NULL, &res, err,
                                 sizeof(err)));
  ASSERT_EQ(res.replica[0], 0);
  ASSERT_EQ(res.replica[1], 1);
  ASSERT_EQ(res.replica[2], 1);
  ASSERT_EQ(res.replica[3], 1);
  mlfq_sim_result_free(&res);
  mlfq_cost_free(&cost);
}

TEST(cluster, mlfqsim_replicas_options) {
  char *out = NULL, *err = NULL, line[512];
  char *good[] = {MLFQ_BIN_DIR "/mlfqsim",
                  "--workload",
                  MLFQ_DATA_DIR "/appendix_b.csv",
                  "--rate",
                  "80",
                  "--replicas",
                  "4",
                  "--route",
                  "power-of-two",
                  "--policy",
                  "fcfs",
                  NULL};
  char *zero[] = {MLFQ_BIN_DIR "/mlfqsim", "--replicas", "0", NULL};
  char *bad[] = {MLFQ_BIN_DIR "/mlfqsim", "--route", "nearest", NULL};

  ASSERT_EQ(mlfq_test_run(good, &out, &err, 60), 0);
  mlfq_test_find_line(out, "replicas:", line, sizeof(line));
  ASSERT_STR_EQ(line, "replicas: 4, route power-of-two (seed 1)");
  mlfq_test_find_line(out, "requests ", line, sizeof(line));
  ASSERT_CONTAINS(line, "99");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_run(zero, &out, &err, 60), 2);
  ASSERT_CONTAINS(err, "replicas");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_run(bad, &out, &err, 60), 2);
  ASSERT_CONTAINS(err, "'nearest' is not round-robin");
  free(out);
  free(err);
}
