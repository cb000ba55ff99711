/* DESIGN: GET /metrics in Prometheus' text format (common/http/prom.c), built
 * from the server's statistics (server_stats_t, the figures of a
 * StatsReply) when it is scraped. vLLM's names
 * where one exists (vllm:num_requests_running, vllm:num_requests_waiting,
 * the latency histograms, the token counters), so that dashboards made for
 * vLLM work unchanged; mlfqd's own under mlfqd_. Every time is model time,
 * as everywhere in mlfqd. The list is in docs/HTTP.md. */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/version.h"
#include "http/prom.h"
#include "server.h"

/* Most bytes of one label set (the model name is at most
 * SERVER_MODEL_NAME_MAX bytes, escaped at most twice as long). */
#define METRICS_LABELS_MAX (64 * 1024)

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

/* vLLM's metrics; ml holds the model_name label, lab is scratch. */
static int vllm(mlfq_buf_t *b, const server_t *sv, const server_stats_t *s,
                const mlfq_buf_t *ml, mlfq_buf_t *lab) {
  int err;

  TRY(one(b, "vllm:num_requests_running", "gauge",
          "Requests in an engine's batch now.", labels(ml),
          (double)s->running));
  TRY(one(b, "vllm:num_requests_waiting", "gauge",
          "Requests waiting to be scheduled (preempted ones included).",
          labels(ml), (double)s->waiting));
  TRY(mlfq_prom_head(b, "vllm:time_to_first_token_seconds", "histogram",
                     "Arrival to the first token, model seconds."));
  TRY(mlfq_prom_hist_write(b, "vllm:time_to_first_token_seconds", labels(ml),
                           &sv->metrics.ttft));
  TRY(mlfq_prom_head(b, "vllm:e2e_request_latency_seconds", "histogram",
                     "Arrival to the last token (JCT), model seconds."));
  TRY(mlfq_prom_hist_write(b, "vllm:e2e_request_latency_seconds", labels(ml),
                           &sv->metrics.e2e));
  TRY(mlfq_prom_head(b, "vllm:request_queue_time_seconds", "histogram",
                     "Arrival to the start of the first iteration, model "
                     "seconds."));
  TRY(mlfq_prom_hist_write(b, "vllm:request_queue_time_seconds", labels(ml),
                           &sv->metrics.queue));
  TRY(one(b, "vllm:prompt_tokens_total", "counter",
          "Prompt tokens of the requests that finished.", labels(ml),
          (double)sv->metrics.prompt_tokens));
  TRY(one(b, "vllm:generation_tokens_total", "counter", "Tokens generated.",
          labels(ml), (double)s->tokens));
  lab->len = 0;
  TRY(mlfq_buf_append(lab, ml->data, ml->len));
  TRY(mlfq_prom_label(lab, "finished_reason", "length"));
  return one(b, "vllm:request_success_total", "counter",
             "Requests that generated all their tokens.", labels(lab),
             (double)s->completed);
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
    err = vllm(b, sv, &s, &ml, &lab);
  if (err == 0)
    err = counters(b, &s, &lab);
  if (err == 0)
    err = process(b, &s, &lab);
  if (err == 0)
    err = info(b, sv, &lab);
  mlfq_buf_free(&ml);
  mlfq_buf_free(&lab);
  return err;
}
