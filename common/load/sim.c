#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "core/kv.h"
#include "core/point.h"
#include "load/sim.h"

typedef struct {
  uint64_t t;
  size_t id;
} arrival_t;

static int by_arrival(const void *a, const void *b) {
  const arrival_t *x = a, *y = b;

  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id);
}

/* Request indices in arrival order, ties by id; NULL when the requests
 * already are in that order (the common case) or on ENOMEM (*nomem set). */
static size_t *arrival_order(const mlfq_req_t *reqs, size_t n, int *nomem) {
  arrival_t *a;
  size_t i, *order;

  *nomem = 0;
  for (i = 1; i < n; i++)
    if (reqs[i].arrival_ns < reqs[i - 1].arrival_ns)
      break;
  if (i >= n)
    return NULL;
  order = malloc(n * sizeof(*order));
  a = malloc(n * sizeof(*a));
  if (order == NULL || a == NULL) {
    free(order);
    free(a);
    *nomem = 1;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    a[i].t = reqs[i].arrival_ns;
    a[i].id = i;
  }
  qsort(a, n, sizeof(*a), by_arrival);
  for (i = 0; i < n; i++)
    order[i] = a[i].id;
  free(a);
  return order;
}

int mlfq_sim_check(const mlfq_sched_config_t *cfg, const mlfq_req_t *reqs,
                   size_t n, char *err, size_t errlen) {
  uint64_t need, cap = cfg->kv_capacity_tokens;
  size_t i;

  for (i = 0; i < n; i++)
    if (reqs[i].arrival_ns > MLFQ_TIME_MAX)
      return mlfq_fail(err, errlen, MLFQ_ERANGE,
                       "request %zu: arrival %llu ns is past the largest time "
                       "(%s)",
                       i, (unsigned long long)reqs[i].arrival_ns,
                       MLFQ_TIME_MAX_TEXT);
  for (i = 0; i < n && cap > 0; i++) {
    need = (uint64_t)reqs[i].input_len + reqs[i].output_len;
    if (!mlfq_kv_fits(cap, reqs[i].input_len, reqs[i].output_len))
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "request %zu: needs %llu KV tokens (input_length %u + "
                       "output_length %u), more than the KV capacity of %llu",
                       i, (unsigned long long)need, reqs[i].input_len,
                       reqs[i].output_len, (unsigned long long)cap);
  }
  return 0;
}

/* The error of an iteration of engine e of s, from t for dur, that would
 * end past the largest time. Returns MLFQ_ERANGE. */
static int past_the_end(const mlfq_sched_t *s, unsigned e, uint64_t t,
                        uint64_t dur, char *err, size_t errlen) {
  char at[MLFQ_MS_BUFSIZE], len[MLFQ_MS_BUFSIZE];
  mlfq_job_t *const *b;
  unsigned i, n = 0;

  b = mlfq_sched_batch(s, e, &n, NULL, NULL);
  for (i = 0; i < n && b[i] == NULL; i++)
    ;
  mlfq_ms_format(t, at);
  if (dur == UINT64_MAX)
    snprintf(len, sizeof(len), "over 18446744073709 ms");
  else
    mlfq_ms_format(dur, len);
  return mlfq_fail(err, errlen, MLFQ_ERANGE,
                   "request %llu: its iteration at %s ms takes %s ms and "
                   "would end past the largest time (%s)",
                   i < n ? (unsigned long long)b[i]->id : 0ULL, at, len,
                   MLFQ_TIME_MAX_TEXT);
}

int mlfq_sim_run(const mlfq_sched_config_t *cfg, const mlfq_cost_t *cost,
                 const mlfq_req_t *reqs, size_t n,
                 const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                 char *err, size_t errlen) {
  return mlfq_sim_run_cluster(cfg, cost, NULL, reqs, n, hooks, res, err,
                              errlen);
}

/* Adds replica stats b into a: counters sum, the KV peak is the highest. */
static void stats_add(mlfq_sched_stats_t *a, const mlfq_sched_stats_t *b) {
  a->submitted += b->submitted;
  a->completed += b->completed;
  a->cancelled += b->cancelled;
  a->tokens += b->tokens;
  a->iterations += b->iterations;
  a->demotions += b->demotions;
  a->promotions += b->promotions;
  a->preemptions += b->preemptions;
  a->swapped_tokens += b->swapped_tokens;
  a->kv_used += b->kv_used;
  if (b->kv_peak > a->kv_peak)
    a->kv_peak = b->kv_peak;
  a->running += b->running;
  a->waiting += b->waiting;
}

