/* mlfqctl: asks a running mlfqd, or an mlfq-router, whether it is there
 * (ping) and for its configuration and live statistics (stats), as a
 * table or as JSON; a router's statistics add one row per replica. It is
 * the probe that scripts and health checks use: exit 0 when the server
 * answered, 1 when it could not be reached, closed, refused, is not mlfqd
 * protocol or did not answer within --timeout, 2 for bad usage.
 *
 * One blocking connection (common/net/peer.h) and one deadline: --timeout
 * bounds the whole exchange, connecting included, not each wait. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/units.h"
#include "base/version.h"
#include "net/peer.h"
#include "wire/wire.h"

typedef struct {
  const char *server;
  unsigned timeout_ms;
  int json;
} ctl_opts_t;

#define O(field) offsetof(ctl_opts_t, field)

static const mlfq_cli_opt_t ctl_options[] = {
    {"server", "HOST:PORT", "the server to ask (default 127.0.0.1:7070)",
     mlfq_cli_set_str, O(server), 0, 0, 0},
    {"timeout", "MS",
     "give up unless the whole exchange, connecting included, ends within "
     "MS milliseconds (default 2000)",
     mlfq_cli_set_uint, O(timeout_ms), 0, 1, 3600000},
    {"json", NULL, "print one JSON document instead of text", mlfq_cli_set_flag,
     O(json), 0, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static const char usage[] =
    "Usage: mlfqctl [OPTIONS] COMMAND\n"
    "\n"
    "Asks a running mlfqd, or an mlfq-router, how it is. Times are model\n"
    "milliseconds unless the unit says otherwise.\n"
    "\n"
    "Commands:\n"
    "  ping                        connect, say Hello and print the server's\n"
    "                              version and policy and the round trip\n"
    "  stats                       print the server's configuration and live\n"
    "                              statistics (a router's: summed over its\n"
    "                              replicas, and each replica's own)\n";

static const char footer[] =
    "\nExamples:\n"
    "  mlfqctl ping\n"
    "  mlfqctl --server mlfqd-mlfq:7070 stats --json\n"
    "\nExit status: 0 when the server answered; 1 when it cannot be reached,\n"
    "closes the connection, sends an error, is not mlfqd protocol or does\n"
    "not answer within --timeout (one line on stderr names the address and\n"
    "the reason); 2 for bad usage. With --json, stdout holds a JSON document\n"
    "exactly when the status is 0.\n";

typedef struct {
  const char *addr; /* as given, for messages */
  char host[256];
  int port;
  unsigned timeout_ms;
  uint64_t deadline; /* monotonic ns */
  mlfq_peer_t peer;
  int connected;
  char why[1024]; /* the reason of the last failure, a whole message */
} ctl_t;

static uint64_t mono_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * MLFQ_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Milliseconds left before the deadline, rounded up; 0 once it passed. */
static int left_ms(const ctl_t *c) {
  uint64_t now = mono_ns();

  if (now >= c->deadline)
    return 0;
  return (int)((c->deadline - now + MLFQ_NS_PER_MS - 1) / MLFQ_NS_PER_MS);
}

static const char *str(const char *s) { return s != NULL ? s : ""; }

static int ctl_connect(ctl_t *c) {
  char err[256];
  const char *why;
  size_t hl = strlen(c->host);
  int rc;

  rc = mlfq_peer_connect(&c->peer, c->host, c->port, left_ms(c), err,
                         sizeof(err));
  if (rc == 0) {
    c->connected = 1;
    return 0;
  }
  if (rc == -ETIMEDOUT) {
    snprintf(c->why, sizeof(c->why),
             "cannot connect to %s: no answer within %u ms", c->addr,
             c->timeout_ms);
    return rc;
  }
  why = strerror(-rc);
  if (rc == -EINVAL) { /* name resolution: err is "HOST: reason" */
    why = err;
    if (strncmp(err, c->host, hl) == 0 && strncmp(err + hl, ": ", 2) == 0)
      why = err + hl + 2;
  }
  snprintf(c->why, sizeof(c->why), "cannot connect to %s: %s", c->addr, why);
  return rc;
}

/* Describes rc, a code of mlfq_peer_send or mlfq_peer_recv met while
 * waiting for what, in c->why. Returns rc. */
static int io_failure(ctl_t *c, int rc, const char *what) {
  char seen[128];

  if (rc == -ETIMEDOUT)
    snprintf(c->why, sizeof(c->why), "%s: no %s within %u ms", c->addr, what,
             c->timeout_ms);
  else if (rc == -EPIPE)
    snprintf(c->why, sizeof(c->why),
             "%s: the server closed the connection before its %s", c->addr,
             what);
  else if (rc == MLFQ_EPARSE)
    snprintf(c->why, sizeof(c->why),
             "%s: not mlfqd protocol: expected %s, got %s", c->addr, what,
             mlfq_wire_show_bytes(c->peer.in.data, c->peer.in.len, seen,
                                  sizeof(seen)));
  else
    snprintf(c->why, sizeof(c->why), "%s: %s while waiting for %s", c->addr,
             mlfq_strerror(rc), what);
  return rc;
}

