/* DESIGN
 *
 * The scheduler core: jobs' lifecycle, engines and their batches, iteration
 * times. The order in which ready jobs are offered is the policy's
 * (policy.h); this file never looks inside a policy's queues.
 *
 * Owned here: a copy of the cost model, the resolved parameters, and one
 * batch array of max_batch job pointers per engine. Jobs belong to the
 * caller (job.h). Everything is touched by one thread, the driver's: the
 * simulator's loop, or the daemon's loop thread.
 *
 * Cost: submit, cancel and a policy step are O(1) or O(log n) in the
 * number of jobs; dispatch and complete are O(batch) plus the policy's
 * steps. Nothing here walks the waiting jobs.
 *
 * A job is running while it sits in an engine's batch (j->_engine >= 0).
 * With preempt=iteration every unfinished job leaves its batch at the end of
 * each iteration, and the engine picks again; with preempt=quantum a job
 * stays in its batch until the policy says its quantum is used, so the
 * engine only refills the free slots.
 *
 * With a KV capacity (kv.c; docs/MODEL.md, "Memory (KV cache)") a batch
 * fill also asks the KV cache whether each candidate fits, and under
 * recompute or swap lets it evict resident jobs that are in no batch and
 * that the policy schedules after the candidate. A victim is found by
 * scanning the resident jobs with the policy's `before`: O(resident jobs),
 * bounded by the capacity, never by the queue length. With no capacity
 * (the default) none of that runs: it costs a few well-predicted branches
 * per dispatch and per job of a batch.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "core/kv.h"
#include "core/policy.h"
#include "core/sched.h"

typedef struct {
  mlfq_job_t **batch; /* max_batch slots, n in use, in pick order */
  unsigned n;
  int busy;
  uint64_t start_ns;
  uint64_t dur_ns;
} engine_t;

struct mlfq_sched_s {
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t params;
  mlfq_cost_t cost;
  const mlfq_policy_t *pol;
  void *ps;
  engine_t *engines;
  mlfq_job_t **slots; /* workers * max_batch, backing the batches */
  uint64_t seq;
  mlfq_sched_stats_t st;
  mlfq_kv_t kv;
};

void mlfq_sched_config_init(mlfq_sched_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->policy = "mlfq";
  cfg->queues = 4;
  cfg->quantum_ms = 0;
  cfg->quantum_rate = 2;
  cfg->starve_limit_ms = 0;
  cfg->preempt = MLFQ_PREEMPT_ITERATION;
  cfg->max_batch = 1;
  cfg->workers = 1;
  cfg->kv_capacity_tokens = 0;
  cfg->on_full = MLFQ_ON_FULL_DEFER;
  cfg->swap_ms_per_token = 0;
}

static uint64_t scaled_ns(double ns) {
  if (!(ns < 18446744073709549568.0))
    return UINT64_MAX;
  return (uint64_t)llround(ns);
}

int mlfq_sched_resolve(mlfq_sched_params_t *p, const mlfq_sched_config_t *cfg,
                       const mlfq_cost_t *cost, char *err, size_t errlen) {
  double q0;
  unsigned i;

  if (cfg->queues < 1 || cfg->queues > MLFQ_MAX_QUEUES)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "queues: %u is not in [1, %d]",
                     cfg->queues, MLFQ_MAX_QUEUES);
  if (!isfinite(cfg->quantum_ms))
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "quantum-ms: not finite");
  if (!isfinite(cfg->quantum_rate) || cfg->quantum_rate < 1)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "quantum-rate: %g is below 1",
                     cfg->quantum_rate);
  if (!isfinite(cfg->starve_limit_ms) || cfg->starve_limit_ms < 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "starve-limit-ms: %g is negative", cfg->starve_limit_ms);
  if (cfg->max_batch < 1 || cfg->max_batch > MLFQ_MAX_BATCH)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "max-batch: %u is not in [1, %d]", cfg->max_batch,
                     MLFQ_MAX_BATCH);
  if (cfg->workers < 1 || cfg->workers > MLFQ_MAX_WORKERS)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "workers: %u is not in [1, %d]",
                     cfg->workers, MLFQ_MAX_WORKERS);
  if (cfg->preempt != MLFQ_PREEMPT_ITERATION &&
      cfg->preempt != MLFQ_PREEMPT_QUANTUM)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "preempt: unknown mode");
  if (cfg->on_full != MLFQ_ON_FULL_DEFER &&
      cfg->on_full != MLFQ_ON_FULL_RECOMPUTE &&
      cfg->on_full != MLFQ_ON_FULL_SWAP)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "on-full: unknown mode");
  if (!isfinite(cfg->swap_ms_per_token) || cfg->swap_ms_per_token < 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "swap-ms-per-token: %g is not a number >= 0",
                     cfg->swap_ms_per_token);

  memset(p, 0, sizeof(*p));
  p->queues = cfg->queues;
  q0 = cfg->quantum_ms > 0 ? cfg->quantum_ms * 1e6
                           : (double)mlfq_cost_min_decode_ns(cost);
  for (i = 0; i < cfg->queues; i++)
    p->quantum_ns[i] = scaled_ns(q0 * pow(cfg->quantum_rate, (double)i));
  p->starve_ns = mlfq_ms_to_ns(cfg->starve_limit_ms);
  p->preempt = cfg->preempt;
  p->max_batch = cfg->max_batch;
  p->workers = cfg->workers;
  p->kv_capacity = cfg->kv_capacity_tokens;
  p->on_full = cfg->on_full;
  /* Rounded once: a transfer of n tokens costs exactly n times this. */
  p->swap_ns_per_token = mlfq_ms_to_ns(cfg->swap_ms_per_token);
  return 0;
}

