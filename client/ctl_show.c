/* What mlfqctl prints: a server's answer to ping and stats, as JSON
 * (built whole, then printed, so that stdout holds a document only when
 * the whole of it could be built) or as text. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cJSON.h>

#include "base/units.h"
#include "ctl.h"

/* ---- JSON --------------------------------------------------------------- */

/* Adders that remember a failed allocation in *oom, so that a document is
 * built first and checked once. */
static cJSON *jobj(cJSON *o, const char *k, int *oom) {
  cJSON *v = cJSON_AddObjectToObject(o, k);

  *oom |= v == NULL;
  return v;
}

static cJSON *jarr(cJSON *o, const char *k, int *oom) {
  cJSON *v = cJSON_AddArrayToObject(o, k);

  *oom |= v == NULL;
  return v;
}

static void jnum(cJSON *o, const char *k, double v, int *oom) {
  *oom |= cJSON_AddNumberToObject(o, k, v) == NULL;
}

static void jstr(cJSON *o, const char *k, const char *v, int *oom) {
  *oom |= cJSON_AddStringToObject(o, k, ctl_str(v)) == NULL;
}

static void jbool(cJSON *o, const char *k, int v, int *oom) {
  *oom |= cJSON_AddBoolToObject(o, k, v) == NULL;
}

static void jpush(cJSON *a, double v, int *oom) {
  cJSON *n = cJSON_CreateNumber(v);

  if (n == NULL || a == NULL || !cJSON_AddItemToArray(a, n)) {
    cJSON_Delete(n);
    *oom = 1;
  }
}

static void json_config(cJSON *doc, const Mlfq__Config *cf, int *oom) {
  const Mlfq__CostModel *cm = cf->cost;
  cJSON *o = jobj(doc, "config", oom), *a, *cost;
  size_t i;

  if (o == NULL)
    return;
  jstr(o, "policy", cf->policy, oom);
  jnum(o, "queues", cf->queues, oom);
  a = jarr(o, "quanta_ms", oom);
  for (i = 0; i < cf->n_quanta_ns; i++)
    jpush(a, mlfq_ns_to_ms(cf->quanta_ns[i]), oom);
  jnum(o, "quantum_rate", cf->quantum_rate, oom);
  jnum(o, "starve_limit_ms", mlfq_ns_to_ms(cf->starve_limit_ns), oom);
  jstr(o, "preempt", cf->preempt, oom);
  jnum(o, "max_batch", cf->max_batch, oom);
  jnum(o, "workers", cf->workers, oom);
  cost = jobj(o, "cost", oom);
  if (cost != NULL && cm != NULL) {
    jstr(cost, "kind", cm->kind, oom);
    jstr(cost, "source", cm->source, oom);
    jnum(cost, "prefill_base_ms", cm->prefill_base_ms, oom);
    jnum(cost, "prefill_ms_per_token", cm->prefill_ms_per_token, oom);
    jnum(cost, "decode_ms", cm->decode_ms, oom);
    jnum(cost, "batch_decode_ms_per_seq", cm->batch_decode_ms_per_seq, oom);
    jnum(cost, "profile_rows", (double)cm->n_rows, oom);
  }
  jnum(o, "time_scale", cf->time_scale, oom);
  jnum(o, "max_pending", (double)cf->max_pending, oom);
  jnum(o, "max_pending_per_conn", (double)cf->max_pending_per_conn, oom);
  jnum(o, "max_input_length", cf->max_input_length, oom);
  jnum(o, "max_output_length", cf->max_output_length, oom);
  jnum(o, "max_frame_bytes", cf->max_frame_bytes, oom);
}

static void json_stats(cJSON *doc, const Mlfq__StatsReply *s, int *oom) {
  cJSON *o = jobj(doc, "stats", oom), *a, *lat;
  size_t i;

  if (o == NULL)
    return;
  jnum(o, "uptime_s", s->uptime_s, oom);
  jnum(o, "connections", (double)s->connections, oom);
  jnum(o, "submitted", (double)s->submitted, oom);
  jnum(o, "completed", (double)s->completed, oom);
  jnum(o, "cancelled", (double)s->cancelled, oom);
  jnum(o, "rejected", (double)s->rejected, oom);
  jnum(o, "running", (double)s->running, oom);
  jnum(o, "waiting", (double)s->waiting, oom);
  jnum(o, "tokens", (double)s->tokens, oom);
  jnum(o, "iterations", (double)s->iterations, oom);
  jnum(o, "demotions", (double)s->demotions, oom);
  jnum(o, "promotions", (double)s->promotions, oom);
  jbool(o, "draining", s->draining, oom);
  a = jarr(o, "level_lengths", oom);
  for (i = 0; i < s->n_level_lengths; i++)
    jpush(a, (double)s->level_lengths[i], oom);
  a = jarr(o, "worker_busy", oom);
  for (i = 0; i < s->n_worker_busy; i++)
    jpush(a, s->worker_busy[i], oom);
  lat = jobj(o, "lateness_us", oom);
  if (lat != NULL) {
    jnum(lat, "p50", s->lateness_p50_us, oom);
    jnum(lat, "p99", s->lateness_p99_us, oom);
    jnum(lat, "max", s->lateness_max_us, oom);
  }
}

