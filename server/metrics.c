/* DESIGN: GET /metrics in Prometheus' text format (common/http/prom.c).
 *
 * Two kinds of figure. The server's statistics (server_stats_t, the
 * figures of a StatsReply) are read when /metrics is scraped and turned
 * into text then; nothing is formatted between scrapes. The histograms and
 * the few counters the scheduler does not keep (server_metrics_t) are
 * observed as requests run, from the scheduling point (server.c): at an
 * iteration's start (its tokens; a request's first start, its queue time),
 * at every token (the first: time to first token; the others: the gap
 * since the previous one) and at a request's last token (its latencies and
 * lengths). An observation is a binary search over at most 32 bounds and
 * three additions, with no allocation and no lock (the loop thread owns
 * it all): small beside the rest of a token's work, at hundreds of
 * thousands of tokens a second.
 *
 * vLLM v1's metric set under its names, types, label sets (model_name,
 * engine) and buckets, so that vLLM's example Grafana dashboard shows
 * mlfqd unchanged (data/vllm_grafana_queries.txt; the test that runs its
 * queries against a real Prometheus is tests/server/test-dashboard.c).
 * engine is "0": mlfqd has one scheduler, which vLLM calls an engine core,
 * however many engine threads run its batches. Older names the dashboard
 * still reads are kept: vllm:gpu_cache_usage_perc beside its successor
 * vllm:kv_cache_usage_perc, and vllm:cpu_cache_usage_perc and
 * vllm:num_requests_swapped, which vLLM v1 dropped (it does not swap) and
 * mlfqd's --on-full swap gives a meaning. mlfqd's own figures are under
 * mlfqd_. Every time is model time, as everywhere in mlfqd. The list and
 * what each figure counts here is in docs/HTTP.md, "Metrics". */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/version.h"
#include "http/prom.h"
#include "server.h"

/* Most bytes of one label set (the model name is at most
 * SERVER_MODEL_NAME_MAX bytes, escaped at most twice as long). */
#define METRICS_LABELS_MAX (64 * 1024)

