/* DESIGN
 *
 * srpt: the oracle that knows every job's output_length and always offers
 * the jobs with the least remaining processing time (ties: arrival order,
 * then id, which is submission order). Remaining time is the job's own
 * cost under the per-job model: its prefill if it has not started, plus one
 * decode per token still to come.
 *
 * Ready jobs that are not running sit in a binary min-heap keyed by
 * (remaining, submission order), the key copied into the heap entry so
 * that sifting stays within the array; each job remembers its slot so that
 * cancellation is O(log n). A job leaves the heap when it joins a batch and
 * returns with its new key when it leaves the batch. srpt has no quantum:
 * under preempt=quantum a started job keeps its engine to the end
 * (non-preemptive shortest job first).
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/units.h"
#include "core/policy.h"

/* A heap entry carries its key, so that sifting compares within the array
 * and touches a job only to record its new slot. */
typedef struct {
  uint64_t remaining;
  uint64_t seq;
  mlfq_job_t *job;
} entry_t;

/* srpt's own state of a job, in its policy slot (job.h). May alias
 * the slot's words, which are only ever read through this type. */
typedef struct __attribute__((may_alias)) {
  uint64_t remaining; /* remaining own processing time: the key */
  uint32_t heap_idx;  /* slot in the heap, UINT32_MAX when out of it */
} pjob_t;

_Static_assert(sizeof(pjob_t) <= sizeof(mlfq_job_policy_t),
               "pjob_t does not fit in a job's policy slot");

static pjob_t *pj(mlfq_job_t *j) { return (pjob_t *)&j->_pj; }

static const pjob_t *cpj(const mlfq_job_t *j) {
  return (const pjob_t *)&j->_pj;
}

typedef struct {
  entry_t *heap;
  size_t n;
  size_t cap;
  size_t unfinished; /* in the heap or running */
} srpt_state_t;

static int before(const entry_t *a, const entry_t *b) {
  if (a->remaining != b->remaining)
    return a->remaining < b->remaining;
  return a->seq < b->seq;
}

/* Puts e in slot i of heap. The heap and the entry are read through
 * locals: the job's slot may alias anything (pjob_t), so a store to it
 * would otherwise make the compiler read h's fields again. */
static void place(entry_t *heap, size_t i, entry_t e) {
  heap[i] = e;
  pj(e.job)->heap_idx = (uint32_t)i;
}

static void sift_up(srpt_state_t *h, size_t i, entry_t e) {
  entry_t *heap = h->heap, p;
  size_t parent;

  while (i > 0) {
    parent = (i - 1) / 2;
    p = heap[parent];
    if (!before(&e, &p))
      break;
    place(heap, i, p);
    i = parent;
  }
  place(heap, i, e);
}

static void sift_down(srpt_state_t *h, size_t i, entry_t e) {
  entry_t *heap = h->heap, c;
  size_t child, n = h->n;

  for (;;) {
    child = 2 * i + 1;
    if (child >= n)
      break;
    if (child + 1 < n && before(&heap[child + 1], &heap[child]))
      child++;
    c = heap[child];
    if (!before(&c, &e))
      break;
    place(heap, i, c);
    i = child;
  }
  place(heap, i, e);
}

static void heap_push(srpt_state_t *h, mlfq_job_t *j) {
  entry_t e = {pj(j)->remaining, j->_seq, j};

  sift_up(h, h->n++, e);
}

static void heap_remove(srpt_state_t *h, mlfq_job_t *j) {
  size_t i = pj(j)->heap_idx;
  entry_t last;

  pj(j)->heap_idx = UINT32_MAX;
  last = h->heap[--h->n];
  if (i == h->n)
    return;
  if (i > 0 && before(&last, &h->heap[(i - 1) / 2]))
    sift_up(h, i, last);
  else
    sift_down(h, i, last);
}

static void *create(const mlfq_sched_params_t *p, const mlfq_cost_t *c,
                    mlfq_sched_stats_t *st) {
  (void)p;
  (void)c;
  (void)st;
  return calloc(1, sizeof(srpt_state_t));
}

static void destroy(void *ps) {
  srpt_state_t *h = ps;

  free(h->heap);
  free(h);
}

static int arrive(void *ps, mlfq_job_t *j, uint64_t now) {
  srpt_state_t *h = ps;
  entry_t *grown;
  size_t cap;

  (void)now;
  /* Every unfinished job may be back in the heap at once: keep room. */
  if (h->unfinished == h->cap) {
    if (h->cap >= UINT32_MAX / 2)
      return MLFQ_ENOMEM;
    cap = h->cap ? h->cap * 2 : 64;
    grown = realloc(h->heap, cap * sizeof(*grown));
    if (grown == NULL)
      return MLFQ_ENOMEM;
    h->heap = grown;
    h->cap = cap;
  }
  h->unfinished++;
  j->level = 0;
  j->initial_level = 0;
  pj(j)->remaining = mlfq_add_sat(
      j->_prefill_ns, mlfq_mul_sat(j->output_len - 1, j->_decode_ns));
  heap_push(h, j);
  return 0;
}

static void refresh(void *ps, uint64_t now) {
  (void)ps;
  (void)now;
}

static mlfq_job_t *next(void *ps, mlfq_cursor_t *c) {
  srpt_state_t *h = ps;

  (void)c;
  return h->n > 0 ? h->heap[0].job : NULL;
}

static void take(void *ps, mlfq_job_t *j) { heap_remove(ps, j); }

/* j got its token j->tokens: its prefill or one decode is done. */
static int ran(void *ps, mlfq_job_t *j, uint64_t dur, uint64_t now) {
  (void)ps;
  (void)dur;
  (void)now;
  pj(j)->remaining -= j->tokens == 1 ? j->_prefill_ns : j->_decode_ns;
  return 0;
}

static void release(void *ps, mlfq_job_t *j, uint64_t now) {
  (void)now;
  heap_push(ps, j);
}

static void leave(void *ps, mlfq_job_t *j) {
  srpt_state_t *h = ps;

  if (pj(j)->heap_idx != UINT32_MAX)
    heap_remove(h, j);
  h->unfinished--;
}

/* The heap's key order. A job's key, its remaining time and _seq, changes
 * only while it runs (out of the heap). */
static int job_before(const void *ps, const mlfq_job_t *a,
                      const mlfq_job_t *b) {
  (void)ps;
  if (cpj(a)->remaining != cpj(b)->remaining)
    return cpj(a)->remaining < cpj(b)->remaining;
  return a->_seq < b->_seq;
}

static unsigned levels(const void *ps) {
  (void)ps;
  return 1;
}

static size_t level_len(const void *ps, unsigned i) {
  return i == 0 ? ((const srpt_state_t *)ps)->unfinished : 0;
}

const mlfq_policy_t mlfq_policy_srpt = {
    .name = "srpt",
    .summary = "oracle: least remaining processing time first",
    .create = create,
    .destroy = destroy,
    .arrive = arrive,
    .refresh = refresh,
    .next = next,
    .take = take,
    .ran = ran,
    .release = release,
    .leave = leave,
    .before = job_before,
    .levels = levels,
    .level_len = level_len};
