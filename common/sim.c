#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sim.h"

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

int mlfq_sim_run(const mlfq_sched_config_t *cfg, const mlfq_cost_t *cost,
                 const mlfq_req_t *reqs, size_t n,
                 const mlfq_sim_hooks_t *hooks, mlfq_sim_result_t *res,
                 char *err, size_t errlen) {
  static const mlfq_sim_hooks_t none;
  mlfq_sched_t *s;
  mlfq_job_t *j, **out = NULL;
  uint64_t t, dur, *done = NULL;
  size_t i, ai, *order;
  unsigned e, k, nb;
  int nomem, rc;

  if (hooks == NULL)
    hooks = &none;
  memset(res, 0, sizeof(*res));
  s = mlfq_sched_new(cfg, cost, err, errlen);
  if (s == NULL)
    return MLFQ_EINVAL;
  order = arrival_order(reqs, n, &nomem);
  res->jobs = calloc(n ? n : 1, sizeof(*res->jobs));
  res->busy_ns = calloc(cfg->workers, sizeof(*res->busy_ns));
  done = malloc(cfg->workers * sizeof(*done));
  out = malloc(cfg->max_batch * sizeof(*out));
  if (nomem || res->jobs == NULL || res->busy_ns == NULL || done == NULL ||
      out == NULL) {
    rc = mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
    goto fail;
  }
  res->n = n;
  res->workers = cfg->workers;
  for (e = 0; e < cfg->workers; e++)
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
    for (e = 0; e < cfg->workers; e++)
      if (done[e] < t)
        t = done[e];
    if (t == UINT64_MAX)
      break;

    while (ai < n && reqs[order ? order[ai] : ai].arrival_ns <= t) {
      j = &res->jobs[order ? order[ai] : ai];
      rc = mlfq_sched_submit(s, j, t);
      if (rc) {
        mlfq_fail(err, errlen, rc, "request %zu: %s", (size_t)j->id,
                  mlfq_strerror(rc));
        goto fail;
      }
      ai++;
    }
    for (e = 0; e < cfg->workers; e++) {
      if (done[e] != t)
        continue;
      done[e] = UINT64_MAX;
      nb = mlfq_sched_complete(s, e, t, out);
      if (hooks->on_token != NULL)
        for (k = 0; k < nb; k++)
          hooks->on_token(hooks->ud, (size_t)out[k]->id, out[k]->tokens, t);
      for (k = 0; k < nb; k++)
        if (out[k]->finish_ns > res->makespan_ns)
          res->makespan_ns = out[k]->finish_ns;
    }
    for (e = 0; e < cfg->workers; e++) {
      if (mlfq_sched_busy(s, e))
        continue;
      nb = mlfq_sched_dispatch(s, e, t, &dur);
      if (nb == 0)
        continue;
      done[e] = t + dur;
      res->busy_ns[e] += dur;
      if (hooks->on_iteration != NULL)
        hooks->on_iteration(hooks->ud, e, t, dur,
                            mlfq_sched_batch(s, e, NULL, NULL, NULL), nb);
    }
    if (hooks->on_point != NULL)
      hooks->on_point(hooks->ud, s, t);
  }
  mlfq_sched_stats(s, &res->stats);
  mlfq_sched_free(s);
  free(order);
  free(done);
  free(out);
  return 0;

fail:
  mlfq_sched_free(s);
  free(order);
  free(done);
  free(out);
  mlfq_sim_result_free(res);
  return rc;
}

void mlfq_sim_result_free(mlfq_sim_result_t *res) {
  free(res->jobs);
  free(res->busy_ns);
  memset(res, 0, sizeof(*res));
}