mlfq_sched_t *mlfq_sched_new(const mlfq_sched_config_t *cfg,
                             const mlfq_cost_t *cost, char *err,
                             size_t errlen) {
  char names[MLFQ_POLICY_NAMES_BUFSIZE];
  mlfq_sched_t *s;
  unsigned i;

  s = calloc(1, sizeof(*s));
  if (s == NULL)
    goto nomem;
  s->cfg = *cfg;
  s->pol = mlfq_policy_find(cfg->policy);
  if (s->pol == NULL) {
    mlfq_fail(err, errlen, MLFQ_EINVAL, "policy: unknown '%s' (%s)",
              cfg->policy ? cfg->policy : "",
              mlfq_policy_names(names, sizeof(names), NULL));
    goto fail;
  }
  s->cfg.policy = s->pol->name; /* static storage, unlike the caller's */
  if (mlfq_sched_resolve(&s->params, cfg, cost, err, errlen))
    goto fail;
  if (mlfq_cost_copy(&s->cost, cost))
    goto nomem;
  s->engines = calloc(cfg->workers, sizeof(*s->engines));
  s->slots = calloc((size_t)cfg->workers * cfg->max_batch, sizeof(*s->slots));
  if (s->engines == NULL || s->slots == NULL)
    goto nomem;
  for (i = 0; i < cfg->workers; i++)
    s->engines[i].batch = s->slots + (size_t)i * cfg->max_batch;
  s->ps = s->pol->create(&s->params, &s->cost, &s->st);
  if (s->ps == NULL)
    goto nomem;
  mlfq_kv_init(&s->kv, s->params.kv_capacity, s->params.on_full,
               s->params.swap_ns_per_token, s->pol, s->ps);
  return s;

nomem:
  mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
fail:
  if (s != NULL) {
    mlfq_cost_free(&s->cost);
    free(s->engines);
    free(s->slots);
    free(s);
  }
  return NULL;
}

void mlfq_sched_free(mlfq_sched_t *s) {
  if (s == NULL)
    return;
  s->pol->destroy(s->ps);
  mlfq_cost_free(&s->cost);
  free(s->engines);
  free(s->slots);
  free(s);
}

int mlfq_sched_submit(mlfq_sched_t *s, mlfq_job_t *j, uint64_t now) {
  int err;

  if (j->input_len == 0 || j->output_len == 0 || j->_state == MLFQ_JOB_READY)
    return MLFQ_EINVAL;
  if (!mlfq_kv_fits(s->kv.cap, j->input_len, j->output_len))
    return MLFQ_EINVAL; /* it could never run */
  j->tokens = 0;
  j->demotions = 0;
  j->promotions = 0;
  j->preemptions = 0;
  j->swapped_tokens = 0;
  j->level = 0;
  j->initial_level = 0;
  j->first_token_ns = 0;
  j->finish_ns = 0;
  j->_seq = s->seq;
  j->_prefill_ns = mlfq_cost_prefill_ns(&s->cost, j->input_len);
  j->_decode_ns = mlfq_cost_decode_ns(&s->cost, j->input_len);
  j->_kv = 0;
  mlfq_list_init(&j->_mlink);
  j->_engine = -1;
  j->_kvstate = MLFQ_KV_NONE;
  err = s->pol->arrive(s->ps, j, now);
  if (err)
    return err;
  j->_state = MLFQ_JOB_READY;
  s->seq++;
  s->st.submitted++;
  return 0;
}

