/* DESIGN
 *
 * The KV cache accounting of the scheduler core (docs/MODEL.md, "Memory
 * (KV cache)"). It owns the count of tokens in use and its peak, the
 * eviction counters, and one intrusive list: the resident jobs, those that
 * hold KV and sit in no batch. Only those can be evicted (a job in a batch,
 * on any engine, is never touched), so a victim is found by scanning that
 * list with the policy's `before` order: O(resident jobs), which the
 * capacity bounds (each holds at least one token), never the queue length.
 * The list is in no particular order; nothing here keeps it sorted, so a
 * job joins and leaves it in O(1) on the fast path.
 *
 * What a job holds (j->_kv):
 * - defer: nothing until its first dispatch, then its whole footprint,
 *   input_len + output_len, until it finishes or is cancelled;
 * - recompute and swap: input_len + tokens while resident, one more while
 *   in a batch (the slot its next token fills), nothing once evicted.
 *
 * Everything is touched by the driver's thread only, through sched.c, and
 * only when a capacity is set.
 */
#include <assert.h>
#include <string.h>

#include "base/error.h"
#include "core/kv.h"
#include "core/policy.h"

#define RJOB(link) MLFQ_CONTAINER_OF(link, mlfq_job_t, _mlink)

static const char *const names[] = {"defer", "recompute", "swap"};

const char *mlfq_on_full_name(mlfq_on_full_t m) {
  return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

int mlfq_on_full_parse(const char *name, mlfq_on_full_t *m) {
  unsigned i;

  for (i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(name, names[i]) == 0) {
      *m = (mlfq_on_full_t)i;
      return 0;
    }
  }
  return MLFQ_EINVAL;
}

int mlfq_kv_fits(uint64_t cap, uint64_t in, uint64_t out) {
  return cap == 0 || (in <= cap && out <= cap - in);
}

void mlfq_kv_init(mlfq_kv_t *kv, uint64_t cap, mlfq_on_full_t on_full,
                  uint64_t swap_ns, const mlfq_policy_t *pol, void *ps) {
  memset(kv, 0, sizeof(*kv));
  kv->cap = cap;
  kv->on_full = on_full;
  kv->swap_ns = swap_ns;
  kv->pol = pol;
  kv->ps = ps;
  mlfq_list_init(&kv->resident);
}

static void grow(mlfq_kv_t *kv, mlfq_job_t *j, uint64_t n) {
  j->_kv += n;
  kv->used += n;
  assert(kv->used <= kv->cap);
  if (kv->used > kv->peak)
    kv->peak = kv->used;
}

/* Evicts resident job v: its KV is dropped or swapped out. */
static void drop(mlfq_kv_t *kv, mlfq_job_t *v) {
  uint64_t n = v->_kv;

  assert(n == (uint64_t)v->input_len + v->tokens);
  mlfq_list_remove(&v->_mlink);
  kv->used -= n;
  v->_kv = 0;
  v->preemptions++;
  kv->preemptions++;
  if (kv->on_full == MLFQ_ON_FULL_SWAP) {
    v->_kvstate = MLFQ_KV_SWAPPED;
    v->swapped_tokens += n;
    kv->swapped += n;
    kv->moved += n;
    kv->host_jobs++;
    kv->host_tokens += n;
  } else {
    v->_kvstate = MLFQ_KV_DROPPED;
  }
}

/* j's KV leaves host memory: moved back in, or dropped with j. Its tokens
 * have not changed since it was swapped out (it ran no iteration). */
static void host_leave(mlfq_kv_t *kv, const mlfq_job_t *j) {
  uint64_t n = (uint64_t)j->input_len + j->tokens;

  assert(kv->host_jobs > 0 && kv->host_tokens >= n);
  kv->host_jobs--;
  kv->host_tokens -= n;
}

