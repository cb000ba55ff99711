/* DESIGN
 *
 * The router: a libuv proxy between clients and N mlfqd replicas. It owns
 * the listener, the table of requests in flight (routes), the balancer
 * (common/core/balance.h) and the drain. One loop thread touches everything;
 * there are no other threads.
 *
 * Routes. Every client's requests share one connection per replica, so
 * each request gets an upstream id of the router's, a 64-bit counter that
 * never repeats: clients may use the same ids without colliding, and a
 * late message about a request that has ended (cancelled, lost) finds no
 * route and is dropped. A route is in two id maps (upstream id, and its
 * client's id on its client) and two lists (its client's, its replica's),
 * so that a client's close cancels its requests and a replica's loss ends
 * its requests, each without a search. The number of routes is bounded by
 * --max-pending.
 *
 * Loads. A request's tokens join its replica's load when it is sent, and
 * leave as its Tokens come back and when it ends, however it ends; the
 * balancer picks on loads that are current at dispatch time.
 *
 * Output. Handlers only append frames to streams; router_settle, at the
 * end of every callback, writes each dirty stream once and closes what
 * was marked to close, so nothing is closed in the middle of a read.
 *
 * Clients are accepted only once some replica has said Welcome (the
 * Welcome a client gets carries a replica's configuration): until then a
 * connection waits in the listen backlog, and libuv stops polling the
 * listener until it is accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/secret.h"
#include "net/tcp.h"
#include "router.h"

/* For the trim timer: requests in flight, and a count that grows with
 * every client connection opened or closed and every request routed or
 * refused. */
static int trim_busy(void *arg) { return ((router_t *)arg)->routes.n != 0; }

static uint64_t trim_activity(void *arg) {
  const router_t *rt = arg;

  return 2 * rt->conn_seq - rt->nclients + rt->next_up_id + rt->rejected;
}

static void on_settle(mlfq_stream_group_t *g) {
  router_settle(MLFQ_CONTAINER_OF(g, router_t, streams));
}

int router_init(router_t *rt, uv_loop_t *loop, const router_opts_t *o,
                const char *const *addrs, size_t naddrs, char *err,
                size_t errlen) {
  size_t i;
  int rc;

  memset(rt, 0, sizeof(*rt));
  rt->loop = loop;
  rt->opt = *o;
  rt->t0 = uv_hrtime();
  mlfq_idmap_init(&rt->routes);
  mlfq_list_init(&rt->clients);
  mlfq_stream_group_init(&rt->streams, on_settle);
  client_setup(rt);
  mlfq_list_init(&rt->stats_clients);
  /* The id maps draw their hash keys from it (idmap.c). */
  rc = mlfq_secret_init();
  if (rc)
    return mlfq_fail(err, errlen, rc, "no random secret: %s",
                     mlfq_strerror(rc));
  rc = mlfq_balance_init(&rt->bal, o->policy, naddrs, o->seed);
  if (rc)
    return mlfq_fail(err, errlen, rc, "out of memory");
  rt->replicas = calloc(naddrs, sizeof(*rt->replicas));
  if (rt->replicas == NULL)
    return mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
  rc = uv_timer_init(loop, &rt->drain_timer);
  if (rc)
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  rc = uv_timer_init(loop, &rt->stats_timer);
  if (rc) {
    uv_close((uv_handle_t *)&rt->drain_timer, NULL);
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  }
  rc = mlfq_trim_init(&rt->trim, loop, MLFQ_TRIM_PERIOD_MS, trim_busy,
                      trim_activity, rt);
  if (rc) {
    uv_close((uv_handle_t *)&rt->drain_timer, NULL);
    uv_close((uv_handle_t *)&rt->stats_timer, NULL);
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  }
  rt->timers = 1;
  for (i = 0; i < naddrs; i++) {
    rc = replica_init(&rt->replicas[i], rt, i, addrs[i], err, errlen);
    if (rc)
      return rc;
    rt->nreplicas++;
  }
  return 0;
}

static void on_connection(uv_stream_t *listener, int status) {
  router_t *rt = MLFQ_CONTAINER_OF(listener, router_t, listener);
  Mlfq__Config c;

  if (status < 0) {
    mlfq_log_peer(MLFQ_LOG_WARN, "accept: %s", uv_strerror(status));
    return;
  }
  if (router_config(rt, &c) == NULL) {
    /* Not accepted: libuv stops polling the listener until it is. */
    rt->accept_held = 1;
    return;
  }
  client_accept(rt);
  router_settle(rt);
}