/* A router's replicas: one object each, with the replica's own
 * statistics (null while it is down). */
static void json_replicas(cJSON *doc, const Mlfq__StatsReply *s, int *oom) {
  cJSON *a = jarr(doc, "replicas", oom), *o;
  const Mlfq__ReplicaStats *r;
  size_t i;

  for (i = 0; i < s->n_replicas && a != NULL; i++) {
    r = s->replicas[i];
    o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(a, o)) {
      cJSON_Delete(o);
      *oom = 1;
      return;
    }
    jnum(o, "replica", (double)(i + 1), oom);
    jstr(o, "address", r->address, oom);
    jbool(o, "up", r->up, oom);
    jnum(o, "outstanding_requests", (double)r->outstanding_requests, oom);
    jnum(o, "outstanding_tokens", (double)r->outstanding_tokens, oom);
    jnum(o, "routed", (double)r->routed, oom);
    jnum(o, "lost", (double)r->lost, oom);
    if (r->stats != NULL)
      json_stats(o, r->stats, oom);
    else
      *oom |= cJSON_AddNullToObject(o, "stats") == NULL;
  }
}

static void json_server(cJSON *doc, const char *addr, const Mlfq__Welcome *w,
                        int *oom) {
  jstr(doc, "server", addr, oom);
  jstr(doc, "server_id", w->server_id, oom);
  jstr(doc, "server_version", w->server_version, oom);
  jnum(doc, "protocol_version", w->protocol_version, oom);
}

/* Prints doc and deletes it. Returns 0, or 1 when it could not be built. */
static int json_print(cJSON *doc, int oom, int pretty) {
  char *text = NULL;

  if (doc != NULL && !oom)
    text = pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (text == NULL) {
    fprintf(stderr, "mlfqctl: out of memory\n");
    return 1;
  }
  printf("%s\n", text);
  cJSON_free(text);
  return 0;
}

/* ---- text --------------------------------------------------------------- */

static void label(const char *name) { printf("  %-24s", name); }

static void row_u64(const char *name, uint64_t v) {
  label(name);
  printf("%llu\n", (unsigned long long)v);
}

static void row_dbl(const char *name, double v) {
  label(name);
  printf("%g\n", v);
}

static void row_str(const char *name, const char *v) {
  label(name);
  printf("%s\n", ctl_str(v));
}

static void row_ms(const char *name, uint64_t ns) {
  char buf[MLFQ_MS_BUFSIZE];

  mlfq_ms_format(ns, buf);
  row_str(name, buf);
}

static void text_config(const Mlfq__Config *cf) {
  const Mlfq__CostModel *cm = cf->cost;
  char buf[MLFQ_MS_BUFSIZE];
  size_t i;

  printf("\nConfiguration\n");
  row_str("policy", cf->policy);
  row_u64("queues", cf->queues);
  label("quanta (ms)");
  for (i = 0; i < cf->n_quanta_ns; i++) {
    mlfq_ms_format(cf->quanta_ns[i], buf);
    printf("%s%s", i ? " " : "", buf);
  }
  printf("\n");
  row_dbl("quantum rate", cf->quantum_rate);
  if (cf->starve_limit_ns == 0)
    row_str("starve limit (ms)", "off");
  else
    row_ms("starve limit (ms)", cf->starve_limit_ns);
  row_str("preempt", cf->preempt);
  row_u64("max batch", cf->max_batch);
  row_u64("workers", cf->workers);
  if (cm != NULL) {
    row_str("cost model", cm->kind);
    row_str("cost source", cm->source);
    if (cm->n_rows > 0) {
      row_u64("profile rows", cm->n_rows);
    } else {
      row_dbl("prefill base (ms)", cm->prefill_base_ms);
      row_dbl("prefill (ms/token)", cm->prefill_ms_per_token);
      row_dbl("decode (ms)", cm->decode_ms);
    }
    row_dbl("batch decode (ms/seq)", cm->batch_decode_ms_per_seq);
  }
  row_dbl("time scale", cf->time_scale);
  row_u64("max pending", cf->max_pending);
  row_u64("max pending per connection", cf->max_pending_per_conn);
  row_u64("max input length", cf->max_input_length);
  row_u64("max output length", cf->max_output_length);
  row_u64("max frame bytes", cf->max_frame_bytes);
}