int mlfq_kv_evict(mlfq_kv_t *kv, const mlfq_job_t *after) {
  const mlfq_policy_t *pol = kv->pol;
  mlfq_job_t *v, *victim = NULL;
  mlfq_link_t *l;

  assert(kv->on_full != MLFQ_ON_FULL_DEFER);
  for (l = kv->resident.next; l != &kv->resident; l = l->next) {
    v = RJOB(l);
    if (after != NULL && !pol->before(kv->ps, after, v))
      continue;
    if (victim == NULL || pol->before(kv->ps, victim, v))
      victim = v;
  }
  if (victim == NULL)
    return 0;
  drop(kv, victim);
  return 1;
}

/* 1 if evicting every resident job scheduled after j would free at least
 * deficit tokens. */
static int room_after(const mlfq_kv_t *kv, const mlfq_job_t *j,
                      uint64_t deficit) {
  const mlfq_link_t *l;
  const mlfq_job_t *v;
  uint64_t sum = 0;

  for (l = kv->resident.next; l != &kv->resident; l = l->next) {
    v = RJOB(l);
    if (kv->pol->before(kv->ps, j, v)) {
      sum += v->_kv;
      if (sum >= deficit)
        return 1;
    }
  }
  return 0;
}

int mlfq_kv_admit(mlfq_kv_t *kv, mlfq_job_t *j) {
  uint64_t need, back = (uint64_t)j->input_len + j->tokens;

  if (kv->on_full == MLFQ_ON_FULL_DEFER) {
    need = j->_kv > 0 ? 0 : mlfq_kv_footprint(j);
    if (need > mlfq_kv_free(kv))
      return 0;
    j->_kvstate = MLFQ_KV_IN;
  } else {
    need = j->_kvstate == MLFQ_KV_IN ? 1 : back + 1;
    if (need > mlfq_kv_free(kv)) {
      if (!room_after(kv, j, need - mlfq_kv_free(kv)))
        return 0;
      while (need > mlfq_kv_free(kv) && mlfq_kv_evict(kv, j))
        ;
      assert(need <= mlfq_kv_free(kv));
    }
    if (j->_kvstate == MLFQ_KV_SWAPPED) {
      j->swapped_tokens += back;
      kv->swapped += back;
      kv->moved += back;
      host_leave(kv, j);
    }
    j->_kvstate = j->_kvstate == MLFQ_KV_DROPPED ? MLFQ_KV_REFILL : MLFQ_KV_IN;
  }
  if (mlfq_list_linked(&j->_mlink))
    mlfq_list_remove(&j->_mlink);
  grow(kv, j, need);
  return 1;
}

mlfq_job_t *mlfq_kv_first_resident(const mlfq_kv_t *kv) {
  mlfq_job_t *v, *first = NULL;
  const mlfq_link_t *l;

  for (l = kv->resident.next; l != &kv->resident; l = l->next) {
    v = RJOB(l);
    if (first == NULL || kv->pol->before(kv->ps, v, first))
      first = v;
  }
  return first;
}

void mlfq_kv_extend(mlfq_kv_t *kv, mlfq_job_t *j) {
  if (kv->on_full != MLFQ_ON_FULL_DEFER)
    grow(kv, j, 1);
}

void mlfq_kv_ran(mlfq_kv_t *kv, mlfq_job_t *j) {
  (void)kv;
  if (j->_kvstate == MLFQ_KV_REFILL)
    j->_kvstate = MLFQ_KV_IN;
}

void mlfq_kv_park(mlfq_kv_t *kv, mlfq_job_t *j) {
  mlfq_list_push_tail(&kv->resident, &j->_mlink);
}

void mlfq_kv_release(mlfq_kv_t *kv, mlfq_job_t *j) {
  if (mlfq_list_linked(&j->_mlink))
    mlfq_list_remove(&j->_mlink);
  if (j->_kvstate == MLFQ_KV_SWAPPED) /* cancelled while swapped out */
    host_leave(kv, j);
  kv->used -= j->_kv;
  j->_kv = 0;
}
