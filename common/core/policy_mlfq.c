/* DESIGN
 *
 * The multi-level feedback queue family: fcfs, naive-mlfq and skip-join
 * mlfq (FastServe, Algorithm 1). One intrusive FIFO list per level holds
 * every unfinished job of that level, running ones included, in the order
 * they joined it: a job that runs and keeps its level keeps its place (the
 * docs/MODEL.md's "kept in place"), so no list ever needs a sorted insert. fcfs
 * is the one-level case whose quantum never runs out. Each push stamps the job
 * with a sequence number (lseq), so that `before` compares two jobs'
 * places in O(1): (level, lseq) is exactly the order of next. A job's own
 * state (its links, lseq, attained time, wait start) sits in its policy
 * slot (job.h, pjob_t here), not in fields of the shared job.
 *
 * Engines fill a batch by walking from the head of the highest non-empty
 * level (a 64-bit mask finds it) and skipping running jobs. With one engine
 * nothing is running when it picks, so a pick is O(1); with several, the
 * walk passes at most the jobs the other engines are running.
 *
 * Starvation prevention keeps the waiting jobs of levels 2..K in one more
 * list ordered by when their wait began (a job joins its tail whenever it
 * starts waiting, and leaves it when it runs), so promotion only looks at
 * the head: O(1) per scheduling point plus O(1) per job promoted.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "core/policy.h"

enum { KIND_FCFS, KIND_NAIVE, KIND_SKIP_JOIN };

typedef struct {
  int kind;
  unsigned k;
  uint64_t quantum[MLFQ_MAX_QUEUES];
  uint64_t starve_ns;
  mlfq_sched_stats_t *st;
  uint64_t nonempty; /* bit i: level i has a job */
  uint64_t lseq;     /* pushes so far: a job's lseq orders its level */
  size_t len[MLFQ_MAX_QUEUES];
  mlfq_link_t level[MLFQ_MAX_QUEUES];
  mlfq_link_t wait; /* waiting jobs of levels >= 1, by wait start */
} mlfq_state_t;

/* The family's own state of a job, in its policy slot (job.h). May alias
 * the slot's words, which are only ever read through this type. */
typedef struct __attribute__((may_alias)) {
  mlfq_link_t link;     /* in its level's list */
  mlfq_link_t wlink;    /* in the starvation wait list */
  uint64_t lseq;        /* order of joining its level */
  uint64_t attained_ns; /* time attained in the current level */
  uint64_t wait_ns;     /* start of the current wait (starvation) */
} pjob_t;

_Static_assert(sizeof(pjob_t) <= sizeof(mlfq_job_policy_t),
               "pjob_t does not fit in a job's policy slot");

static pjob_t *pj(mlfq_job_t *j) { return (pjob_t *)&j->_pj; }

static const pjob_t *cpj(const mlfq_job_t *j) {
  return (const pjob_t *)&j->_pj;
}

#define JOB_OF(pjob) MLFQ_CONTAINER_OF((void *)(pjob), mlfq_job_t, _pj)
#define JOB(l) JOB_OF(MLFQ_CONTAINER_OF(l, pjob_t, link))
#define WJOB(l) JOB_OF(MLFQ_CONTAINER_OF(l, pjob_t, wlink))

static void *create(int kind, const mlfq_sched_params_t *p,
                    mlfq_sched_stats_t *st) {
  mlfq_state_t *m;
  unsigned i;

  m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  m->kind = kind;
  m->st = st;
  if (kind == KIND_FCFS) {
    m->k = 1;
    m->quantum[0] = UINT64_MAX;
  } else {
    m->k = p->queues;
    for (i = 0; i < m->k; i++)
      m->quantum[i] = p->quantum_ns[i];
    m->starve_ns = p->starve_ns;
  }
  for (i = 0; i < m->k; i++)
    mlfq_list_init(&m->level[i]);
  mlfq_list_init(&m->wait);
  return m;
}

static void *create_fcfs(const mlfq_sched_params_t *p, const mlfq_cost_t *c,
                         mlfq_sched_stats_t *st) {
  (void)c;
  return create(KIND_FCFS, p, st);
}

static void *create_naive(const mlfq_sched_params_t *p, const mlfq_cost_t *c,
                          mlfq_sched_stats_t *st) {
  (void)c;
  return create(KIND_NAIVE, p, st);
}

static void *create_skip_join(const mlfq_sched_params_t *p,
                              const mlfq_cost_t *c, mlfq_sched_stats_t *st) {
  (void)c;
  return create(KIND_SKIP_JOIN, p, st);
}

static void destroy(void *ps) { free(ps); }

static void level_push(mlfq_state_t *m, mlfq_job_t *j, unsigned lv) {
  j->level = (uint16_t)lv;
  pj(j)->attained_ns = 0;
  pj(j)->lseq = m->lseq++; /* lists only grow at the tail: list order */
  mlfq_list_push_tail(&m->level[lv], &pj(j)->link);
  m->len[lv]++;
  m->nonempty |= UINT64_C(1) << lv;
}

static void level_remove(mlfq_state_t *m, mlfq_job_t *j) {
  unsigned lv = j->level;

  mlfq_list_remove(&pj(j)->link);
  if (--m->len[lv] == 0)
    m->nonempty &= ~(UINT64_C(1) << lv);
}

