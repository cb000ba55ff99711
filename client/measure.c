/* DESIGN: the measurements of one loadgen run, from its per-request
 * record (run.h), on the main thread after the run's loop has ended. The
 * trace is written by merging the requests' token times, which needs
 * memory for one entry per request, not one per token. */
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hist.h"
#include "base/units.h"
#include "load/report.h"
#include "load/sim.h"
#include "wire/wire.h"

/* Model ns since the run's time 0 of a uv_hrtime() reading, at most the
 * largest time (a run of hours at a tiny time_scale could pass it). */
static uint64_t model_ns(const lg_result_t *r, uint64_t wall) {
  double m = (double)(wall - r->t0_wall) / r->time_scale;

  return m < 9.2e18 ? (uint64_t)m : MLFQ_TIME_MAX;
}

void lg_outcomes(const lg_result_t *r, mlfq_outcome_t *o,
                 char (*names)[LG_STATUS_NAME_MAX]) {
  size_t i;

  for (i = 0; i < r->n; i++) {
    const lg_req_t *q = &r->reqs[i];
    o[i].arrival_ns =
        model_ns(r, q->sent_wall ? q->sent_wall : q->intended_wall);
    o[i].first_token_ns =
        q->tokens > 0 ? model_ns(r, q->first_wall) : MLFQ_TIME_NONE;
    o[i].finish_ns =
        q->state == LG_DONE ? model_ns(r, q->last_wall) : MLFQ_TIME_NONE;
    o[i].input_len = q->input_len;
    o[i].output_len = q->output_len;
    o[i].preemptions = q->preemptions;
    o[i].swapped_tokens = q->swapped_tokens;
    o[i].replica = q->replica;
    o[i].status = q->state == LG_DONE
                      ? NULL
                      : lg_status_name(q->status, names[i], sizeof(names[i]));
  }
}

