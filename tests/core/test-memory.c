/* KV memory in the scheduler: each policy's victim, refusal, cancel. */
/* docs/MODEL.md, "Memory (KV cache)": which job a full cache evicts under
 * each policy, a job that could never fit, and the KV a cancel frees. */
#include "base/units.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"

#include "task.h"

#define MS(x) ((uint64_t)(x)*MLFQ_NS_PER_MS)

static mlfq_sched_t *make_on(const char *policy, unsigned max_batch,
                             uint64_t cap, double quantum_ms, double rate,
                             double prefill_ms, mlfq_on_full_t on_full,
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
  cfg.on_full = on_full;
  s = mlfq_sched_new(&cfg, cost, err, sizeof(err));
  if (s == NULL)
    MLFQ_TEST_FAIL("%s", err);
  return s;
}

static mlfq_sched_t *make(const char *policy, unsigned max_batch, uint64_t cap,
                          double quantum_ms, double rate, double prefill_ms,
                          mlfq_cost_t *cost) {
  return make_on(policy, max_batch, cap, quantum_ms, rate, prefill_ms,
                 MLFQ_ON_FULL_RECOMPUTE, cost);
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

/* The first scenario under swap: Q's KV (20 prompt tokens and 1 generated)
 * goes to host memory, which the stats count as one job and 21 tokens
 * until Q is cancelled there. */
TEST(memory, swapped_kv_counted_until_cancel) {
  mlfq_job_t p, q, r, sj, *out[3];
  mlfq_sched_stats_t st;
  mlfq_cost_t cost;
  mlfq_sched_t *s;
  uint64_t dur;

  s = make_on("mlfq", 3, 47, 1, 4, 1, MLFQ_ON_FULL_SWAP, &cost);
  job(&p, 0, 20, 5);
  job(&q, 1, 20, 5);
  job(&r, 2, 3, 5);
  job(&sj, 3, 1, 5);
  ASSERT_OK(mlfq_sched_submit(s, &p, 0));
  ASSERT_OK(mlfq_sched_submit(s, &q, 0));
  ASSERT_OK(mlfq_sched_submit(s, &r, 0));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, 0, &dur), 3);
  ASSERT_EQ(mlfq_sched_complete(s, 0, MS(43), out), 3);
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_host_jobs, 0);
  ASSERT_OK(mlfq_sched_submit(s, &sj, MS(43)));
  ASSERT_EQ(mlfq_sched_dispatch(s, 0, MS(43), &dur), 3);
  ASSERT_EQ(q.preemptions, 1);
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_host_jobs, 1);
  ASSERT_EQ_U64(st.kv_host_tokens, 21);
  ASSERT_EQ_U64(st.swapped_tokens, 21);
  ASSERT_OK(mlfq_sched_cancel(s, &q, MS(44)));
  mlfq_sched_stats(s, &st);
  ASSERT_EQ_U64(st.kv_host_jobs, 0);
  ASSERT_EQ_U64(st.kv_host_tokens, 0);
  mlfq_sched_free(s);
  mlfq_cost_free(&cost);
}