static void text_stats(const Mlfq__StatsReply *s) {
  size_t i;

  printf("\nStatistics\n");
  label("uptime (s)");
  printf("%.3f\n", s->uptime_s);
  row_u64("connections", s->connections);
  row_u64("submitted", s->submitted);
  row_u64("completed", s->completed);
  row_u64("cancelled", s->cancelled);
  row_u64("rejected", s->rejected);
  row_u64("running", s->running);
  row_u64("waiting", s->waiting);
  row_u64("tokens", s->tokens);
  row_u64("iterations", s->iterations);
  row_u64("demotions", s->demotions);
  row_u64("promotions", s->promotions);
  row_str("draining", s->draining ? "yes" : "no");
  label("queue lengths");
  for (i = 0; i < s->n_level_lengths; i++)
    printf("%s%llu", i ? " " : "", (unsigned long long)s->level_lengths[i]);
  printf("\n");
  label("worker busy (fraction)");
  for (i = 0; i < s->n_worker_busy; i++)
    printf("%s%.3f", i ? " " : "", s->worker_busy[i]);
  printf("\n");
  label("lateness p50 (us)");
  printf("%.1f\n", s->lateness_p50_us);
  label("lateness p99 (us)");
  printf("%.1f\n", s->lateness_p99_us);
  label("lateness max (us)");
  printf("%.1f\n", s->lateness_max_us);
}

/* A router's replicas, one row each; a replica that is down has no
 * statistics of its own ("-"). */
static void text_replicas(const Mlfq__StatsReply *s) {
  const Mlfq__ReplicaStats *r;
  size_t i;

  printf("\nReplicas\n");
  printf("  %-3s %-24s %-4s %11s %10s %8s %6s %10s %10s\n", "#", "address",
         "up", "outstanding", "tokens", "routed", "lost", "completed",
         "generated");
  for (i = 0; i < s->n_replicas; i++) {
    r = s->replicas[i];
    printf("  %-3zu %-24s %-4s %11llu %10llu %8llu %6llu", i + 1,
           ctl_str(r->address), r->up ? "yes" : "no",
           (unsigned long long)r->outstanding_requests,
           (unsigned long long)r->outstanding_tokens,
           (unsigned long long)r->routed, (unsigned long long)r->lost);
    if (r->stats != NULL)
      printf(" %10llu %10llu\n", (unsigned long long)r->stats->completed,
             (unsigned long long)r->stats->tokens);
    else
      printf(" %10s %10s\n", "-", "-");
  }
  printf("  (outstanding: requests sent and not ended; tokens: their "
         "remaining prefill and decode)\n");
}

/* ---- answers ------------------------------------------------------------ */

int ctl_show_ping(const char *addr, const Mlfq__Welcome *w, double rtt,
                  int json) {
  cJSON *doc;
  int rc = 0, oom = 0;

  if (json) {
    doc = cJSON_CreateObject();
    jbool(doc, "ok", 1, &oom);
    json_server(doc, addr, w, &oom);
    jstr(doc, "policy", w->config->policy, &oom);
    if (w->replicas > 0)
      jnum(doc, "replicas", w->replicas, &oom);
    jnum(doc, "rtt_ms", round(rtt * 1e3) / 1e3, &oom);
    rc = json_print(doc, oom, 0);
  } else if (w->replicas > 0) {
    printf("%s mlfq-router %s protocol %u policy %s replicas %u: ok in "
           "%.2f ms\n",
           addr, ctl_str(w->server_version), w->protocol_version,
           ctl_str(w->config->policy), w->replicas, rtt);
  } else {
    printf("%s mlfqd %s protocol %u policy %s: ok in %.2f ms\n", addr,
           ctl_str(w->server_version), w->protocol_version,
           ctl_str(w->config->policy), rtt);
  }
  return rc;
}

int ctl_show_stats(const char *addr, const Mlfq__Welcome *w,
                   const Mlfq__Config *cf, const Mlfq__StatsReply *s,
                   int json) {
  cJSON *doc;
  int rc = 0, oom = 0;

  if (json) {
    doc = cJSON_CreateObject();
    json_server(doc, addr, w, &oom);
    json_config(doc, cf, &oom);
    json_stats(doc, s, &oom);
    if (s->n_replicas > 0)
      json_replicas(doc, s, &oom);
    rc = json_print(doc, oom, 1);
  } else {
    printf("%s: %s %s, protocol %u, server id %s\n", addr,
           w->replicas > 0 ? "mlfq-router" : "mlfqd",
           ctl_str(w->server_version), w->protocol_version,
           ctl_str(w->server_id));
    text_config(cf);
    text_stats(s);
    if (s->n_replicas > 0)
      text_replicas(s);
  }
  return rc;
}
