/* DESIGN
 *
 * One client connection of the router. To its client the router is an
 * mlfqd (docs/PROTOCOL.md): Hello first and the version check, BAD_FRAME
 * and BAD_MESSAGE close the connection, DUPLICATE_ID, UNKNOWN_ID and
 * INVALID_REQUEST end a request, Cancel answers CANCELLED, --max-pending,
 * --max-pending-per-conn and the fair share (common/net/admit.h) answer
 * OVERLOADED, and --max-connections TOO_MANY_CONNECTIONS. What it
 * adds: NO_REPLICA when no replica is up, and REPLICA_LOST (router.c and
 * replica.c) when the replica running a request goes away.
 *
 * A request the client sends becomes a route (router.c) and goes to the
 * replica the balancer picks; its replies come back through
 * router_forward with the client's id. A client that disconnects, or is
 * disconnected, has its requests cancelled upstream and ended at once.
 *
 * Slow readers are bounded as in mlfqd: when its unwritten output passes
 * a quarter of --max-queued-bytes the router stops reading from it (it
 * cannot send more work), until half of that is written; past
 * --max-queued-bytes it is disconnected. Replicas are never paused for a
 * client: their connection carries every client's tokens.
 *
 * Closing is one idempotent path, client_close; the memory goes in the
 * handle's close callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "net/admit.h"
#include "router.h"
#include "wire/wire.h"

#define CLIENT_OF(st) MLFQ_CONTAINER_OF(st, client_t, s)

static void on_close(uv_handle_t *h) {
  client_t *c = CLIENT_OF((stream_t *)h);

  stream_reset(&c->s);
  router_client_closed(c->s.rt, c);
  free(c);
}

void client_close(client_t *c) {
  router_t *rt = c->s.rt;
  route_t *q;

  if (c->closing)
    return;
  c->closing = 1;
  c->s.stop = 1;
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: closed", (unsigned long long)c->id,
           c->peer);
  stats_client_gone(rt, c);
  while (!mlfq_list_empty(&c->routes)) {
    q = MLFQ_CONTAINER_OF(c->routes.next, route_t, clink);
    replica_cancel(q->replica, q->up_id);
    router_end(rt, q);
  }
  mlfq_idmap_free(&c->ids);
  mlfq_deadline_cancel(&c->hello_due);
  if (mlfq_list_linked(&c->s.dirty))
    mlfq_list_remove(&c->s.dirty);
  uv_close((uv_handle_t *)&c->s.tcp, on_close);
}

void client_send(client_t *c, const Mlfq__ServerMessage *m) {
  if (c->closing || c->flow.end == MLFQ_FLOW_DROP)
    return;
  if (stream_put_server(&c->s, m) != 0) { /* the stream's bound */
    /* Too much unread output: drop the rest, disconnect at the flush. */
    mlfq_log_peer(
        MLFQ_LOG_WARN,
        "conn %llu %s: disconnecting a slow reader (%zu bytes unread)",
        (unsigned long long)c->id, c->peer, c->s.queued + c->s.out.len);
    mlfq_flow_drop(&c->flow);
  }
}

void client_error(client_t *c, uint64_t id, Mlfq__ErrorCode code,
                  const char *fmt, ...) {
  const Mlfq__ServerMessage *m;
  mlfq_wire_error_t e;
  va_list ap;

  va_start(ap, fmt);
  m = mlfq_wire_error_init(&e, id, code, fmt, ap);
  va_end(ap);
  client_send(c, m);
}

/* Nothing more is read; c closes once its output is written. */
static void stop_reading(client_t *c) {
  mlfq_flow_linger(&c->flow);
  c->s.stop = 1;
  stream_read_stop(&c->s);
}

void client_linger(client_t *c) {
  if (c->closing)
    return;
  stop_reading(c);
  if (c->s.queued == 0 && c->s.out.len == 0)
    client_close(c);
}

/* An error about the whole connection: it is closed once the error is
 * written, and nothing more is read. */
static void fatal(client_t *c, Mlfq__ErrorCode code, const char *msg) {
  mlfq_log_peer(MLFQ_LOG_INFO, "conn %llu %s: %s: %s",
                (unsigned long long)c->id, c->peer, mlfq_wire_error_name(code),
                msg);
  client_error(c, 0, code, "%s", msg);
  stop_reading(c);
}

static void on_flush(stream_t *s) {
  client_t *c = CLIENT_OF(s);

  if (c->closing)
    return;
  if (mlfq_flow_flushing(&c->flow) == MLFQ_FLOW_CLOSE || stream_write(s) != 0) {
    client_close(c);
    return;
  }
  switch (mlfq_flow_flushed(&c->flow, s->queued)) {
  case MLFQ_FLOW_CLOSE:
    client_close(c);
    break;
  case MLFQ_FLOW_PAUSE:
    stream_read_stop(s);
    break;
  default:
    break;
  }
}