static void wait_begin(mlfq_state_t *m, mlfq_job_t *j, uint64_t now) {
  if (m->starve_ns == 0 || j->level == 0)
    return;
  pj(j)->wait_ns = now;
  mlfq_list_push_tail(&m->wait, &pj(j)->wlink);
}

/* Skip-join: the highest level whose quantum covers the job's prefill. */
static unsigned join_level(const mlfq_state_t *m, const mlfq_job_t *j) {
  unsigned i;

  if (m->kind != KIND_SKIP_JOIN)
    return 0;
  for (i = 0; i + 1 < m->k; i++)
    if (m->quantum[i] >= j->_prefill_ns)
      break;
  return i;
}

static int arrive(void *ps, mlfq_job_t *j, uint64_t now) {
  mlfq_state_t *m = ps;
  unsigned lv = join_level(m, j);

  mlfq_list_init(&pj(j)->wlink);
  level_push(m, j, lv);
  j->initial_level = (uint16_t)lv;
  wait_begin(m, j, now);
  return 0;
}

static void refresh(void *ps, uint64_t now) {
  mlfq_state_t *m = ps;
  mlfq_job_t *j;

  while (!mlfq_list_empty(&m->wait)) {
    j = WJOB(m->wait.next);
    if (now < pj(j)->wait_ns || now - pj(j)->wait_ns <= m->starve_ns)
      break;
    mlfq_list_remove(&pj(j)->wlink);
    level_remove(m, j);
    level_push(m, j, 0);
    j->promotions++;
    m->st->promotions++;
  }
}

static mlfq_job_t *next(void *ps, mlfq_cursor_t *c) {
  mlfq_state_t *m = ps;
  mlfq_link_t *p, *head;
  uint64_t rest;
  mlfq_job_t *j;
  unsigned lv;

  if (c->pos == NULL) {
    if (m->nonempty == 0)
      return NULL;
    c->level = (unsigned)__builtin_ctzll(m->nonempty);
    c->pos = m->level[c->level].next;
  }
  for (;;) {
    lv = c->level;
    head = &m->level[lv];
    for (p = c->pos; p != head; p = p->next) {
      j = JOB(p);
      if (j->_engine < 0) {
        c->pos = p->next;
        return j;
      }
    }
    rest = lv + 1 < 64 ? m->nonempty & (~UINT64_C(0) << (lv + 1)) : 0;
    if (rest == 0) {
      c->pos = head;
      return NULL;
    }
    c->level = (unsigned)__builtin_ctzll(rest);
    c->pos = m->level[c->level].next;
  }
}

static void take(void *ps, mlfq_job_t *j) {
  (void)ps;
  if (mlfq_list_linked(&pj(j)->wlink))
    mlfq_list_remove(&pj(j)->wlink);
}

static int ran(void *ps, mlfq_job_t *j, uint64_t dur, uint64_t now) {
  mlfq_state_t *m = ps;
  pjob_t *q = pj(j);
  unsigned lv = j->level;

  (void)now;
  q->attained_ns =
      dur > UINT64_MAX - q->attained_ns ? UINT64_MAX : q->attained_ns + dur;
  if (q->attained_ns < m->quantum[lv])
    return 0;
  /* Quantum used: one level down (the last level keeps it), to the tail. */
  level_remove(m, j);
  if (lv + 1 < m->k) {
    lv++;
    j->demotions++;
    m->st->demotions++;
  }
  level_push(m, j, lv);
  return 1;
}

static void release(void *ps, mlfq_job_t *j, uint64_t now) {
  wait_begin(ps, j, now);
}

static void leave(void *ps, mlfq_job_t *j) {
  mlfq_state_t *m = ps;

  level_remove(m, j);
  if (mlfq_list_linked(&pj(j)->wlink))
    mlfq_list_remove(&pj(j)->wlink);
}

/* next's order: levels from the highest, each in list order. */
static int before(const void *ps, const mlfq_job_t *a, const mlfq_job_t *b) {
  (void)ps;
  if (a->level != b->level)
    return a->level < b->level;
  return cpj(a)->lseq < cpj(b)->lseq;
}

static unsigned levels(const void *ps) { return ((const mlfq_state_t *)ps)->k; }

static size_t level_len(const void *ps, unsigned i) {
  const mlfq_state_t *m = ps;
  return i < m->k ? m->len[i] : 0;
}

/* The operations the three variants share; they differ in create. */
#define MLFQ_FAMILY_OPS                                                        \
  .destroy = destroy, .arrive = arrive, .refresh = refresh, .next = next,      \
  .take = take, .ran = ran, .release = release, .leave = leave,                \
  .before = before, .levels = levels, .level_len = level_len

const mlfq_policy_t mlfq_policy_fcfs = {
    .name = "fcfs",
    .summary = "first come, first served; never preempts",
    .create = create_fcfs,
    MLFQ_FAMILY_OPS};

const mlfq_policy_t mlfq_policy_naive_mlfq = {
    .name = "naive-mlfq",
    .summary = "multi-level feedback queue; every job joins level 1",
    .create = create_naive,
    MLFQ_FAMILY_OPS};

const mlfq_policy_t mlfq_policy_mlfq = {
    .name = "mlfq",
    .summary =
        "skip-join MLFQ: joins the level whose quantum covers its prefill",
    .create = create_skip_join,
    MLFQ_FAMILY_OPS};