static void batch_remove(engine_t *eng, mlfq_job_t *j) {
  unsigned i;

  for (i = 0; i < eng->n; i++) {
    if (eng->batch[i] == j) {
      memmove(&eng->batch[i], &eng->batch[i + 1],
              (eng->n - i - 1) * sizeof(eng->batch[0]));
      eng->n--;
      return;
    }
  }
  assert(0 && "running job missing from its engine's batch");
}

int mlfq_sched_cancel(mlfq_sched_t *s, mlfq_job_t *j, uint64_t now) {
  (void)now;
  if (j->_state != MLFQ_JOB_READY)
    return MLFQ_ESTATE;
  if (j->_engine >= 0) {
    batch_remove(&s->engines[j->_engine], j);
    j->_engine = -1;
    s->st.running--;
  }
  s->pol->leave(s->ps, j);
  if (s->kv.cap > 0)
    mlfq_kv_release(&s->kv, j);
  j->_state = MLFQ_JOB_CANCELLED;
  s->st.cancelled++;
  return 0;
}

/* The batch's iteration time (docs/MODEL.md, "Cost model"): the prefill of
 * every prompt token of jobs without a token yet (and of the prompt and
 * generated tokens of jobs whose evicted KV is recomputed), plus the slowest
 * decode among the others and the per-sequence batch overhead. */
static uint64_t batch_time(const mlfq_sched_t *s, const engine_t *eng) {
  uint64_t prefill_tokens = 0, max_decode = 0;
  uint32_t ndecode = 0;
  unsigned i;

  for (i = 0; i < eng->n; i++) {
    const mlfq_job_t *j = eng->batch[i];
    if (j->tokens == 0) {
      prefill_tokens += j->input_len;
    } else if (j->_kvstate == MLFQ_KV_REFILL) {
      prefill_tokens += (uint64_t)j->input_len + j->tokens;
    } else {
      ndecode++;
      if (j->_decode_ns > max_decode)
        max_decode = j->_decode_ns;
    }
  }
  return mlfq_cost_batch_ns(&s->cost, prefill_tokens, max_decode, ndecode);
}

static void take(mlfq_sched_t *s, engine_t *eng, unsigned e, mlfq_job_t *j) {
  j->_engine = (int32_t)e;
  s->pol->take(s->ps, j);
  eng->batch[eng->n++] = j;
}

/* Under preempt=quantum, recompute or swap: the jobs kept in eng's batch
 * each need one more token of KV. Evicts resident jobs for them, lowest
 * priority first; when there are none, the last kept job leaves the batch
 * (it stays resident, and can be evicted in turn). */
static void keep_room(mlfq_sched_t *s, engine_t *eng, uint64_t now) {
  mlfq_job_t *j;
  unsigned i;

  while (mlfq_kv_free(&s->kv) < eng->n) {
    if (mlfq_kv_evict(&s->kv, NULL))
      continue;
    j = eng->batch[--eng->n];
    j->_engine = -1;
    s->st.running--;
    s->pol->release(s->ps, j, now);
    mlfq_kv_park(&s->kv, j);
  }
  for (i = 0; i < eng->n; i++)
    mlfq_kv_extend(&s->kv, eng->batch[i]);
}

/* Fills eng's free slots in the policy's order while the KV cache lets the
 * candidates in. Under recompute and swap the fill stops at the first
 * candidate that does not fit even after evictions. Under defer a new job
 * that does not fit stops admission (head-of-line), but the jobs already
 * admitted, which hold their KV, still fill the batch: otherwise a new job
 * of higher priority could wait forever for memory that only a waiting
 * admitted job would free. */
static void fill_kv(mlfq_sched_t *s, engine_t *eng, unsigned e) {
  mlfq_cursor_t c;
  mlfq_job_t *j;
  int closed = 0;

  memset(&c, 0, sizeof(c));
  while (eng->n < s->params.max_batch) {
    if (!closed) {
      j = s->pol->next(s->ps, &c);
      if (j == NULL)
        break;
      if (!mlfq_kv_admit(&s->kv, j)) {
        if (s->kv.on_full != MLFQ_ON_FULL_DEFER)
          break;
        closed = 1;
        continue;
      }
    } else {
      j = mlfq_kv_first_resident(&s->kv);
      if (j == NULL || !mlfq_kv_admit(&s->kv, j))
        break;
    }
    take(s, eng, e, j);
  }
}