static void on_written(stream_t *s, int status) {
  client_t *c = CLIENT_OF(s);

  if (c->closing)
    return;
  if (status < 0) {
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: write: %s",
             (unsigned long long)c->id, c->peer, uv_strerror(status));
    client_close(c);
    return;
  }
  switch (mlfq_flow_written(&c->flow, s->queued, s->out.len)) {
  case MLFQ_FLOW_CLOSE:
    client_close(c);
    break;
  case MLFQ_FLOW_RESUME:
    if (stream_read_start(s) != 0)
      client_close(c);
    break;
  default:
    break;
  }
}

static void on_failed(stream_t *s, int err) {
  client_t *c = CLIENT_OF(s);

  if (err == MLFQ_EFRAMESIZE || err == MLFQ_EFRAMEEMPTY) {
    fatal(c, MLFQ__ERROR_CODE__BAD_FRAME, mlfq_strerror(err));
    return;
  }
  if (err != UV_EOF)
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: read: %s",
             (unsigned long long)c->id, c->peer, uv_strerror(err));
  client_close(c);
}

static void welcome(client_t *c, const Mlfq__Hello *h) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  router_t *rt = c->s.rt;
  const char *who = h->client_name ? h->client_name : "";
  char err[256], name[MLFQ_LOG_SHOW_BYTES];
  Mlfq__Config cfg;

  if (mlfq_wire_hello_check(h, "router", err, sizeof(err)) != 0) {
    fatal(c, MLFQ__ERROR_CODE__BAD_VERSION, err);
    return;
  }
  c->hello = 1;
  mlfq_deadline_cancel(&c->hello_due);
  if (mlfq_log_enabled(MLFQ_LOG_DEBUG))
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: hello from '%s'",
             (unsigned long long)c->id, c->peer,
             mlfq_log_escape(who, strlen(who), name, sizeof(name)));
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  w.server_id = "mlfq-router";
  w.server_version = MLFQ_VERSION;
  w.config = (Mlfq__Config *)router_config(rt, &cfg);
  w.replicas = (uint32_t)rt->nreplicas;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  client_send(c, &m);
}

/* Takes q out of both id maps and frees it: it was never sent. */
static void unroute(router_t *rt, client_t *c, route_t *q) {
  mlfq_idmap_del(&rt->routes, q->up_id);
  mlfq_idmap_del(&c->ids, q->client_id);
  free(q);
}