/* Sends req and waits for a reply of kind want (named what in messages).
 * Returns 0 with *reply set (free it with
 * mlfq__server_message__free_unpacked), or a negative code with c->why
 * set: an Error from the server is MLFQ_ESTATE. */
static int exchange(ctl_t *c, const Mlfq__ClientMessage *req, int want,
                    const char *what, Mlfq__ServerMessage **reply) {
  Mlfq__ServerMessage *m = NULL;
  int rc, sent;

  *reply = NULL;
  sent = mlfq_peer_send(&c->peer, req);
  /* A server that refuses the connection writes an Error and closes: read
   * it even when the send failed. */
  rc = mlfq_peer_recv(&c->peer, &m, left_ms(c));
  /* A message of a kind this build does not know (a newer server's) is
   * skipped. */
  while (rc == 0 && m->msg_case == MLFQ__SERVER_MESSAGE__MSG__NOT_SET) {
    mlfq__server_message__free_unpacked(m, NULL);
    m = NULL;
    rc = mlfq_peer_recv(&c->peer, &m, left_ms(c));
  }
  if (rc)
    return io_failure(c, sent ? sent : rc, what);
  if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR && m->error != NULL) {
    char code[32];

    /* A code this build does not know (a newer server's) by its number. */
    snprintf(code, sizeof(code), "ERROR_CODE_%d", (int)m->error->code);
    snprintf(c->why, sizeof(c->why), "%s: the server answered %s: %s", c->addr,
             protobuf_c_enum_descriptor_get_value(&mlfq__error_code__descriptor,
                                                  m->error->code) != NULL
                 ? mlfq_wire_error_name(m->error->code)
                 : code,
             str(m->error->message));
    mlfq__server_message__free_unpacked(m, NULL);
    return MLFQ_ESTATE;
  }
  if ((int)m->msg_case != want) {
    snprintf(c->why, sizeof(c->why),
             "%s: unexpected reply (message %d) instead of %s", c->addr,
             (int)m->msg_case, what);
    mlfq__server_message__free_unpacked(m, NULL);
    return MLFQ_EPARSE;
  }
  *reply = m;
  return 0;
}

/* Hello and Welcome. Returns 0 with *welcome set and *rtt_ms the round
 * trip, or a negative code with c->why set. */
static int hello(ctl_t *c, Mlfq__ServerMessage **welcome, double *rtt_ms) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  Mlfq__ServerMessage *r;
  char err[256];
  uint64_t t0;
  int rc;

  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = "mlfqctl";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  t0 = mono_ns();
  rc = exchange(c, &m, MLFQ__SERVER_MESSAGE__MSG_WELCOME, "Welcome", &r);
  if (rc)
    return rc;
  *rtt_ms = (double)(mono_ns() - t0) / 1e6;
  if (mlfq_wire_welcome_check(r->welcome, err, sizeof(err)) != 0) {
    snprintf(c->why, sizeof(c->why), "%s: not mlfqd protocol: %s", c->addr,
             err);
    mlfq__server_message__free_unpacked(r, NULL);
    return MLFQ_EPARSE;
  }
  *welcome = r;
  return 0;
}

static int stats_request(ctl_t *c, Mlfq__ServerMessage **reply) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;
  char err[256];
  int rc;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  rc = exchange(c, &m, MLFQ__SERVER_MESSAGE__MSG_STATS, "StatsReply", reply);
  if (rc)
    return rc;
  if ((*reply)->stats == NULL) {
    snprintf(c->why, sizeof(c->why), "%s: empty StatsReply", c->addr);
    mlfq__server_message__free_unpacked(*reply, NULL);
    *reply = NULL;
    return MLFQ_EPARSE;
  }
  if ((*reply)->stats->config != NULL &&
      mlfq_wire_config_check((*reply)->stats->config, err, sizeof(err)) != 0) {
    snprintf(c->why, sizeof(c->why), "%s: not mlfqd protocol: StatsReply %s",
             c->addr, err);
    mlfq__server_message__free_unpacked(*reply, NULL);
    *reply = NULL;
    return MLFQ_EPARSE;
  }
  return 0;
}

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
  *oom |= cJSON_AddStringToObject(o, k, str(v)) == NULL;
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