void router_replica_ready(router_t *rt) {
  if (!rt->accept_held || !rt->listening)
    return;
  rt->accept_held = 0;
  mlfq_log(MLFQ_LOG_INFO, "a replica is up: accepting clients");
  client_accept(rt);
}

int router_listen(router_t *rt, const char *host, int port, char *bound,
                  size_t boundlen, char *err, size_t errlen) {
  int rc = mlfq_tcp_listen(rt->loop, &rt->listener, &rt->listening, host, port,
                           on_connection, bound, boundlen, err, errlen);

  if (rc == 0) {
    rc = mlfq_deadlines_init(&rt->hellos, rt->loop,
                             (uint64_t)(rt->opt.srv.hello_timeout * 1e3),
                             mlfq_session_hello_due);
    if (rc != 0)
      snprintf(err, errlen, "hello timer: %s", uv_strerror(rc));
  }
  return rc;
}

const Mlfq__Config *router_config(router_t *rt, Mlfq__Config *c) {
  const replica_t *src = NULL;
  size_t i;

  for (i = 0; i < rt->nreplicas && src == NULL; i++)
    if (rt->replicas[i].state == REPLICA_UP)
      src = &rt->replicas[i];
  for (i = 0; i < rt->nreplicas && src == NULL; i++)
    if (rt->replicas[i].welcome != NULL)
      src = &rt->replicas[i];
  if (src == NULL)
    return NULL;
  *c = *src->welcome->welcome->config;
  c->max_pending = rt->opt.srv.max_pending;
  c->max_pending_per_conn = rt->opt.srv.max_pending_per_conn;
  c->max_input_length = rt->opt.srv.max_input_length;
  c->max_output_length = rt->opt.srv.max_output_length;
  c->max_frame_bytes = rt->opt.srv.max_frame_bytes;
  return c;
}

int router_dispatch(router_t *rt, route_t *q, const Mlfq__Submit *s) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit up = *s;
  replica_t *r = q->replica;
  int rc;

  up.id = q->up_id;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &up;
  if (mlfq__client_message__get_packed_size(&m) >
      r->welcome->welcome->config->max_frame_bytes)
    return MLFQ_EFRAMESIZE;
  rc = mlfq_stream_put_client(&r->s, &m);
  if (rc)
    return rc;
  mlfq_balance_dispatch(&rt->bal, r->index, &q->load, s->input_length,
                        s->output_length);
  r->routed++;
  return 0;
}

void router_end(router_t *rt, route_t *q) {
  mlfq_balance_end(&rt->bal, q->replica->index, &q->load);
  mlfq_idmap_del(&rt->routes, q->up_id);
  mlfq_idmap_del(&q->client->s.ids, q->client_id);
  mlfq_list_remove(&q->clink);
  mlfq_list_remove(&q->rlink);
  free(q);
}

void router_forward(router_t *rt, route_t *q, Mlfq__ServerMessage *m) {
  client_t *c = q->client;

  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    m->accepted->id = q->client_id;
    client_send(c, m);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    mlfq_balance_token(&rt->bal, q->replica->index, &q->load);
    m->token->id = q->client_id;
    client_send(c, m);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    m->done->id = q->client_id;
    m->done->replica = (uint32_t)q->replica->index + 1;
    client_send(c, m);
    router_end(rt, q);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    /* Every request error of a replica ends the request. One that is
     * draining takes no more work until it has restarted. */
    if (m->error->code == MLFQ__ERROR_CODE__SHUTTING_DOWN &&
        !q->replica->draining) {
      q->replica->draining = 1;
      mlfq_balance_set_up(&rt->bal, q->replica->index, 0);
      mlfq_log(MLFQ_LOG_WARN, "replica %zu %s is shutting down: no new work",
               q->replica->index + 1, q->replica->addr);
    }
    m->error->id = q->client_id;
    client_send(c, m);
    router_end(rt, q);
    break;
  default:
    break;
  }
}

static void close_all(router_t *rt) {
  mlfq_link_t *l, *next;

  for (l = rt->clients.next; l != &rt->clients; l = next) {
    next = l->next;
    client_close(MLFQ_CONTAINER_OF(l, client_t, link));
  }
}

static void on_linger(uv_timer_t *t) {
  router_t *rt = MLFQ_CONTAINER_OF(t, router_t, drain_timer);

  close_all(rt);
  router_settle(rt);
}