/* The simulator's side of the scheduling points (core/point.h): arrivals
 * come from the sorted requests and are routed by the balancer; ends are
 * reported as soon as an iteration starts. */
typedef struct {
  const mlfq_sim_hooks_t *hooks;
  const mlfq_req_t *reqs;
  size_t n, ai;  /* requests, and how many were submitted */
  size_t *order; /* arrival order, NULL: the requests are in it */
  mlfq_sched_t **s;
  mlfq_point_ops_t ops; /* picked only with an on_point hook */
  mlfq_point_t pt;
  mlfq_balance_t bal;
  mlfq_balance_load_t *load;
  mlfq_sim_result_t *res;
  unsigned w; /* engines per replica */
  char *err;
  size_t errlen;
} sim_t;

static uint64_t next_arrival(void *ud) {
  const sim_t *sm = ud;

  if (sm->ai >= sm->n)
    return MLFQ_POINT_NONE;
  return sm->reqs[sm->order ? sm->order[sm->ai] : sm->ai].arrival_ns;
}

static int arrive(void *ud, uint64_t t) {
  sim_t *sm = ud;
  size_t id = sm->order ? sm->order[sm->ai] : sm->ai;
  mlfq_job_t *j = &sm->res->jobs[id];
  int pick, rc;

  pick = mlfq_balance_pick(&sm->bal);
  assert(pick >= 0); /* every replica is up */
  sm->res->replica[id] = (uint32_t)pick;
  mlfq_balance_dispatch(&sm->bal, (size_t)pick, &sm->load[id], j->input_len,
                        j->output_len);
  rc = mlfq_sched_submit(sm->s[pick], j, t);
  if (rc)
    return mlfq_fail(sm->err, sm->errlen, rc, "request %zu: %s", id,
                     mlfq_strerror(rc));
  sm->ai++;
  return 0;
}

static void ended(void *ud, unsigned e, uint64_t t, mlfq_job_t *const *out,
                  unsigned n) {
  sim_t *sm = ud;
  unsigned k, r = e / sm->w;
  size_t id;

  for (k = 0; k < n; k++) {
    id = (size_t)out[k]->id;
    if (sm->hooks->on_token != NULL)
      sm->hooks->on_token(sm->hooks->ud, id, out[k]->tokens, t);
    mlfq_balance_token(&sm->bal, r, &sm->load[id]);
    if (out[k]->tokens == out[k]->output_len) {
      mlfq_balance_end(&sm->bal, r, &sm->load[id]);
      if (out[k]->finish_ns > sm->res->makespan_ns)
        sm->res->makespan_ns = out[k]->finish_ns;
    }
  }
}

static int started(void *ud, unsigned e, uint64_t t, uint64_t dur,
                   uint64_t end) {
  sim_t *sm = ud;
  mlfq_sched_t *s = sm->s[e / sm->w];
  mlfq_job_t *const *b;
  unsigned n;

  (void)end;
  if (dur > MLFQ_TIME_MAX - t)
    return past_the_end(s, e % sm->w, t, dur, sm->err, sm->errlen);
  mlfq_point_report(&sm->pt, e); /* its end is known: no clock to wait for */
  sm->res->busy_ns[e] += dur;
  if (sm->hooks->on_iteration != NULL) {
    b = mlfq_sched_batch(s, e % sm->w, &n, NULL, NULL);
    sm->hooks->on_iteration(sm->hooks->ud, e, t, dur, b, n);
  }
  return 0;
}

static void picked(void *ud, unsigned r, uint64_t t) {
  sim_t *sm = ud;

  if (sm->hooks->on_point != NULL)
    sm->hooks->on_point(sm->hooks->ud, sm->s[r], t);
}

/* Sets up sm's schedulers, balancer and result for nr replicas. Returns 0
 * or a negative code with sm->err set. */
