/* DESIGN
 *
 * One client connection of the router. To its client the router is an
 * mlfqd (docs/PROTOCOL.md): the protocol session is mlfqd's own
 * (common/net/session.h: Hello first and the version check, BAD_FRAME and
 * BAD_MESSAGE close the connection, DUPLICATE_ID, UNKNOWN_ID and
 * INVALID_REQUEST end a request, Cancel answers CANCELLED, slow readers
 * are paused and disconnected, --max-connections answers
 * TOO_MANY_CONNECTIONS), and --max-pending, --max-pending-per-conn and
 * the fair share (common/net/admit.h) answer OVERLOADED. What it adds:
 * NO_REPLICA when no replica is up, REPLICA_LOST (router.c and replica.c)
 * when the replica running a request goes away, and BAD_MESSAGE for a
 * message it could not relay as it came.
 *
 * A request the client sends becomes a route (router.c) and goes to the
 * replica the balancer picks; its replies come back through
 * router_forward with the client's id. A client that disconnects, or is
 * disconnected, has its requests cancelled upstream and ended at once.
 * Replicas are never paused for a client: their connection carries every
 * client's tokens.
 */
#include <stdlib.h>

#include "base/error.h"
#include "base/log.h"
#include "net/admit.h"
#include "router.h"

#define CLIENT_OF(ss) MLFQ_CONTAINER_OF(ss, client_t, s)

void client_close(client_t *c) { mlfq_session_close(&c->s); }

void client_send(client_t *c, const Mlfq__ServerMessage *m) {
  mlfq_session_send(&c->s, m);
}

void client_linger(client_t *c) { mlfq_session_linger(&c->s); }

static void on_welcome(mlfq_session_t *s, Mlfq__Welcome *w, Mlfq__Config *cfg) {
  router_t *rt = CLIENT_OF(s)->rt;

  w->server_id = "mlfq-router";
  w->config = (Mlfq__Config *)router_config(rt, cfg);
  w->replicas = (uint32_t)rt->nreplicas;
}

/* Takes q out of both id maps and frees it: it was never sent. */
static void unroute(router_t *rt, client_t *c, route_t *q) {
  mlfq_idmap_del(&rt->routes, q->up_id);
  mlfq_idmap_del(&c->s.ids, q->client_id);
  free(q);
}

/* Whether the router takes one more request from c; if not, c is told. */
static int admit(client_t *c, uint64_t id) {
  router_t *rt = c->rt;
  const mlfq_daemon_opts_t *o = &rt->opt.srv;
  size_t own = c->s.ids.n;
  mlfq_admit_t a;
  char err[256];

  a = mlfq_admit(rt->routes.n, own, 1, o->max_pending, o->max_pending_per_conn);
  if (a == MLFQ_ADMIT_OK)
    return 1;
  rt->rejected++;
  mlfq_admit_why(a, rt->routes.n, own, o->max_pending, o->max_pending_per_conn,
                 err, sizeof(err));
  mlfq_session_error(&c->s, id, MLFQ__ERROR_CODE__OVERLOADED, "%s", err);
  return 0;
}

static void on_submit(mlfq_session_t *s, const Mlfq__Submit *m) {
  client_t *c = CLIENT_OF(s);
  router_t *rt = c->rt;
  route_t *q;
  int i, rc;

  if (!admit(c, m->id))
    return;
  i = mlfq_balance_pick(&rt->bal);
  if (i < 0) {
    rt->rejected++;
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__NO_REPLICA,
                       "no replica is up (%zu configured)", rt->nreplicas);
    return;
  }
  q = calloc(1, sizeof(*q));
  if (q == NULL) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  q->up_id = ++rt->next_up_id;
  q->client_id = m->id;
  q->client = c;
  q->replica = &rt->replicas[i];
  rc = mlfq_idmap_put(&s->ids, m->id, q);
  if (rc == 0) {
    rc = mlfq_idmap_put(&rt->routes, q->up_id, q);
    if (rc)
      mlfq_idmap_del(&s->ids, m->id);
  }
  if (rc) {
    free(q);
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  rc = router_dispatch(rt, q, m);
  if (rc == MLFQ_EFRAMESIZE) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__INVALID_REQUEST,
                       "the request is larger than replica %s takes",
                       q->replica->addr);
    unroute(rt, c, q);
    return;
  }
  if (rc) {
    rt->rejected++;
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__OVERLOADED,
                       "replica %s is not reading its requests",
                       q->replica->addr);
    unroute(rt, c, q);
    return;
  }
  mlfq_list_push_tail(&c->routes, &q->clink);
  mlfq_list_push_tail(&q->replica->routes, &q->rlink);
}

static void on_cancel(mlfq_session_t *s, void *req) {
  route_t *q = req;

  replica_cancel(q->replica, q->up_id);
  router_end(CLIENT_OF(s)->rt, q);
}

static void on_stats(mlfq_session_t *s) {
  client_t *c = CLIENT_OF(s);

  stats_request(c->rt, c);
}

static void on_closing(mlfq_session_t *s) {
  client_t *c = CLIENT_OF(s);
  route_t *q;

  stats_client_gone(c->rt, c);
  while (!mlfq_list_empty(&c->routes)) {
    q = MLFQ_CONTAINER_OF(c->routes.next, route_t, clink);
    replica_cancel(q->replica, q->up_id);
    router_end(c->rt, q);
  }
}

static void on_closed(mlfq_session_t *s) {
  client_t *c = CLIENT_OF(s);

  router_client_closed(c->rt, c);
  free(c);
}

static size_t on_opened(mlfq_session_t *s) {
  client_t *c = CLIENT_OF(s);

  mlfq_list_push_tail(&c->rt->clients, &c->link);
  return ++c->rt->nclients;
}

static const mlfq_session_ops_t session_ops = {
    on_opened, NULL,     on_welcome, NULL,     on_submit,
    on_cancel, on_stats, on_closing, on_closed};

void client_setup(router_t *rt) {
  mlfq_session_cfg_init(&rt->scfg, "router", rt->loop,
                        (uv_stream_t *)&rt->listener, &rt->streams, &rt->hellos,
                        &rt->draining);
  mlfq_session_cfg_limits(&rt->scfg, &rt->opt.srv);
  rt->scfg.relay = 1;
}

int client_accept(router_t *rt) {
  client_t *c = calloc(1, sizeof(*c));

  if (c == NULL) {
    mlfq_log(MLFQ_LOG_ERROR, "accept: out of memory");
    return UV_ENOMEM;
  }
  c->rt = rt;
  mlfq_list_init(&c->routes);
  return mlfq_session_accept(&c->s, &rt->scfg, &session_ops, ++rt->conn_seq);
}