static void close_timers(router_t *rt) {
  if (!rt->timers)
    return;
  rt->timers = 0;
  uv_close((uv_handle_t *)&rt->drain_timer, NULL);
  uv_close((uv_handle_t *)&rt->stats_timer, NULL);
  mlfq_trim_close(&rt->trim);
}

/* Stops the router: nothing is in flight. Pending StatsRequests are
 * answered, connections close once their output is written (or after a
 * second), the replicas are let go, and every handle is closed, so the
 * loop ends. */
static void begin_stop(router_t *rt) {
  mlfq_link_t *l;
  size_t i;

  rt->stopping = 1;
  mlfq_log(MLFQ_LOG_INFO, "stopping");
  if (rt->on_stop != NULL)
    rt->on_stop(rt);
  if (rt->listening) {
    uv_close((uv_handle_t *)&rt->listener, NULL);
    rt->listening = 0;
  }
  mlfq_deadlines_close(&rt->hellos);
  stats_flush_all(rt);
  for (i = 0; i < rt->nreplicas; i++)
    replica_stop(&rt->replicas[i]);
  for (l = rt->clients.next; l != &rt->clients; l = l->next)
    client_linger(MLFQ_CONTAINER_OF(l, client_t, link));
  uv_timer_stop(&rt->drain_timer);
  uv_timer_stop(&rt->stats_timer);
  if (rt->nclients == 0)
    close_timers(rt);
  else if (uv_timer_start(&rt->drain_timer, on_linger, 1000, 0) != 0)
    close_all(rt);
}

void router_settle(router_t *rt) {
  /* A flush may close a client, whose Cancels make replicas dirty: the
   * group flush takes the list from its head until it is empty. */
  mlfq_stream_group_flush(&rt->streams);
  if (rt->draining && !rt->stopping && rt->routes.n == 0)
    begin_stop(rt);
  if (rt->stopping && rt->nclients == 0)
    close_timers(rt);
}

void router_client_closed(router_t *rt, client_t *c) {
  mlfq_list_remove(&c->link);
  rt->nclients--;
  if (rt->stopping && rt->nclients == 0)
    close_timers(rt);
}

static void on_drain_timeout(uv_timer_t *t) {
  router_t *rt = MLFQ_CONTAINER_OF(t, router_t, drain_timer);
  mlfq_link_t *l, *next;
  route_t *q;
  client_t *c;

  mlfq_log(MLFQ_LOG_WARN, "drain timeout: cancelling %zu requests",
           rt->routes.n);
  for (l = rt->clients.next; l != &rt->clients; l = next) {
    next = l->next;
    c = MLFQ_CONTAINER_OF(l, client_t, link);
    while (!mlfq_list_empty(&c->routes)) {
      q = MLFQ_CONTAINER_OF(c->routes.next, route_t, clink);
      replica_cancel(q->replica, q->up_id);
      mlfq_session_error(&c->s, q->client_id, MLFQ__ERROR_CODE__SHUTTING_DOWN,
                         "router shut down before the request finished");
      router_end(rt, q);
    }
  }
  router_settle(rt); /* writes, and begins the stop */
}

void router_drain(router_t *rt) {
  if (rt->draining)
    return;
  rt->draining = 1;
  mlfq_log(MLFQ_LOG_INFO, "draining %zu requests (timeout %g s)", rt->routes.n,
           rt->opt.srv.drain_timeout);
  if (rt->listening) {
    uv_close((uv_handle_t *)&rt->listener, NULL);
    rt->listening = 0;
  }
  if (rt->routes.n > 0 &&
      uv_timer_start(&rt->drain_timer, on_drain_timeout,
                     (uint64_t)(rt->opt.srv.drain_timeout * 1000), 0) != 0)
    on_drain_timeout(&rt->drain_timer);
  router_settle(rt);
}

void router_close(router_t *rt) {
  size_t i;

  for (i = 0; i < rt->nreplicas; i++)
    replica_stop(&rt->replicas[i]);
  close_timers(rt);
  if (rt->listening) {
    uv_close((uv_handle_t *)&rt->listener, NULL);
    rt->listening = 0;
  }
  mlfq_deadlines_close(&rt->hellos);
}

void router_free(router_t *rt) {
  size_t i;

  for (i = 0; i < rt->nreplicas; i++)
    replica_free(&rt->replicas[i]);
  free(rt->replicas);
  rt->replicas = NULL;
  mlfq_idmap_free(&rt->routes);
  mlfq_balance_free(&rt->bal);
}