static int sim_init(sim_t *sm, const mlfq_sched_config_t *cfg,
                    const mlfq_cost_t *cost, const mlfq_sim_cluster_t *cl,
                    unsigned nr) {
  mlfq_sim_result_t *res = sm->res;
  size_t i, n = sm->n;
  mlfq_job_t *j;
  unsigned r;
  int nomem, rc;

  sm->s = calloc(nr, sizeof(*sm->s));
  if (sm->s == NULL)
    return mlfq_fail(sm->err, sm->errlen, MLFQ_ENOMEM, "out of memory");
  for (r = 0; r < nr; r++) {
    sm->s[r] = mlfq_sched_new(cfg, cost, sm->err, sm->errlen);
    if (sm->s[r] == NULL)
      return MLFQ_EINVAL;
  }
  rc = mlfq_balance_init(&sm->bal, cl != NULL ? cl->route : 0, nr,
                         cl != NULL ? cl->seed : 0);
  if (rc)
    return mlfq_fail(sm->err, sm->errlen, rc, "out of memory");
  for (r = 0; r < nr; r++)
    mlfq_balance_set_up(&sm->bal, r, 1);
  sm->order = arrival_order(sm->reqs, n, &nomem);
  res->jobs = calloc(n ? n : 1, sizeof(*res->jobs));
  res->replica = calloc(n ? n : 1, sizeof(*res->replica));
  res->busy_ns = calloc((size_t)nr * sm->w, sizeof(*res->busy_ns));
  sm->load = calloc(n ? n : 1, sizeof(*sm->load));
  if (nomem || res->jobs == NULL || res->replica == NULL ||
      res->busy_ns == NULL || sm->load == NULL ||
      mlfq_point_init(&sm->pt, sm->s, nr, &sm->ops, sm) != 0)
    return mlfq_fail(sm->err, sm->errlen, MLFQ_ENOMEM, "out of memory");
  rc = mlfq_sim_check(cfg, sm->reqs, n, sm->err, sm->errlen);
  if (rc)
    return rc;
  res->n = n;
  res->workers = nr * sm->w;
  res->replicas = nr;
  for (i = 0; i < n; i++) {
    j = &res->jobs[i];
    j->id = i;
    j->arrival_ns = sm->reqs[i].arrival_ns;
    j->input_len = sm->reqs[i].input_len;
    j->output_len = sm->reqs[i].output_len;
  }
  return 0;
}

int mlfq_sim_run_cluster(const mlfq_sched_config_t *cfg,
                         const mlfq_cost_t *cost, const mlfq_sim_cluster_t *cl,
                         const mlfq_req_t *reqs, size_t n,
                         const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                         char *err, size_t errlen) {
  static const mlfq_sim_hooks_t none;
  mlfq_sched_stats_t st;
  sim_t sm;
  unsigned r, nr;
  int rc;

  memset(res, 0, sizeof(*res));
  memset(&sm, 0, sizeof(sm));
  nr = cl != NULL ? cl->replicas : 1;
  if (nr < 1 || nr > MLFQ_SIM_MAX_REPLICAS)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "replicas: %u is not in [1, %d]",
                     nr, MLFQ_SIM_MAX_REPLICAS);
  sm.hooks = hooks != NULL ? hooks : &none;
  sm.ops = (mlfq_point_ops_t){next_arrival, arrive, ended, started,
                              sm.hooks->on_point != NULL ? picked : NULL};
  sm.reqs = reqs;
  sm.n = n;
  sm.res = res;
  sm.w = cfg->workers;
  sm.err = err;
  sm.errlen = errlen;
  rc = sim_init(&sm, cfg, cost, cl, nr);
  if (rc == 0)
    rc = mlfq_point_run(&sm.pt);
  if (rc == 0) {
    for (r = 0; r < nr; r++) {
      mlfq_sched_stats(sm.s[r], &st);
      stats_add(&res->stats, &st);
    }
  } else {
    mlfq_sim_result_free(res);
  }
  mlfq_point_free(&sm.pt);
  for (r = 0; sm.s != NULL && r < nr; r++)
    mlfq_sched_free(sm.s[r]);
  free(sm.s);
  mlfq_balance_free(&sm.bal);
  free(sm.order);
  free(sm.load);
  return rc;
}

void mlfq_sim_result_free(mlfq_sim_result_t *res) {
  free(res->jobs);
  free(res->replica);
  free(res->busy_ns);
  memset(res, 0, sizeof(*res));
}
