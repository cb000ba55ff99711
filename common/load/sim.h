/* The offline simulator: the scheduler core driven in virtual time.
 *
 * A discrete-event loop over two kinds of event, arrivals and iteration
 * ends. At each event time it first submits every arrival (in arrival
 * order, ties by id), then ends the iterations of that time in engine
 * order, then lets idle engines pick in engine order (docs/MODEL.md,
 * "Scheduling points"). The same core runs in the daemon; only the clock
 * differs.
 *
 * A cluster run simulates several replicas behind mlfq-router: one
 * scheduler per replica, and the router's balancer (balance.h) choosing a
 * replica for each arrival from loads that change at dispatch and on every
 * token, as the router's do. At one event time, replicas go in index
 * order.
 */
#ifndef MLFQ_SIM_H
#define MLFQ_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/balance.h"
#include "core/cost.h"
#include "core/job.h"
#include "core/sched.h"
#include "load/workload.h"

/* Optional observers; any member may be NULL. They must not call into the
 * scheduler except through its const queries. */
typedef struct {
  /* A token completed: request id, token index (from 1), model time. */
  void (*on_token)(void *ud, size_t id, uint32_t token, uint64_t t_ns);
  /* Engine e starts an iteration (in a cluster run, e counts the engines
   * of every replica: replica r's engine k is r * workers + k) of dur_ns over
   * batch[0..n), pick order. */
  void (*on_iteration)(void *ud, unsigned e, uint64_t start_ns, uint64_t dur_ns,
                       mlfq_job_t *const *batch, unsigned n);
  /* A scheduling point at now has ended (every idle engine has picked);
   * called once per replica in a cluster run. */
  void (*on_point)(void *ud, const mlfq_sched_t *s, uint64_t now);
  void *ud;
} mlfq_sim_hooks_t;

typedef struct {
  mlfq_job_t *jobs; /* n jobs by request id, all finished */
  size_t n;
  uint64_t makespan_ns; /* last finish; the run starts at time 0 */
  uint64_t *busy_ns;    /* per engine: total iteration time */
  unsigned workers;     /* engines in all (workers x replicas) */
  unsigned replicas;
  uint32_t *replica;        /* per request: the replica that ran it (0-based) */
  mlfq_sched_stats_t stats; /* summed over replicas; kv_peak is the
                               highest replica's */
} mlfq_sim_result_t;

/* Several replicas behind a router. */
typedef struct {
  unsigned replicas; /* >= 1 */
  mlfq_balance_policy_t route;
  uint64_t seed; /* of the random routing policies */
} mlfq_sim_cluster_t;

/* Most replicas of a cluster run. */
#define MLFQ_SIM_MAX_REPLICAS 1024

/* Checks that every request of reqs[0..n) can run under cfg: its arrival
 * must be at most MLFQ_TIME_MAX (else MLFQ_ERANGE) and, with a KV
 * capacity, input_len + output_len must fit in it (else MLFQ_EINVAL).
 * Returns 0, or the error with err naming the first request that cannot. */
int mlfq_sim_check(const mlfq_sched_config_t *cfg, const mlfq_req_t *reqs,
                   size_t n, char *err, size_t errlen);

/* Runs reqs[0..n) (request id = index) under cfg and cost to the end.
 * Fills res, which the caller releases with mlfq_sim_result_free. Returns 0,
 * or a negative code with err set (a bad configuration, a request that
 * mlfq_sim_check refuses, out of memory, or MLFQ_ERANGE when an iteration
 * would end past MLFQ_TIME_MAX: every time of a run is at most that). */
int mlfq_sim_run(const mlfq_sched_config_t *cfg, const mlfq_cost_t *cost,
                 const mlfq_req_t *reqs, size_t n,
                 const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                 char *err, size_t errlen);

/* As mlfq_sim_run, over cl->replicas replicas, each with cfg's scheduler
 * and its own engines, requests routed by cl (NULL: one replica). */
int mlfq_sim_run_cluster(const mlfq_sched_config_t *cfg,
                         const mlfq_cost_t *cost, const mlfq_sim_cluster_t *cl,
                         const mlfq_req_t *reqs, size_t n,
                         const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                         char *err, size_t errlen);

void mlfq_sim_result_free(mlfq_sim_result_t *res);

#endif
