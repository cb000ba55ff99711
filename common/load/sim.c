#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
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

int mlfq_sim_run_cluster(const mlfq_sched_config_t *cfg,
                         const mlfq_cost_t *cost, const mlfq_sim_cluster_t *cl,
                         const mlfq_req_t *reqs, size_t n,
                         const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                         char *err, size_t errlen) {
  static const mlfq_sim_hooks_t none;
  mlfq_sched_t **s = NULL;
  mlfq_balance_t bal;
  mlfq_balance_load_t *load = NULL;
  mlfq_sched_stats_t st;
  mlfq_job_t *j, **out = NULL;
  uint64_t t, dur, *done = NULL;
  size_t i, ai, *order = NULL, id;
  unsigned e, k, nb, r, nr, w, ne;
  int nomem, rc, pick;

  if (hooks == NULL)
    hooks = &none;
  memset(res, 0, sizeof(*res));
  memset(&bal, 0, sizeof(bal));
  nr = cl != NULL ? cl->replicas : 1;
  w = cfg->workers;
  if (nr < 1 || nr > MLFQ_SIM_MAX_REPLICAS)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "replicas: %u is not in [1, %d]",
                     nr, MLFQ_SIM_MAX_REPLICAS);
  ne = nr * w;
  s = calloc(nr, sizeof(*s));
  if (s == NULL)
    return mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
  for (r = 0; r < nr; r++) {
    s[r] = mlfq_sched_new(cfg, cost, err, errlen);
    if (s[r] == NULL) {
      rc = MLFQ_EINVAL;
      goto fail;
    }
  }
  rc = mlfq_balance_init(&bal, cl != NULL ? cl->route : 0, nr,
                         cl != NULL ? cl->seed : 0);
  if (rc) {
    mlfq_fail(err, errlen, rc, "out of memory");
    goto fail;
  }
  for (r = 0; r < nr; r++)
    mlfq_balance_set_up(&bal, r, 1);
  order = arrival_order(reqs, n, &nomem);
  res->jobs = calloc(n ? n : 1, sizeof(*res->jobs));
  res->replica = calloc(n ? n : 1, sizeof(*res->replica));
  res->busy_ns = calloc(ne, sizeof(*res->busy_ns));
  load = calloc(n ? n : 1, sizeof(*load));
  done = malloc(ne * sizeof(*done));
  out = malloc(cfg->max_batch * sizeof(*out));
  if (nomem || res->jobs == NULL || res->replica == NULL ||
      res->busy_ns == NULL || load == NULL || done == NULL || out == NULL) {
    rc = mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
    goto fail;
  }
  rc = mlfq_sim_check(cfg, reqs, n, err, errlen);
  if (rc)
    goto fail;
  res->n = n;
  res->workers = ne;
  res->replicas = nr;
  for (e = 0; e < ne; e++)
    done[e] = UINT64_MAX;
  for (i = 0; i < n; i++) {
    j = &res->jobs[i];
    j->id = i;
    j->arrival_ns = reqs[i].arrival_ns;
    j->input_len = reqs[i].input_len;
    j->output_len = reqs[i].output_len;
  }

  ai = 0;
  for (;;) {
    t = UINT64_MAX;
    if (ai < n)
      t = reqs[order ? order[ai] : ai].arrival_ns;
    for (e = 0; e < ne; e++)
      if (done[e] < t)
        t = done[e];
    if (t == UINT64_MAX)
      break;

    while (ai < n && reqs[order ? order[ai] : ai].arrival_ns <= t) {
      id = order ? order[ai] : ai;
      j = &res->jobs[id];
      pick = mlfq_balance_pick(&bal);
      assert(pick >= 0); /* every replica is up */
      res->replica[id] = (uint32_t)pick;
      mlfq_balance_dispatch(&bal, (size_t)pick, &load[id], j->input_len,
                            j->output_len);
      rc = mlfq_sched_submit(s[pick], j, t);
      if (rc) {
        mlfq_fail(err, errlen, rc, "request %zu: %s", id, mlfq_strerror(rc));
        goto fail;
      }
      ai++;
    }
    for (e = 0; e < ne; e++) {
      if (done[e] != t)
        continue;
      r = e / w;
      done[e] = UINT64_MAX;
      nb = mlfq_sched_complete(s[r], e % w, t, out);
      for (k = 0; k < nb; k++) {
        id = (size_t)out[k]->id;
        if (hooks->on_token != NULL)
          hooks->on_token(hooks->ud, id, out[k]->tokens, t);
        mlfq_balance_token(&bal, r, &load[id]);
        if (out[k]->tokens == out[k]->output_len) {
          mlfq_balance_end(&bal, r, &load[id]);
          if (out[k]->finish_ns > res->makespan_ns)
            res->makespan_ns = out[k]->finish_ns;
        }
      }
    }
    for (r = 0; r < nr; r++) {
      for (e = 0; e < w; e++) {
        if (mlfq_sched_busy(s[r], e))
          continue;
        nb = mlfq_sched_dispatch(s[r], e, t, &dur);
        if (nb == 0)
          continue;
        if (dur > MLFQ_TIME_MAX - t) {
          rc = past_the_end(s[r], e, t, dur, err, errlen);
          goto fail;
        }
        done[r * w + e] = t + dur;
        res->busy_ns[r * w + e] += dur;
        if (hooks->on_iteration != NULL)
          hooks->on_iteration(hooks->ud, r * w + e, t, dur,
                              mlfq_sched_batch(s[r], e, NULL, NULL, NULL), nb);
      }
      if (hooks->on_point != NULL)
        hooks->on_point(hooks->ud, s[r], t);
    }
  }
  for (r = 0; r < nr; r++) {
    mlfq_sched_stats(s[r], &st);
    stats_add(&res->stats, &st);
  }
  rc = 0;
  goto out;

fail:
  mlfq_sim_result_free(res);
out:
  for (r = 0; s != NULL && r < nr; r++)
    mlfq_sched_free(s[r]);
  free(s);
  mlfq_balance_free(&bal);
  free(order);
  free(load);
  free(done);
  free(out);
  return rc;
}

void mlfq_sim_result_free(mlfq_sim_result_t *res) {
  free(res->jobs);
  free(res->replica);
  free(res->busy_ns);
  memset(res, 0, sizeof(*res));
}
