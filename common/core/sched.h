/* The engine-level scheduler core (docs/MODEL.md, "Scheduling points").
 *
 * A plain data structure with no I/O, no threads and no clock: its driver
 * (the simulator, or the daemon's loop thread) tells it of arrivals,
 * cancellations and iteration ends, giving the model time of each, and asks
 * it what an idle engine runs next and for how long. All functions must be
 * called from one thread. Times are integer nanoseconds of model time.
 */
#ifndef MLFQ_SCHED_H
#define MLFQ_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "core/cost.h"
#include "core/job.h"
#include "core/kv.h"

typedef struct mlfq_sched_s mlfq_sched_t;
typedef struct mlfq_policy_s mlfq_policy_t;

typedef enum {
  MLFQ_PREEMPT_ITERATION = 0, /* re-decide at every iteration boundary */
  MLFQ_PREEMPT_QUANTUM = 1    /* a job keeps its engine until its quantum
                                 is used or it finishes */
} mlfq_preempt_t;

/* Most levels a multi-level policy may have. */
#define MLFQ_MAX_QUEUES 64
/* Most jobs in one batch and most engines. */
#define MLFQ_MAX_BATCH 65536
#define MLFQ_MAX_WORKERS 1024

typedef struct {
  const char *policy;     /* a name mlfq_policy_find knows */
  unsigned queues;        /* K, levels of mlfq and naive-mlfq (default 4) */
  double quantum_ms;      /* level-1 quantum; <= 0: the cost model's
                             smallest decode time */
  double quantum_rate;    /* q_i = quantum * rate^(i-1), >= 1 (default 2) */
  double starve_limit_ms; /* > 0 turns on starvation prevention */
  mlfq_preempt_t preempt;
  unsigned max_batch;          /* >= 1 */
  unsigned workers;            /* engines, >= 1 */
  uint64_t kv_capacity_tokens; /* KV cache shared by the engines; 0:
                                  unlimited (default) */
  mlfq_on_full_t on_full;      /* when it is full (default defer) */
  double swap_ms_per_token;    /* on_full swap: moving one token's KV either
                                  way, >= 0 (default 0) */
} mlfq_sched_config_t;

/* The configuration with every default filled in (policy "mlfq"). */
void mlfq_sched_config_init(mlfq_sched_config_t *cfg);

/* Parameters resolved from a configuration and a cost model; what the
 * policies read. */
typedef struct {
  unsigned queues;
  uint64_t quantum_ns[MLFQ_MAX_QUEUES]; /* saturating at UINT64_MAX */
  uint64_t starve_ns;                   /* 0: off */
  mlfq_preempt_t preempt;
  unsigned max_batch;
  unsigned workers;
  uint64_t kv_capacity; /* tokens; 0: unlimited */
  mlfq_on_full_t on_full;
  uint64_t swap_ns_per_token; /* swap_ms_per_token rounded once to ns */
} mlfq_sched_params_t;

/* Validates cfg and resolves it against cost into p (quanta in ns: the
 * default quantum is the cost model's smallest decode time). Returns 0, or
 * MLFQ_EINVAL with the reason in err. The policy name is not checked. */
int mlfq_sched_resolve(mlfq_sched_params_t *p, const mlfq_sched_config_t *cfg,
                       const mlfq_cost_t *cost, char *err, size_t errlen);

/* Counters, for reports and invariant checks. */
typedef struct {
  uint64_t submitted;
  uint64_t completed;
  uint64_t cancelled;
  uint64_t tokens;
  uint64_t iterations; /* batches run, over all engines */
  uint64_t demotions;
  uint64_t promotions;
  uint64_t preemptions;    /* KV evictions (recompute or swap) */
  uint64_t swapped_tokens; /* KV tokens moved to host memory and back */
  uint64_t kv_used;        /* KV cache tokens in use now */
  uint64_t kv_peak;        /* most in use at once */
  uint64_t kv_host_jobs;   /* jobs whose KV is swapped out to host memory */
  uint64_t kv_host_tokens; /* the KV tokens they hold there */
  size_t running;          /* jobs in a batch now */
  size_t waiting;          /* submitted, unfinished, not running */
} mlfq_sched_stats_t;