unsigned mlfq_sched_dispatch(mlfq_sched_t *s, unsigned e, uint64_t now,
                             uint64_t *dur_ns) {
  engine_t *eng = &s->engines[e];
  mlfq_cursor_t c;
  mlfq_job_t *j;
  unsigned before;

  assert(e < s->params.workers);
  if (eng->busy)
    return 0;
  s->pol->refresh(s->ps, now);
  if (s->kv.cap > 0) {
    mlfq_kv_begin(&s->kv);
    if (eng->n > 0 && s->kv.on_full != MLFQ_ON_FULL_DEFER)
      keep_room(s, eng, now);
  }
  before = eng->n; /* kept from the last iteration under preempt=quantum */
  if (s->kv.cap > 0) {
    fill_kv(s, eng, e);
  } else {
    memset(&c, 0, sizeof(c));
    while (eng->n < s->params.max_batch) {
      j = s->pol->next(s->ps, &c);
      if (j == NULL)
        break;
      take(s, eng, e, j);
    }
  }
  s->st.running += eng->n - before;
  if (eng->n == 0)
    return 0;
  eng->busy = 1;
  eng->start_ns = now;
  eng->dur_ns = batch_time(s, eng);
  if (s->kv.cap > 0 && s->kv.moved > 0) /* charged serially, see MODEL.md */
    eng->dur_ns =
        mlfq_add_sat(eng->dur_ns, mlfq_mul_sat(s->kv.moved, s->kv.swap_ns));
  s->st.iterations++;
  *dur_ns = eng->dur_ns;
  return eng->n;
}

unsigned mlfq_sched_complete(mlfq_sched_t *s, unsigned e, uint64_t now,
                             mlfq_job_t **out) {
  engine_t *eng = &s->engines[e];
  unsigned i, n, kept = 0;
  mlfq_job_t *j;
  int used;

  assert(eng->busy);
  n = eng->n;
  for (i = 0; i < n; i++) {
    j = eng->batch[i];
    out[i] = j;
    j->tokens++;
    if (s->kv.cap > 0)
      mlfq_kv_ran(&s->kv, j);
    if (j->tokens == 1)
      j->first_token_ns = now;
    if (j->tokens == j->output_len) {
      j->finish_ns = now;
      j->_engine = -1;
      j->_state = MLFQ_JOB_DONE;
      s->pol->leave(s->ps, j);
      if (s->kv.cap > 0)
        mlfq_kv_release(&s->kv, j);
      s->st.completed++;
      s->st.running--;
      continue;
    }
    used = s->pol->ran(s->ps, j, eng->dur_ns, now);
    if (s->params.preempt == MLFQ_PREEMPT_ITERATION || used) {
      j->_engine = -1;
      s->st.running--;
      s->pol->release(s->ps, j, now);
      if (s->kv.cap > 0)
        mlfq_kv_park(&s->kv, j);
    } else {
      eng->batch[kept++] = j;
    }
  }
  s->st.tokens += n;
  eng->n = kept;
  eng->busy = 0;
  return n;
}

mlfq_job_t *const *mlfq_sched_batch(const mlfq_sched_t *s, unsigned e,
                                    unsigned *n, uint64_t *start_ns,
                                    uint64_t *dur_ns) {
  const engine_t *eng = &s->engines[e];

  if (n != NULL)
    *n = eng->busy ? eng->n : 0;
  if (start_ns != NULL)
    *start_ns = eng->start_ns;
  if (dur_ns != NULL)
    *dur_ns = eng->dur_ns;
  return eng->busy ? eng->batch : NULL;
}

int mlfq_sched_busy(const mlfq_sched_t *s, unsigned e) {
  return s->engines[e].busy;
}

const mlfq_sched_params_t *mlfq_sched_params(const mlfq_sched_t *s) {
  return &s->params;
}

const mlfq_sched_config_t *mlfq_sched_config(const mlfq_sched_t *s) {
  return &s->cfg;
}

const mlfq_cost_t *mlfq_sched_cost(const mlfq_sched_t *s) { return &s->cost; }

const mlfq_policy_t *mlfq_sched_policy(const mlfq_sched_t *s) { return s->pol; }

void mlfq_sched_stats(const mlfq_sched_t *s, mlfq_sched_stats_t *st) {
  *st = s->st;
  st->preemptions = s->kv.preemptions;
  st->swapped_tokens = s->kv.swapped;
  st->kv_used = s->kv.used;
  st->kv_peak = s->kv.peak;
  st->kv_host_jobs = s->kv.host_jobs;
  st->kv_host_tokens = s->kv.host_tokens;
  st->waiting = (size_t)(s->st.submitted - s->st.completed - s->st.cancelled) -
                s->st.running;
}

unsigned mlfq_sched_levels(const mlfq_sched_t *s) {
  return s->pol->levels(s->ps);
}

size_t mlfq_sched_level_len(const mlfq_sched_t *s, unsigned i) {
  return s->pol->level_len(s->ps, i);
}
