/* DESIGN: the server's types in the protocol's words, at the protocol's
 * edge (conn.c calls it): server_stats_t as a StatsReply, and how large
 * the largest Welcome and StatsReply can be (server_replies_check). The
 * server's error reasons become ErrorCodes in errors.c. Loop thread.
 */
#include <string.h>

#include "base/error.h"
#include "base/version.h"
#include "server.h"
#include "wire/frame.h"

/* Points s into st (levels and busy) and c. */
static void stats_reply(const server_stats_t *st, Mlfq__Config *c,
                        Mlfq__StatsReply *s) {
  mlfq__stats_reply__init(s);
  s->n_level_lengths = st->nlevels;
  s->level_lengths = (uint64_t *)st->levels;
  s->running = st->running;
  s->waiting = st->waiting;
  s->submitted = st->submitted;
  s->completed = st->completed;
  s->cancelled = st->cancelled;
  s->rejected = st->rejected;
  s->tokens = st->tokens;
  s->n_worker_busy = st->nengines;
  s->worker_busy = (double *)st->busy;
  s->lateness_p50_us = st->lateness_p50_us;
  s->lateness_p99_us = st->lateness_p99_us;
  s->lateness_max_us = st->lateness_max_us;
  s->uptime_s = st->uptime_s;
  s->connections = st->connections;
  s->iterations = st->iterations;
  s->demotions = st->demotions;
  s->promotions = st->promotions;
  s->preemptions = st->preemptions;
  s->swapped_tokens = st->swapped_tokens;
  s->kv_used_tokens = st->kv_used_tokens;
  s->kv_peak_tokens = st->kv_peak_tokens;
  s->heap_trims = st->heap_trims;
  s->draining = st->draining != 0;
  s->config = c;
}

void proto_send_stats(conn_t *c) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__StatsReply s;
  server_stats_t st;

  server_stats_get(c->sv, &st);
  stats_reply(&st, &c->sv->wcfg.config, &s);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  conn_send(c, &m);
}

/* The widest statistics of a server with p: every level and engine, every
 * counter at its widest. */
static void widest(const mlfq_sched_params_t *p, server_stats_t *st) {
  unsigned i;

  memset(st, 0, sizeof(*st));
  st->nlevels = p->queues;
  for (i = 0; i < p->queues; i++)
    st->levels[i] = UINT64_MAX;
  st->nengines = p->workers;
  for (i = 0; i < p->workers; i++)
    st->busy[i] = 0.5;
  st->running = st->waiting = st->submitted = st->completed = st->cancelled =
      st->rejected = st->tokens = st->connections = st->iterations =
          st->demotions = st->promotions = st->preemptions =
              st->swapped_tokens = st->kv_used_tokens = st->kv_peak_tokens =
                  st->heap_trims = UINT64_MAX;
  st->lateness_p50_us = st->lateness_p99_us = st->lateness_max_us =
      st->uptime_s = 1;
  st->draining = 1;
}

int server_replies_check(const server_opts_t *o, char *err, size_t errlen) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  Mlfq__StatsReply s;
  server_stats_t st;
  mlfq_sched_params_t p;
  mlfq_wire_config_t wc;
  char id[64];
  size_t welcome, stats, most;
  int rc;

  rc = mlfq_sched_resolve(&p, &o->sched, &o->cost, err, errlen);
  if (rc)
    return rc;
  rc = mlfq_wire_config_init(&wc, &o->sched, &p, &o->cost, &o->lim);
  if (rc)
    return mlfq_fail(err, errlen, rc, "out of memory");
  /* The largest of each: the longest id, every counter at its widest. */
  memset(id, 'x', sizeof(id) - 1);
  id[sizeof(id) - 1] = '\0';
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  w.server_id = id;
  w.server_version = MLFQ_VERSION;
  w.config = &wc.config;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  welcome = protobuf_c_message_get_packed_size(&m.base);
  widest(&p, &st);
  stats_reply(&st, &wc.config, &s);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  stats = protobuf_c_message_get_packed_size(&m.base);
  mlfq_wire_config_free(&wc);
  most = MLFQ_FRAME_HEADER + (welcome > stats ? welcome : stats);
  if (most <= o->max_queued_bytes / 2)
    return 0;
  return mlfq_fail(
      err, errlen, MLFQ_ERANGE,
      "--max-queued-bytes: a %s would be up to %zu bytes (profile rows: %zu, "
      "engines: %u, levels: %u), more than half of %zu: clients would be "
      "disconnected as slow readers; give --max-queued-bytes %zu or more (or "
      "fewer profile rows, engines or levels)",
      welcome > stats ? "Welcome" : "StatsReply", most, o->cost.nrows,
      p.workers, p.queues, o->max_queued_bytes, 2 * most);
}