void lg_count_failures(lg_report_t *rep, const mlfq_outcome_t *o, size_t n) {
  cJSON *item;
  size_t i;

  rep->failures = cJSON_CreateObject();
  if (rep->failures == NULL)
    return;
  for (i = 0; i < n; i++) {
    if (o[i].status == NULL)
      continue;
    item = cJSON_GetObjectItemCaseSensitive(rep->failures, o[i].status);
    if (item != NULL)
      cJSON_SetNumberValue(item, item->valuedouble + 1);
    else
      cJSON_AddNumberToObject(rep->failures, o[i].status, 1);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void lg_model_error(const lg_result_t *r, lg_report_t *rep) {
  mlfq_sched_config_t cfg;
  mlfq_sim_result_t sim;
  mlfq_req_t *reqs;
  mlfq_cost_t cost;
  double *diff, measured = 0, model = 0, m, d;
  size_t i, within = 0;
  char err[256];

  if (r->welcome == NULL || rep->sum.failed > 0)
    return;
  if (r->welcome->welcome->replicas > 1) {
    rep->replicas = r->welcome->welcome->replicas;
    return;
  }
  if (mlfq_wire_config_parse(r->welcome->welcome->config, &cfg, &cost, NULL,
                             err, sizeof(err)) != 0) {
    snprintf(rep->model_why, sizeof(rep->model_why),
             "this loadgen cannot replay the server's configuration: %s", err);
    return;
  }
  reqs = calloc(r->n, sizeof(*reqs));
  diff = calloc(r->n, sizeof(*diff));
  if (reqs != NULL && diff != NULL) {
    for (i = 0; i < r->n; i++) {
      reqs[i].arrival_ns = r->reqs[i].srv_arrival_ns;
      reqs[i].input_len = r->reqs[i].input_len;
      reqs[i].output_len = r->reqs[i].output_len;
    }
    if (mlfq_sim_run(&cfg, &cost, reqs, r->n, NULL, &sim, err, sizeof(err)) ==
        0) {
      for (i = 0; i < r->n; i++) {
        m = (double)(sim.jobs[i].finish_ns - sim.jobs[i].arrival_ns) / 1e6;
        d = lg_model_ms(r, r->reqs[i].sent_wall, r->reqs[i].last_wall);
        measured += d;
        model += m;
        diff[i] = fabs(d - m);
        within += diff[i] <= 0.5;
        rep->diff_mean_ms += diff[i];
      }
      qsort(diff, r->n, sizeof(*diff), cmp_double);
      rep->diff_mean_ms /= (double)r->n;
      rep->diff_p95_ms = mlfq_percentile(diff, r->n, 95);
      rep->err_mean_pct = model > 0 ? (measured - model) / model * 100 : 0;
      rep->within_half_ms = (double)within / (double)r->n;
      rep->model_ok = 1;
      mlfq_sim_result_free(&sim);
    } else {
      snprintf(rep->model_why, sizeof(rep->model_why),
               "this loadgen cannot replay the server's configuration: %s",
               err);
    }
  }
  free(reqs);
  free(diff);
  mlfq_cost_free(&cost);
}

void lg_late(const lg_result_t *r, lg_report_t *rep) {
  size_t i;

  rep->late = 0;
  rep->late_max_ns = 0;
  for (i = 0; i < r->n; i++) {
    if (r->reqs[i].late_ns == 0)
      continue;
    rep->late++;
    if (r->reqs[i].late_ns > rep->late_max_ns)
      rep->late_max_ns = r->reqs[i].late_ns;
  }
}

void lg_send_error(const lg_result_t *r, lg_report_t *rep) {
  mlfq_hist_t *h = malloc(sizeof(*h));
  uint64_t first, last;
  size_t i;

  if (h == NULL)
    return;
  mlfq_hist_init(h);
  for (i = 0; i < r->n; i++)
    if (r->reqs[i].sent_wall != 0)
      mlfq_hist_add(h, r->reqs[i].sent_wall > r->reqs[i].intended_wall
                           ? r->reqs[i].sent_wall - r->reqs[i].intended_wall
                           : 0);
  first = UINT64_MAX;
  last = 0;
  for (i = 0; i < r->n; i++) {
    if (r->reqs[i].sent_wall == 0)
      continue;
    if (r->reqs[i].sent_wall < first)
      first = r->reqs[i].sent_wall;
    if (r->reqs[i].sent_wall > last)
      last = r->reqs[i].sent_wall;
  }
  if (h->n > 1 && last > first)
    rep->sent_per_s = (double)(h->n - 1) / ((double)(last - first) / 1e9);
  rep->send_p50 = mlfq_hist_percentile(h, 50);
  rep->send_p99 = mlfq_hist_percentile(h, 99);
  rep->send_max = h->n ? h->max : 0;
  free(h);
}

/* The trace is a k-way merge of the requests' token times (each request's
 * are in order): a min-heap holds each request's next token, so writing it
 * needs memory for one entry per request, not one per token. */
typedef struct {
  uint64_t t;
  uint32_t job;
  uint32_t k; /* index of the token in the request */
} head_t;

static int head_before(const head_t *a, const head_t *b) {
  if (a->t != b->t)
    return a->t < b->t;
  return a->job < b->job;
}

static void sift_down(head_t *h, size_t n, size_t i) {
  head_t x = h[i];
  size_t c;

  for (;;) {
    c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && head_before(&h[c + 1], &h[c]))
      c++;
    if (!head_before(&h[c], &x))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

int lg_write_trace(const char *path, const lg_result_t *r) {
  head_t *h = malloc((r->n ? r->n : 1) * sizeof(*h));
  const lg_req_t *q;
  size_t n = 0, i;
  FILE *f = fopen(path, "w");

  if (h == NULL || f == NULL) {
    free(h);
    if (f != NULL)
      fclose(f);
    fprintf(stderr, "loadgen: cannot write %s\n", path);
    return 1;
  }
  for (i = 0; i < r->n; i++) {
    q = &r->reqs[i];
    if (q->tok_wall != NULL && q->tokens > 0) {
      h[n].t = model_ns(r, q->tok_wall[0]);
      h[n].job = (uint32_t)i;
      h[n].k = 0;
      n++;
    }
  }
  for (i = n; i-- > 0;)
    sift_down(h, n, i);
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  mlfq_report_trace_header(f);
  while (n > 0) {
    q = &r->reqs[h[0].job];
    mlfq_report_trace_line(f, h[0].t, h[0].job, h[0].k + 1);
    if (++h[0].k < q->tokens && h[0].k < q->output_len)
      h[0].t = model_ns(r, q->tok_wall[h[0].k]);
    else
      h[0] = h[--n];
    sift_down(h, n, 0);
  }
  free(h);
  if (ferror(f) | fclose(f)) {
    fprintf(stderr, "loadgen: error writing %s\n", path);
    return 1;
  }
  return 0;
}