static void json_server(cJSON *doc, const ctl_t *c, const Mlfq__Welcome *w,
                        int *oom) {
  jstr(doc, "server", c->addr, oom);
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
  printf("%s\n", str(v));
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
           str(r->address), r->up ? "yes" : "no",
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

/* ---- commands ----------------------------------------------------------- */

static int cmd_ping(ctl_t *c, int json) {
  Mlfq__ServerMessage *w = NULL;
  const Mlfq__Welcome *wm;
  cJSON *doc;
  double rtt = 0;
  int rc, oom = 0;

  rc = hello(c, &w, &rtt);
  if (rc)
    return 1;
  wm = w->welcome;
  if (json) {
    doc = cJSON_CreateObject();
    jbool(doc, "ok", 1, &oom);
    json_server(doc, c, wm, &oom);
    jstr(doc, "policy", wm->config->policy, &oom);
    if (wm->replicas > 0)
      jnum(doc, "replicas", wm->replicas, &oom);
    jnum(doc, "rtt_ms", round(rtt * 1e3) / 1e3, &oom);
    rc = json_print(doc, oom, 0);
  } else if (wm->replicas > 0) {
    printf("%s mlfq-router %s protocol %u policy %s replicas %u: ok in "
           "%.2f ms\n",
           c->addr, str(wm->server_version), wm->protocol_version,
           str(wm->config->policy), wm->replicas, rtt);
  } else {
    printf("%s mlfqd %s protocol %u policy %s: ok in %.2f ms\n", c->addr,
           str(wm->server_version), wm->protocol_version,
           str(wm->config->policy), rtt);
  }
  mlfq__server_message__free_unpacked(w, NULL);
  return rc;
}

static int cmd_stats(ctl_t *c, int json) {
  Mlfq__ServerMessage *w = NULL, *r = NULL;
  const Mlfq__Welcome *wm;
  const Mlfq__StatsReply *s;
  const Mlfq__Config *cf;
  cJSON *doc;
  double rtt;
  int rc, oom = 0;

  rc = hello(c, &w, &rtt);
  if (rc)
    return 1;
  rc = stats_request(c, &r);
  if (rc) {
    mlfq__server_message__free_unpacked(w, NULL);
    return 1;
  }
  wm = w->welcome;
  s = r->stats;
  /* The reply's configuration is the current one; Welcome's otherwise. */
  cf = s->config != NULL ? s->config : wm->config;
  if (json) {
    doc = cJSON_CreateObject();
    json_server(doc, c, wm, &oom);
    json_config(doc, cf, &oom);
    json_stats(doc, s, &oom);
    if (s->n_replicas > 0)
      json_replicas(doc, s, &oom);
    rc = json_print(doc, oom, 1);
  } else {
    printf("%s: %s %s, protocol %u, server id %s\n", c->addr,
           wm->replicas > 0 ? "mlfq-router" : "mlfqd", str(wm->server_version),
           wm->protocol_version, str(wm->server_id));
    text_config(cf);
    text_stats(s);
    if (s->n_replicas > 0)
      text_replicas(s);
  }
  mlfq__server_message__free_unpacked(r, NULL);
  mlfq__server_message__free_unpacked(w, NULL);
  return rc;
}

int main(int argc, char **argv) {
  mlfq_cli_group_t groups[1];
  ctl_opts_t o;
  ctl_t c;
  char err[512], *pos[1];
  const char *cmd;
  size_t npos = 0;
  int rc, status;

  signal(SIGPIPE, SIG_IGN);
  memset(&o, 0, sizeof(o));
  o.server = "127.0.0.1:7070";
  o.timeout_ms = 2000;
  groups[0] = (mlfq_cli_group_t){"Options", ctl_options, &o};

  rc = mlfq_cli_parse(argc, argv, groups, 1, pos, 1, &npos, err, sizeof(err));
  if (rc == MLFQ_CLI_HELP) {
    fputs(usage, stdout);
    mlfq_cli_help(stdout, groups, 1);
    fputs(footer, stdout);
    return 0;
  }
  if (rc == MLFQ_CLI_VERSION) {
    printf("mlfqctl %s (protocol %d)\n", MLFQ_VERSION, MLFQ_PROTOCOL_VERSION);
    return 0;
  }
  if (rc < 0)
    goto bad;
  if (npos == 0) {
    snprintf(err, sizeof(err), "missing command: ping or stats (see --help)");
    goto bad;
  }
  cmd = pos[0];
  if (strcmp(cmd, "ping") != 0 && strcmp(cmd, "stats") != 0) {
    snprintf(err, sizeof(err), "unknown command '%s' (ping or stats)", cmd);
    goto bad;
  }
  memset(&c, 0, sizeof(c));
  c.addr = o.server;
  c.timeout_ms = o.timeout_ms;
  if (mlfq_peer_parse_addr(o.server, c.host, sizeof(c.host), &c.port) != 0 ||
      c.port == 0) {
    snprintf(err, sizeof(err), "--server: '%s' is not HOST:PORT", o.server);
    goto bad;
  }

  c.deadline = mono_ns() + (uint64_t)o.timeout_ms * MLFQ_NS_PER_MS;
  status = ctl_connect(&c) != 0;
  if (status == 0 && strcmp(cmd, "ping") == 0)
    status = cmd_ping(&c, o.json);
  else if (status == 0)
    status = cmd_stats(&c, o.json);
  if (c.connected)
    mlfq_peer_close(&c.peer);
  if (status != 0 && c.why[0] != '\0')
    fprintf(stderr, "mlfqctl: %s\n", c.why);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "mlfqctl: error writing the output: %s\n", strerror(errno));
    status = 1;
  }
  return status;

bad:
  fprintf(stderr, "mlfqctl: %s\n", err);
  return 2;
}
