/* The policy interface: the ordering half of the scheduler.
 *
 * sched.c owns jobs' lifecycle, engines, batches and iteration times; a
 * policy owns only the order in which ready jobs are offered to engines,
 * and the levels, quanta and promotions that shape it. A new engine-level
 * policy is a new mlfq_policy_t in its own file, listed in policy.c.
 *
 * A job is "running" while j->_engine >= 0. The scheduler calls, for a job:
 * arrive once; then any number of rounds of take (it joins a batch), ran
 * (it finished an iteration and is unfinished) and release (it leaves the
 * batch, unfinished); and finally leave (finished or cancelled, running or
 * not). At any time the core may ask which of two ready jobs comes first
 * (before). All calls come from the scheduler's thread.
 *
 * A policy keeps its per-job state in the job's policy slot (j->_pj,
 * job.h), under its own struct: arrive sets it up, and no one else reads
 * it. What every policy needs (submission order, prefill and decode costs)
 * is the scheduler's, in the job's own fields.
 */
#ifndef MLFQ_POLICY_H
#define MLFQ_POLICY_H

#include <stddef.h>

#include "core/cost.h"
#include "core/job.h"
#include "core/sched.h"

/* Position of a batch fill in the policy's order; zeroed at the start of
 * each fill. */
typedef struct {
  unsigned level;
  void *pos;
} mlfq_cursor_t;

struct mlfq_policy_s {
  const char *name;
  const char *summary; /* one line for --help */
  /* Returns the policy's state, NULL on ENOMEM. p, cost and st stay valid
   * until destroy; the policy counts demotions and promotions in st. */
  void *(*create)(const mlfq_sched_params_t *p, const mlfq_cost_t *cost,
                  mlfq_sched_stats_t *st);
  void (*destroy)(void *ps);
  /* j was submitted: place it (j->level, j->initial_level set here).
   * Returns 0 or MLFQ_ENOMEM. */
  int (*arrive)(void *ps, mlfq_job_t *j, uint64_t now);
  /* A scheduling point at now is about to fill batches (promotions). */
  void (*refresh)(void *ps, uint64_t now);
  /* The next ready job that is not running, in priority order from *c, or
   * NULL. Returning a job does not take it. */
  mlfq_job_t *(*next)(void *ps, mlfq_cursor_t *c);
  /* j joins a batch: a job just returned by next, or (with a KV capacity)
   * another ready job that is not running. */
  void (*take)(void *ps, mlfq_job_t *j);
  /* j ran an iteration of dur ns and is unfinished: account for it. Returns
   * 1 if j used its quantum (it was demoted, or moved to its level's tail),
   * 0 otherwise. */
  int (*ran)(void *ps, mlfq_job_t *j, uint64_t dur, uint64_t now);
  /* j leaves its batch unfinished and is ready again. */
  void (*release)(void *ps, mlfq_job_t *j, uint64_t now);
  /* j finished or was cancelled. */
  void (*leave)(void *ps, mlfq_job_t *j);
  /* 1 if next, walking the order now, would offer ready job a before ready
   * job b; 0 otherwise (also when a == b). O(1). The KV cache evicts the
   * job scheduled last (kv.h). */
  int (*before)(const void *ps, const mlfq_job_t *a, const mlfq_job_t *b);
  /* Levels, and unfinished jobs in level i (running included). */
  unsigned (*levels)(const void *ps);
  size_t (*level_len)(const void *ps, unsigned i);
};

extern const mlfq_policy_t mlfq_policy_fcfs;
extern const mlfq_policy_t mlfq_policy_naive_mlfq;
extern const mlfq_policy_t mlfq_policy_mlfq;
extern const mlfq_policy_t mlfq_policy_srpt;

/* The policy named name, or NULL. */
const mlfq_policy_t *mlfq_policy_find(const char *name);

/* The known policies in their display order (fcfs, naive-mlfq, mlfq,
 * srpt), NULL-terminated. */
const mlfq_policy_t *const *mlfq_policy_all(void);

/* Room for any list mlfq_policy_names writes. */
#define MLFQ_POLICY_NAMES_BUFSIZE 128

/* Writes the known policies' names, in display order, to buf (len bytes)
 * as a list for help texts and error messages: "fcfs, naive-mlfq, mlfq or
 * srpt", or with extra (NULL: none) one more choice at its end,
 * "fcfs, naive-mlfq, mlfq, srpt or all". Returns buf (truncated to fit). */
const char *mlfq_policy_names(char *buf, size_t len, const char *extra);

#endif
