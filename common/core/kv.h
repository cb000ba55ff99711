/* The KV cache of an engine's model, as the scheduler core accounts for it
 * (docs/MODEL.md, "Memory (KV cache)").
 *
 * A capacity in tokens is shared by every engine. A job holds KV for its
 * prompt and the tokens generated so far while it runs or waits in memory;
 * when the cache is full, on_full says what gives way. The names of the
 * on_full modes are for everyone; the rest (mlfq_kv_t and its functions) is
 * the core's own: sched.c calls it, on the driver's thread, and only when a
 * capacity is set, so an unlimited cache costs nothing.
 */
#ifndef MLFQ_KV_H
#define MLFQ_KV_H

#include <stdint.h>

#include "base/list.h"
#include "core/job.h"

typedef struct mlfq_policy_s mlfq_policy_t;

typedef enum {
  MLFQ_ON_FULL_DEFER = 0,     /* a new job waits until its whole footprint
                                 fits; nothing is ever evicted */
  MLFQ_ON_FULL_RECOMPUTE = 1, /* evict a victim's KV; it prefills again */
  MLFQ_ON_FULL_SWAP = 2       /* move a victim's KV to host memory */
} mlfq_on_full_t;

/* "defer", "recompute" or "swap" ("?" for anything else). */
const char *mlfq_on_full_name(mlfq_on_full_t m);

/* Parses one of those names into *m. Returns 0 or MLFQ_EINVAL. */
int mlfq_on_full_parse(const char *name, mlfq_on_full_t *m);

typedef struct {
  uint64_t cap; /* tokens; 0: unlimited (then nothing below is called) */
  mlfq_on_full_t on_full;
  uint64_t swap_ns;     /* per token moved either way */
  uint64_t used;        /* sum of the jobs' _kv */
  uint64_t peak;        /* most used at once */
  uint64_t moved;       /* tokens swapped out or in since mlfq_kv_begin */
  uint64_t preemptions; /* evictions */
  uint64_t swapped;     /* tokens swapped out or in, in all */
  uint64_t host_jobs;   /* jobs whose KV is in host memory now (swap) */
  uint64_t host_tokens; /* and the tokens of it */
  mlfq_link_t resident; /* jobs holding KV in no batch, via _mlink */
  const mlfq_policy_t *pol;
  void *ps;
} mlfq_kv_t;

/* Sets up kv for a capacity of cap tokens (0: unlimited) and the policy
 * whose order chooses victims. */
void mlfq_kv_init(mlfq_kv_t *kv, uint64_t cap, mlfq_on_full_t on_full,
                  uint64_t swap_ns, const mlfq_policy_t *pol, void *ps);

/* Whether a job of in prompt tokens and out tokens to generate can ever run
 * under a KV capacity of cap tokens (0: unlimited): 1 if its footprint,
 * in + out, is at most cap, else 0. The one check of the scheduler's
 * submit, the simulator's and the daemon's request checks. */
int mlfq_kv_fits(uint64_t cap, uint64_t in, uint64_t out);

/* The most KV a job ever holds: input_len + output_len. */
static inline uint64_t mlfq_kv_footprint(const mlfq_job_t *j) {
  return (uint64_t)j->input_len + j->output_len;
}

/* Tokens free now. */
static inline uint64_t mlfq_kv_free(const mlfq_kv_t *kv) {
  return kv->cap - kv->used;
}

/* A dispatch begins: restarts the count of tokens moved. */
static inline void mlfq_kv_begin(mlfq_kv_t *kv) { kv->moved = 0; }

/* Evicts the resident job the policy schedules last, among those it
 * schedules after `after` (any resident job when after is NULL). Returns
 * 1, or 0 if there is none. Never under defer. */
int mlfq_kv_evict(mlfq_kv_t *kv, const mlfq_job_t *after);

/* j, picked to join a batch, gets the KV its next iteration needs,
 * evicting victims the policy schedules after it if on_full allows and
 * that makes it fit. Returns 1 (j may run), or 0 (it does not fit; nothing
 * was evicted). */
int mlfq_kv_admit(mlfq_kv_t *kv, mlfq_job_t *j);

/* The resident job the policy schedules first, or NULL. */
mlfq_job_t *mlfq_kv_first_resident(const mlfq_kv_t *kv);

/* j stays in its batch for one more iteration (preempt=quantum): one more
 * token's slot. The caller has made sure it is free. */
void mlfq_kv_extend(mlfq_kv_t *kv, mlfq_job_t *j);

/* j ran an iteration: its new token filled the slot it held. */
void mlfq_kv_ran(mlfq_kv_t *kv, mlfq_job_t *j);

/* j left its batch unfinished, keeping its KV: it becomes resident (and
 * evictable). */
void mlfq_kv_park(mlfq_kv_t *kv, mlfq_job_t *j);

/* j finished or was cancelled: frees its KV. */
void mlfq_kv_release(mlfq_kv_t *kv, mlfq_job_t *j);

#endif