/* Creates a scheduler. The cost model is copied. Returns NULL on failure
 * with the reason in err (an unknown policy, an out-of-range value). */
mlfq_sched_t *mlfq_sched_new(const mlfq_sched_config_t *cfg,
                             const mlfq_cost_t *cost, char *err, size_t errlen);

/* Frees the scheduler. Jobs still inside are simply forgotten (the caller
 * owns their memory). */
void mlfq_sched_free(mlfq_sched_t *s);

/* Hands a new job to the scheduler at model time now. The caller has set
 * id, arrival_ns, input_len and output_len (both >= 1) and keeps j alive
 * until it is returned finished by mlfq_sched_complete or cancelled.
 * Arrivals at one time are submitted in arrival order, ties by id. Returns
 * 0, or MLFQ_EINVAL for a zero length, a job already submitted, or a job
 * that can never run: input_len + output_len over a KV capacity that is
 * set. */
int mlfq_sched_submit(mlfq_sched_t *s, mlfq_job_t *j, uint64_t now);

/* Removes an unfinished job at once, running or waiting; afterwards the
 * scheduler holds no reference to it. A running job's iteration goes on
 * to its end (iterations are never interrupted) without it. Returns 0, or
 * MLFQ_ESTATE if j is not in the scheduler. */
int mlfq_sched_cancel(mlfq_sched_t *s, mlfq_job_t *j, uint64_t now);

/* If engine e is idle, fills its batch at model time now in the policy's
 * priority order and starts an iteration: returns the batch size and stores
 * the iteration's duration in *dur_ns. Returns 0 (engine stays idle) when
 * no job is ready, or none fits in the KV cache. A busy engine is left
 * alone and returns 0. With a KV capacity, filling may evict other jobs'
 * KV (docs/MODEL.md, "Memory"). At one scheduling point, call it for each
 * idle engine in engine order, after every arrival and iteration end of
 * that time. */
unsigned mlfq_sched_dispatch(mlfq_sched_t *s, unsigned e, uint64_t now,
                             uint64_t *dur_ns);

/* Ends engine e's iteration at model time now. Each job of the batch got
 * one more token; they are stored in out (room for max_batch) in pick order
 * and their count is returned. Jobs with tokens == output_len have finished
 * and left the scheduler (finish_ns set): the caller owns them again. The
 * others were kept or demoted as the policy says. */
unsigned mlfq_sched_complete(mlfq_sched_t *s, unsigned e, uint64_t now,
                             mlfq_job_t **out);

/* Engine e's current batch (NULL when idle) and its size in *n; start and
 * duration of its iteration in *start_ns and *dur_ns (any may be NULL). */
mlfq_job_t *const *mlfq_sched_batch(const mlfq_sched_t *s, unsigned e,
                                    unsigned *n, uint64_t *start_ns,
                                    uint64_t *dur_ns);

/* 1 if engine e is running an iteration. */
int mlfq_sched_busy(const mlfq_sched_t *s, unsigned e);

const mlfq_sched_params_t *mlfq_sched_params(const mlfq_sched_t *s);
const mlfq_sched_config_t *mlfq_sched_config(const mlfq_sched_t *s);
const mlfq_cost_t *mlfq_sched_cost(const mlfq_sched_t *s);
const mlfq_policy_t *mlfq_sched_policy(const mlfq_sched_t *s);
void mlfq_sched_stats(const mlfq_sched_t *s, mlfq_sched_stats_t *st);

/* Number of levels the policy keeps (1 for fcfs and srpt) and the number of
 * unfinished jobs in level i, running ones included. */
unsigned mlfq_sched_levels(const mlfq_sched_t *s);
size_t mlfq_sched_level_len(const mlfq_sched_t *s, unsigned i);

#endif
