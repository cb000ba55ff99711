/* A job: one request as the scheduler sees it.
 *
 * The caller owns the memory and embeds an mlfq_job_t in its own request
 * struct (recovering it with MLFQ_CONTAINER_OF), so the scheduler never
 * allocates per job. The caller fills the first block before
 * mlfq_sched_submit; the scheduler maintains the rest. Fields starting with
 * '_' are the scheduler's private state, and _pj its policy's.
 */
#ifndef MLFQ_JOB_H
#define MLFQ_JOB_H

#include <stdint.h>

#include "base/list.h"

typedef struct mlfq_job_s mlfq_job_t;

/* A policy's own per-job state: room that only the job's policy
 * interprets, through its own struct and accessor (policy_mlfq.c,
 * policy_srpt.c), so that a policy adds no field to the shared job. The
 * policy sets it up in arrive; nothing else reads or writes it. Seven
 * words: two list links and three counters. */
#define MLFQ_JOB_POLICY_WORDS 7
typedef union {
  uint64_t _u64[MLFQ_JOB_POLICY_WORDS];
  void *_ptr; /* for the alignment of pointers */
} mlfq_job_policy_t;
struct mlfq_job_s {
  /* Set by the caller before submit. */
  uint64_t id;         /* caller's id: breaks ties of equal arrival times */
  uint64_t arrival_ns; /* model time of arrival */
  uint32_t input_len;  /* prompt tokens, >= 1 */
  uint32_t output_len; /* tokens to generate, >= 1 */

  /* Maintained by the scheduler; read-only for the caller. */
  uint32_t tokens;         /* tokens generated so far (= iterations run) */
  uint32_t demotions;      /* level changes down */
  uint32_t promotions;     /* starvation promotions to level 1 */
  uint32_t preemptions;    /* times its KV cache was evicted (kv.h) */
  uint64_t swapped_tokens; /* KV tokens moved to host memory and back */
  uint64_t first_token_ns; /* when token 1 completed (valid if tokens > 0) */
  uint64_t finish_ns;      /* when the last token completed */
  uint16_t level;          /* current level, 0-based (0 is level 1) */
  uint16_t initial_level;  /* level it joined at arrival */

  /* Private. */
  int32_t _engine;       /* engine running it, or -1 */
  uint64_t _seq;         /* submission order */
  uint64_t _prefill_ns;  /* cost of its own prefill */
  uint64_t _decode_ns;   /* cost of one of its decodes */
  uint64_t _kv;          /* KV cache tokens allocated to it (kv.h) */
  mlfq_link_t _mlink;    /* in the KV cache's resident list */
  mlfq_job_policy_t _pj; /* its policy's own state (below) */
  uint8_t _state;        /* MLFQ_JOB_* below */
  uint8_t _kvstate;      /* MLFQ_KV_* below */
};

enum {
  MLFQ_JOB_NEW = 0, /* not submitted */
  MLFQ_JOB_READY,   /* submitted and unfinished */
  MLFQ_JOB_DONE,    /* every token generated */
  MLFQ_JOB_CANCELLED
};

/* Where a job's KV cache is (with a capacity set; kv.h). */
enum {
  MLFQ_KV_NONE = 0, /* it has none: it has not run yet */
  MLFQ_KV_IN,       /* in memory */
  MLFQ_KV_REFILL,   /* being recomputed by the iteration it is in */
  MLFQ_KV_DROPPED,  /* evicted by recompute: it prefills again */
  MLFQ_KV_SWAPPED   /* in host memory: it is moved back first */
};

#endif