/* vLLM v1's buckets (vllm/v1/metrics/loggers.py). Time to first token: */
static const double ttft_bounds[] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
/* Time per output token and inter-token latency: */
static const double token_bounds[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                      0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                      7.5,  10.0,  20.0, 40.0,  80.0};
/* End to end, queue, prefill, decode and inference times: */
static const double request_bounds[] = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
/* The n request parameter: */
static const double n_bounds[] = {1, 2, 5, 10, 20};
/* Tokens of an iteration, those up to the largest batch's: */
static const double iteration_bounds[] = {
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

void metrics_init(server_metrics_t *m, const mlfq_sched_params_t *p,
                  const mlfq_limits_t *lim) {
  /* vLLM's max_model_len: the longest request the server takes, its
   * prompt and output within their limits and within the KV capacity. */
  uint64_t model_len = (uint64_t)lim->max_input_length + lim->max_output_length;
  /* vLLM's max_num_batched_tokens: every job of the largest batch
   * prefilling the longest prompt, one token each besides. */
  uint64_t batch_tokens =
      (uint64_t)p->max_batch * ((uint64_t)lim->max_input_length + 1);
  size_t nlen, niter = 0;

  memset(m, 0, sizeof(*m));
  if (p->kv_capacity > 0 && p->kv_capacity < model_len)
    model_len = p->kv_capacity;
  nlen = mlfq_prom_buckets_125(m->len_bounds, MLFQ_PROM_MAX_BUCKETS,
                               (double)model_len);
  while (niter < NB(iteration_bounds) &&
         iteration_bounds[niter] <= (double)batch_tokens)
    m->iter_bounds[niter] = iteration_bounds[niter], niter++;
  mlfq_prom_hist_init(&m->ttft, ttft_bounds, NB(ttft_bounds));
  mlfq_prom_hist_init(&m->itl, token_bounds, NB(token_bounds));
  mlfq_prom_hist_init(&m->e2e, request_bounds, NB(request_bounds));
  mlfq_prom_hist_init(&m->queue, request_bounds, NB(request_bounds));
  mlfq_prom_hist_init(&m->prefill, request_bounds, NB(request_bounds));
  mlfq_prom_hist_init(&m->decode, request_bounds, NB(request_bounds));
  mlfq_prom_hist_init(&m->inference, request_bounds, NB(request_bounds));
  mlfq_prom_hist_init(&m->prompt, m->len_bounds, nlen);
  mlfq_prom_hist_init(&m->generation, m->len_bounds, nlen);
  mlfq_prom_hist_init(&m->max_tokens, m->len_bounds, nlen);
  mlfq_prom_hist_init(&m->n, n_bounds, NB(n_bounds));
  mlfq_prom_hist_init(&m->iteration, m->iter_bounds, niter);
}

/* Model ns as seconds. */
static double secs(uint64_t ns) { return (double)ns / 1e9; }

void metrics_iteration(server_metrics_t *m, uint64_t tokens) {
  mlfq_prom_hist_add(&m->iteration, (double)tokens);
}

void metrics_started(server_metrics_t *m, request_t *r, uint64_t t) {
  r->started_ns = t;
  mlfq_prom_hist_add(&m->queue, secs(t - r->job.arrival_ns));
  /* There is no prefix cache: every prompt token is looked up, none is
   * found. */
  m->prefix_queries += r->job.input_len;
}

/* r's last token completed at t. */
static void finished(server_metrics_t *m, const request_t *r, uint64_t t) {
  const mlfq_job_t *j = &r->job;

  mlfq_prom_hist_add(&m->e2e, secs(t - j->arrival_ns));
  mlfq_prom_hist_add(&m->prefill, secs(j->first_token_ns - r->started_ns));
  mlfq_prom_hist_add(&m->decode, secs(t - j->first_token_ns));
  mlfq_prom_hist_add(&m->inference, secs(t - r->started_ns));
  mlfq_prom_hist_add(&m->prompt, (double)j->input_len);
  mlfq_prom_hist_add(&m->generation, (double)j->tokens);
  mlfq_prom_hist_add(&m->max_tokens, (double)r->max_tokens);
  mlfq_prom_hist_add(&m->n, 1);
  if (j->tokens < r->max_tokens)
    m->stopped++;
  else
    m->capped++;
}

void metrics_token(server_metrics_t *m, request_t *r, uint64_t t) {
  const mlfq_job_t *j = &r->job;

  if (j->tokens == 1) {
    mlfq_prom_hist_add(&m->ttft, secs(t - j->arrival_ns));
    m->prompt_tokens += j->input_len;
  } else {
    mlfq_prom_hist_add(&m->itl, secs(t - r->last_token_ns));
  }
  r->last_token_ns = t;
  if (j->tokens == j->output_len)
    finished(m, r, t);
}

/* One metric with a single sample. */
static int one(mlfq_buf_t *b, const char *name, const char *type,
               const char *help, const char *labels, double v) {
  int err = mlfq_prom_head(b, name, type, help);

  return err ? err : mlfq_prom_value(b, name, labels, v);
}

/* The labels in b (NULL while there are none). */
static const char *labels(const mlfq_buf_t *b) {
  return b->len > 0 ? (const char *)b->data : NULL;
}

#define TRY(x)                                                                 \
  do {                                                                         \
    err = (x);                                                                 \
    if (err)                                                                   \
      return err;                                                              \
  } while (0)

/* One histogram family. */
static int hist(mlfq_buf_t *b, const char *name, const char *help,
                const char *labels, const mlfq_prom_hist_t *h) {
  int err = mlfq_prom_head(b, name, "histogram", help);

  return err ? err : mlfq_prom_hist_write(b, name, labels, h);
}

/* part of whole, 0 when whole is 0 (an unlimited KV cache). */
static double share(uint64_t part, uint64_t whole) {
  return whole > 0 ? (double)part / (double)whole : 0;
}

/* vLLM's scheduler state and counters; ml holds the model_name and engine
 * labels, lab is scratch. */
static int vllm_state(mlfq_buf_t *b, const server_t *sv,
                      const server_stats_t *s, const mlfq_buf_t *ml,
                      mlfq_buf_t *lab) {
  static const char *const reasons[3] = {"stop", "length", "abort"};
  const server_metrics_t *m = &sv->metrics;
  double kv = share(s->kv_used_tokens, s->kv_capacity_tokens);
  uint64_t ended[3] = {m->stopped, m->capped, s->cancelled};
  unsigned i;
  int err;

  TRY(one(b, "vllm:num_requests_running", "gauge",
          "Requests in an engine's batch now.", labels(ml),
          (double)s->running));
  TRY(one(b, "vllm:num_requests_waiting", "gauge",
          "Requests waiting to be scheduled (preempted ones included).",
          labels(ml), (double)s->waiting));
  TRY(one(b, "vllm:num_requests_swapped", "gauge",
          "Requests whose KV cache is swapped out to host memory now.",
          labels(ml), (double)s->kv_host_requests));
  TRY(one(b, "vllm:kv_cache_usage_perc", "gauge",
          "KV cache in use, a fraction of its capacity (0 when unlimited).",
          labels(ml), kv));
  TRY(one(b, "vllm:gpu_cache_usage_perc", "gauge",
          "The same as vllm:kv_cache_usage_perc (vLLM's older name).",
          labels(ml), kv));
  TRY(one(b, "vllm:cpu_cache_usage_perc", "gauge",
          "KV swapped out to host memory, a fraction of the KV capacity.",
          labels(ml), share(s->kv_host_tokens, s->kv_capacity_tokens)));
  TRY(one(b, "vllm:num_preemptions_total", "counter",
          "KV cache evictions (recompute or swap).", labels(ml),
          (double)s->preemptions));
  TRY(one(b, "vllm:prompt_tokens_total", "counter",
          "Prompt tokens of the requests whose prefill completed.", labels(ml),
          (double)m->prompt_tokens));
  TRY(one(b, "vllm:generation_tokens_total", "counter", "Tokens generated.",
          labels(ml), (double)s->tokens));
  TRY(one(b, "vllm:prefix_cache_queries_total", "counter",
          "Prompt tokens looked up in the prefix cache (all of them: mlfqd "
          "has none).",
          labels(ml), (double)m->prefix_queries));
  TRY(one(b, "vllm:prefix_cache_hits_total", "counter",
          "Prompt tokens found in the prefix cache (none: mlfqd has none).",
          labels(ml), 0));
  TRY(mlfq_prom_head(b, "vllm:request_success_total", "counter",
                     "Requests that ended: stop (before max_tokens), length "
                     "(at max_tokens), abort (cancelled)."));
  for (i = 0; i < 3; i++) {
    lab->len = 0;
    TRY(mlfq_buf_append(lab, ml->data, ml->len));
    TRY(mlfq_prom_label(lab, "finished_reason", reasons[i]));
    TRY(mlfq_prom_value(b, "vllm:request_success_total", labels(lab),
                        (double)ended[i]));
  }
  return 0;
}

/* vLLM's histograms. */
static int vllm_hists(mlfq_buf_t *b, const server_metrics_t *m, const char *l) {
  int err;

  TRY(hist(b, "vllm:time_to_first_token_seconds",
           "Arrival to the first token, model seconds.", l, &m->ttft));
  TRY(hist(b, "vllm:time_per_output_token_seconds",
           "Time between consecutive tokens of a request, model seconds "
           "(the same as vllm:inter_token_latency_seconds).",
           l, &m->itl));
  TRY(hist(b, "vllm:inter_token_latency_seconds",
           "Time between consecutive tokens of a request, model seconds.", l,
           &m->itl));
  TRY(hist(b, "vllm:e2e_request_latency_seconds",
           "Arrival to the last token (JCT), model seconds.", l, &m->e2e));
  TRY(hist(b, "vllm:request_queue_time_seconds",
           "Arrival to the start of the first iteration, model seconds.", l,
           &m->queue));
  TRY(hist(b, "vllm:request_inference_time_seconds",
           "Start of the first iteration to the last token, model seconds.", l,
           &m->inference));
  TRY(hist(b, "vllm:request_prefill_time_seconds",
           "Start of the first iteration to the first token, model seconds.", l,
           &m->prefill));
  TRY(hist(b, "vllm:request_decode_time_seconds",
           "First token to the last, model seconds.", l, &m->decode));
  TRY(hist(b, "vllm:request_prompt_tokens",
           "Prompt tokens of a finished request.", l, &m->prompt));
  TRY(hist(b, "vllm:request_generation_tokens",
           "Tokens a finished request generated.", l, &m->generation));
  TRY(hist(b, "vllm:request_max_num_generation_tokens",
           "Most tokens generated by a sequence of a finished request (it "
           "has one).",
           l, &m->generation));
  TRY(hist(b, "vllm:request_params_max_tokens",
           "max_tokens of a finished request (the default when absent).", l,
           &m->max_tokens));
  TRY(hist(b, "vllm:request_params_n",
           "The n request parameter of a finished request (always 1).", l,
           &m->n));
  return hist(b, "vllm:iteration_tokens_total",
              "Tokens of an engine iteration: prompt tokens prefilled and "
              "one for each job.",
              l, &m->iteration);
}

/* mlfqd's counters of requests and of the scheduler. */
static int counters(mlfq_buf_t *b, const server_stats_t *s, mlfq_buf_t *lab) {
  char v[64];
  unsigned i;
  int err;

  TRY(mlfq_prom_head(b, "mlfqd_queue_length", "gauge",
                     "Unfinished requests in each MLFQ level (one level for "
                     "fcfs and srpt)."));
  for (i = 0; i < s->nlevels; i++) {
    lab->len = 0;
    snprintf(v, sizeof(v), "%u", i + 1);
    TRY(mlfq_prom_label(lab, "level", v));
    TRY(mlfq_prom_value(b, "mlfqd_queue_length", labels(lab),
                        (double)s->levels[i]));
  }
  TRY(one(b, "mlfqd_requests_submitted_total", "counter", "Requests accepted.",
          NULL, (double)s->submitted));
  TRY(one(b, "mlfqd_requests_cancelled_total", "counter",
          "Requests cancelled (by a client, a disconnect or the drain).", NULL,
          (double)s->cancelled));
  TRY(one(b, "mlfqd_requests_rejected_total", "counter",
          "Requests refused at max-pending, max-pending-per-conn or the fair "
          "share.",
          NULL, (double)s->rejected));
  TRY(one(b, "mlfqd_iterations_total", "counter", "Engine iterations run.",
          NULL, (double)s->iterations));
  TRY(one(b, "mlfqd_demotions_total", "counter",
          "MLFQ demotions to a lower level.", NULL, (double)s->demotions));
  TRY(one(b, "mlfqd_promotions_total", "counter",
          "Starvation promotions to level 1.", NULL, (double)s->promotions));
  TRY(one(b, "mlfqd_preemptions_total", "counter",
          "KV cache evictions (recompute or swap).", NULL,
          (double)s->preemptions));
  TRY(one(b, "mlfqd_swapped_tokens_total", "counter",
          "KV tokens moved to host memory and back.", NULL,
          (double)s->swapped_tokens));
  TRY(one(b, "mlfqd_kv_used_tokens", "gauge", "KV cache in use now, tokens.",
          NULL, (double)s->kv_used_tokens));
  return one(b, "mlfqd_kv_peak_tokens", "gauge",
             "Most KV cache in use at once, tokens.", NULL,
             (double)s->kv_peak_tokens);
}

/* mlfqd's gauges of the engines, the timers and the process. */
static int process(mlfq_buf_t *b, const server_stats_t *s, mlfq_buf_t *lab) {
  char v[64];
  unsigned i;
  int err;

  TRY(mlfq_prom_head(b, "mlfqd_engine_busy_ratio", "gauge",
                     "Share of the uptime each engine has been busy."));
  for (i = 0; i < s->nengines; i++) {
    lab->len = 0;
    snprintf(v, sizeof(v), "%u", i);
    TRY(mlfq_prom_label(lab, "engine", v));
    TRY(mlfq_prom_value(b, "mlfqd_engine_busy_ratio", labels(lab), s->busy[i]));
  }
  TRY(one(b, "mlfqd_timer_lateness_p50_seconds", "gauge",
          "Median of how late engine threads woke after their deadlines "
          "(wall time).",
          NULL, s->lateness_p50_us / 1e6));
  TRY(one(b, "mlfqd_timer_lateness_p99_seconds", "gauge",
          "99th percentile of the engine threads' wake-up lateness.", NULL,
          s->lateness_p99_us / 1e6));
  TRY(one(b, "mlfqd_timer_lateness_max_seconds", "gauge",
          "Largest wake-up lateness of an engine thread.", NULL,
          s->lateness_max_us / 1e6));
  TRY(one(b, "mlfqd_late_iterations_total", "counter",
          "Iteration ends handled later than --late-warn-fraction allows.",
          NULL, (double)s->late_iterations));
  TRY(one(b, "mlfqd_behind_model", "gauge",
          "1 while the server is behind the model's time: an iteration "
          "ended late within the last second.",
          NULL, (double)s->behind));
  TRY(one(b, "mlfqd_connections", "gauge",
          "Client connections, protocol and HTTP.", NULL,
          (double)s->connections));
  TRY(one(b, "mlfqd_draining", "gauge", "1 while the server drains.", NULL,
          s->draining ? 1 : 0));
  TRY(one(b, "mlfqd_uptime_seconds", "gauge", "Wall seconds since start.", NULL,
          s->uptime_s));
  return one(b, "mlfqd_heap_trims_total", "counter",
             "Times freed heap memory was given back once idle.", NULL,
             (double)s->heap_trims);
}

/* mlfqd_info: the server's configuration as labels. */
static int info(mlfq_buf_t *b, const server_t *sv, mlfq_buf_t *lab) {
  const mlfq_sched_config_t *cfg = mlfq_sched_config(sv->sched);
  const mlfq_sched_params_t *p = mlfq_sched_params(sv->sched);
  char v[64];
  int err;

  lab->len = 0;
  TRY(mlfq_prom_label(lab, "version", MLFQ_VERSION));
  TRY(mlfq_prom_label(lab, "policy", cfg->policy));
  snprintf(v, sizeof(v), "%u", p->queues);
  TRY(mlfq_prom_label(lab, "queues", v));
  snprintf(v, sizeof(v), "%g", cfg->quantum_rate);
  TRY(mlfq_prom_label(lab, "quantum_rate", v));
  TRY(mlfq_prom_label(lab, "preempt",
                      p->preempt == MLFQ_PREEMPT_QUANTUM ? "quantum"
                                                         : "iteration"));
  snprintf(v, sizeof(v), "%u", p->max_batch);
  TRY(mlfq_prom_label(lab, "max_batch", v));
  snprintf(v, sizeof(v), "%u", p->workers);
  TRY(mlfq_prom_label(lab, "workers", v));
  snprintf(v, sizeof(v), "%g", sv->opt.lim.time_scale);
  TRY(mlfq_prom_label(lab, "time_scale", v));
  snprintf(v, sizeof(v), "%llu", (unsigned long long)p->kv_capacity);
  TRY(mlfq_prom_label(lab, "kv_capacity_tokens", v));
  TRY(mlfq_prom_label(lab, "model_name", sv->opt.model_name));
  return one(b, "mlfqd_info", "gauge", "The server's configuration.",
             labels(lab), 1);
}
#undef TRY

int metrics_write(server_t *sv, mlfq_buf_t *b) {
  server_stats_t s;
  mlfq_buf_t ml, lab;
  int err;

  server_stats_get(sv, &s);
  /* Label sets: a few names and values, the model name escaped. */
  mlfq_buf_init(&ml, METRICS_LABELS_MAX);
  mlfq_buf_init(&lab, METRICS_LABELS_MAX);
  err = mlfq_prom_label(&ml, "model_name", sv->opt.model_name);
  if (err == 0)
    err = mlfq_prom_label(&ml, "engine", "0");
  if (err == 0)
    err = vllm_state(b, sv, &s, &ml, &lab);
  if (err == 0)
    err = vllm_hists(b, &sv->metrics, labels(&ml));
  if (err == 0)
    err = counters(b, &s, &lab);
  if (err == 0)
    err = process(b, &s, &lab);
  if (err == 0)
    err = info(b, sv, &lab);
  if (err == 0)
    err = faults_metrics_write(&sv->faults, b);
  mlfq_buf_free(&ml);
  mlfq_buf_free(&lab);
  return err;
}