static void submit(client_t *c, const Mlfq__Submit *s) {
  router_t *rt = c->s.rt;
  const router_opts_t *o = &rt->opt;
  mlfq_admit_t a;
  route_t *q;
  char err[256];
  int i, rc;

  if (rt->draining) {
    client_error(c, s->id, MLFQ__ERROR_CODE__SHUTTING_DOWN,
                 "the router is shutting down");
    return;
  }
  if (mlfq_wire_submit_check(s, o->srv.max_input_length,
                             o->srv.max_output_length, err, sizeof(err)) != 0) {
    client_error(c, s->id, MLFQ__ERROR_CODE__INVALID_REQUEST, "%s", err);
    return;
  }
  if (mlfq_idmap_get(&c->ids, s->id) != NULL) {
    client_error(c, s->id, MLFQ__ERROR_CODE__DUPLICATE_ID,
                 "request %llu is already in flight on this connection",
                 (unsigned long long)s->id);
    return;
  }
  a = mlfq_admit(rt->routes.n, c->ids.n, 1, o->srv.max_pending,
                 o->srv.max_pending_per_conn);
  if (a != MLFQ_ADMIT_OK) {
    rt->rejected++;
    mlfq_admit_why(a, rt->routes.n, c->ids.n, o->srv.max_pending,
                   o->srv.max_pending_per_conn, err, sizeof(err));
    client_error(c, s->id, MLFQ__ERROR_CODE__OVERLOADED, "%s", err);
    return;
  }
  i = mlfq_balance_pick(&rt->bal);
  if (i < 0) {
    rt->rejected++;
    client_error(c, s->id, MLFQ__ERROR_CODE__NO_REPLICA,
                 "no replica is up (%zu configured)", rt->nreplicas);
    return;
  }
  q = calloc(1, sizeof(*q));
  if (q == NULL) {
    client_error(c, s->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  q->up_id = ++rt->next_up_id;
  q->client_id = s->id;
  q->client = c;
  q->replica = &rt->replicas[i];
  rc = mlfq_idmap_put(&c->ids, s->id, q);
  if (rc == 0) {
    rc = mlfq_idmap_put(&rt->routes, q->up_id, q);
    if (rc)
      mlfq_idmap_del(&c->ids, s->id);
  }
  if (rc) {
    free(q);
    client_error(c, s->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  rc = router_dispatch(rt, q, s);
  if (rc == MLFQ_EFRAMESIZE) {
    client_error(c, s->id, MLFQ__ERROR_CODE__INVALID_REQUEST,
                 "the request is larger than replica %s takes",
                 q->replica->addr);
    unroute(rt, c, q);
    return;
  }
  if (rc) {
    rt->rejected++;
    client_error(c, s->id, MLFQ__ERROR_CODE__OVERLOADED,
                 "replica %s is not reading its requests", q->replica->addr);
    unroute(rt, c, q);
    return;
  }
  mlfq_list_push_tail(&c->routes, &q->clink);
  mlfq_list_push_tail(&q->replica->routes, &q->rlink);
}

static void cancel(client_t *c, const Mlfq__Cancel *k) {
  route_t *q = mlfq_idmap_get(&c->ids, k->id);

  if (q == NULL) {
    client_error(c, k->id, MLFQ__ERROR_CODE__UNKNOWN_ID,
                 "request %llu is not in flight on this connection",
                 (unsigned long long)k->id);
    return;
  }
  replica_cancel(q->replica, q->up_id);
  client_error(c, k->id, MLFQ__ERROR_CODE__CANCELLED, "cancelled");
  router_end(c->s.rt, q);
}

/* Handles one message; a connection error stops reading. */
static void on_frame(stream_t *s, const uint8_t *p, size_t len) {
  Mlfq__ClientMessage *m = mlfq__client_message__unpack(NULL, len, p);
  client_t *c = CLIENT_OF(s);
  Mlfq__ErrorCode code;
  const char *why;

  /* A Submit is relayed as it came: one the replica could not read would
   * close the replica's connection, every client's requests with it. */
  if (m != NULL && !mlfq_wire_tags_valid(&m->base)) {
    mlfq__client_message__free_unpacked(m, NULL);
    m = NULL;
  }
  switch (mlfq_wire_client_check(m, c->hello, &code, &why)) {
  case MLFQ__CLIENT_MESSAGE__MSG_HELLO:
    welcome(c, m->hello);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_SUBMIT:
    submit(c, m->submit);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_CANCEL:
    cancel(c, m->cancel);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_STATS:
    stats_request(c->s.rt, c);
    break;
  default:
    fatal(c, code, why);
    break;
  }
  if (m != NULL)
    mlfq__client_message__free_unpacked(m, NULL);
}

static const stream_ops_t client_ops = {on_frame, on_failed, on_flush,
                                        on_written};

int client_accept(router_t *rt) {
  client_t *c;
  int rc;

  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    mlfq_log(MLFQ_LOG_ERROR, "accept: out of memory");
    return UV_ENOMEM;
  }
  c->id = ++rt->conn_seq;
  mlfq_list_init(&c->routes);
  mlfq_idmap_init(&c->ids);
  mlfq_deadline_init(&c->hello_due);
  stream_init(&c->s, rt, &client_ops, rt->opt.srv.max_frame_bytes,
              rt->opt.srv.max_queued_bytes, 0);
  mlfq_flow_init(&c->flow, rt->opt.srv.max_queued_bytes,
                 rt->opt.srv.max_queued_bytes / 4);
  rc = uv_tcp_init(rt->loop, &c->s.tcp);
  if (rc) {
    free(c);
    return rc;
  }
  mlfq_list_push_tail(&rt->clients, &c->link);
  rt->nclients++;
  rc = uv_accept((uv_stream_t *)&rt->listener, (uv_stream_t *)&c->s.tcp);
  if (rc) {
    client_close(c);
    return rc;
  }
  rc = uv_tcp_nodelay(&c->s.tcp, 1);
  if (rc)
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu: nodelay: %s",
             (unsigned long long)c->id, uv_strerror(rc));
  stream_peer_name(&c->s, c->peer, sizeof(c->peer));
  if (rt->nclients > rt->opt.srv.max_connections) {
    fatal(c, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS,
          "too many connections (max-connections)");
    return 0;
  }
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: accepted", (unsigned long long)c->id,
           c->peer);
  rc = stream_read_start(&c->s);
  if (rc)
    client_close(c);
  else
    mlfq_deadline_set(&rt->hellos, &c->hello_due);
  return rc;
}

void client_hello_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  client_t *c = MLFQ_CONTAINER_OF(d, client_t, hello_due);
  char msg[128];

  (void)ds;
  snprintf(msg, sizeof(msg), "no Hello within %g s (hello-timeout)",
           c->s.rt->opt.srv.hello_timeout);
  fatal(c, MLFQ__ERROR_CODE__HELLO_FIRST, msg);
  router_settle(c->s.rt);
}
