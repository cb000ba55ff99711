/* DESIGN
 *
 * mlfqd's protocol connections: a protocol session each
 * (common/net/session.h: framing, Hello, connection errors, flow control,
 * the connection limit) whose Submits become requests of the server, with
 * an id map for lookups (the session's) and a list to cancel them all on
 * close.
 *
 * The sessions' streams form one group, flushed at the end of every pump
 * (server_pump): every read and write callback ends with a pump, so the
 * frames one pump produces for a client go out in one write. Nothing is
 * closed while the server is in the middle of a scheduling point: a
 * connection that overflows there is only marked (the session drops it),
 * and closed when it is flushed. A connection's requests leave the
 * scheduler and are freed at once when it closes; its memory goes in the
 * handle's close callback.
 */
#include <stdlib.h>

#include "base/log.h"
#include "server.h"

#define CONN_OF_SESSION(s) MLFQ_CONTAINER_OF(s, conn_t, s)
#define CONN_OF(r) ((conn_t *)(r)->owner)

void conn_close(conn_t *c) { mlfq_session_close(&c->s); }

void conn_send(conn_t *c, const Mlfq__ServerMessage *m) {
  mlfq_session_send(&c->s, m);
}

static void req_accepted(request_t *r) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Accepted a = MLFQ__ACCEPTED__INIT;

  a.id = r->client_id;
  a.arrival_ns = r->job.arrival_ns;
  a.level = r->job.initial_level;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ACCEPTED;
  m.accepted = &a;
  conn_send(CONN_OF(r), &m);
}

static void req_end(request_t *r) {
  mlfq_idmap_del(&CONN_OF(r)->s.ids, r->client_id);
  mlfq_list_remove(&r->clink);
  free(r);
}

static void req_token(request_t *r, uint64_t t) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Token tok = MLFQ__TOKEN__INIT;
  Mlfq__Done d = MLFQ__DONE__INIT;
  const mlfq_job_t *j = &r->job;

  tok.id = r->client_id;
  tok.index = j->tokens;
  tok.t_ns = t;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
  m.token = &tok;
  conn_send(CONN_OF(r), &m);
  if (j->tokens < j->output_len)
    return;
  d.id = r->client_id;
  d.arrival_ns = j->arrival_ns;
  d.first_token_ns = j->first_token_ns;
  d.finish_ns = j->finish_ns;
  d.iterations = j->tokens;
  d.demotions = j->demotions;
  d.promotions = j->promotions;
  d.final_level = j->level;
  d.preemptions = j->preemptions;
  d.swapped_tokens = j->swapped_tokens;
  d.late_ns =
      (uint64_t)((double)r->late_ns / CONN_OF(r)->sv->opt.lim.time_scale);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
  m.done = &d;
  conn_send(CONN_OF(r), &m);
  req_end(r);
}

static void req_failed(request_t *r, server_err_t why, const char *msg) {
  mlfq_session_error(&CONN_OF(r)->s, r->client_id, server_err_wire(why), "%s",
                     msg);
  req_end(r);
}

static const request_ops_t req_ops = {req_accepted, req_token, req_failed};

/* ---- the session's ops ----------------------------------------------------
 */

/* What one read brings arrives at once: at the model time of the read. */
static void on_read(mlfq_session_t *s) {
  conn_t *c = CONN_OF_SESSION(s);

  c->now = server_model_now(c->sv);
}

static void on_welcome(mlfq_session_t *s, Mlfq__Welcome *w, Mlfq__Config *cfg) {
  server_t *sv = CONN_OF_SESSION(s)->sv;

  (void)cfg;
  w->server_id = sv->server_id;
  w->config = &sv->wcfg.config;
}

static int on_check(mlfq_session_t *s, const Mlfq__Submit *m, char *err,
                    size_t errlen) {
  return !server_kv_fits(CONN_OF_SESSION(s)->sv, m->input_length,
                         m->output_length, "input_length + output_length", err,
                         errlen);
}

static void on_submit(mlfq_session_t *s, const Mlfq__Submit *m) {
  conn_t *c = CONN_OF_SESSION(s);
  request_t *r;
  char err[256];

  if (!server_has_room(c->sv, s->ids.n, 1, err, sizeof(err))) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__OVERLOADED, "%s", err);
    return;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL || mlfq_idmap_put(&s->ids, m->id, r) != 0) {
    free(r);
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  r->ops = &req_ops;
  r->owner = c;
  r->client_id = m->id;
  r->job.input_len = m->input_length;
  r->job.output_len = m->output_length;
  r->max_tokens = m->output_length;
  mlfq_list_push_tail(&c->reqs, &r->clink);
  server_arrive(c->sv, r, c->now);
}

static void on_cancel(mlfq_session_t *s, void *req) {
  request_t *r = req;

  server_forget(CONN_OF_SESSION(s)->sv, r);
  req_end(r);
}

static void on_stats(mlfq_session_t *s) {
  conn_t *c = CONN_OF_SESSION(s);

  proto_send_stats(c);
}

static void on_closing(mlfq_session_t *s) {
  conn_t *c = CONN_OF_SESSION(s);
  request_t *r;

  while (!mlfq_list_empty(&c->reqs)) {
    r = MLFQ_CONTAINER_OF(c->reqs.next, request_t, clink);
    server_forget(c->sv, r);
    mlfq_list_remove(&r->clink);
    free(r);
  }
}

static void on_closed(mlfq_session_t *s) {
  conn_t *c = CONN_OF_SESSION(s);

  server_conn_closed(c->sv, c);
  free(c);
}

static size_t on_opened(mlfq_session_t *s) {
  conn_t *c = CONN_OF_SESSION(s);

  mlfq_list_push_tail(&c->sv->conns, &c->link);
  return ++c->sv->nconns;
}

static const mlfq_session_ops_t session_ops = {
    on_opened, on_read,  on_welcome, on_check, on_submit,
    on_cancel, on_stats, on_closing, on_closed};

/* ---- the server's side ----------------------------------------------------
 */

static void on_settle(mlfq_stream_group_t *g) {
  server_pump(MLFQ_CONTAINER_OF(g, server_t, streams));
}

void conn_setup(server_t *sv) {
  mlfq_session_cfg_t *cfg = &sv->scfg;
  const server_opts_t *o = &sv->opt;

  mlfq_stream_group_init(&sv->streams, on_settle);
  mlfq_session_cfg_init(cfg, "server", sv->loop, (uv_stream_t *)&sv->listener,
                        &sv->streams, &sv->hellos, &sv->draining);
  cfg->max_connections = o->max_connections;
  cfg->max_frame = o->lim.max_frame_bytes;
  cfg->max_queued = o->max_queued_bytes;
  cfg->hello_timeout_s = o->hello_timeout_s;
  cfg->max_input_length = o->lim.max_input_length;
  cfg->max_output_length = o->lim.max_output_length;
}

int conn_accept(server_t *sv) {
  conn_t *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return UV_ENOMEM;
  c->sv = sv;
  mlfq_list_init(&c->reqs);
  return mlfq_session_accept(&c->s, &sv->scfg, &session_ops, ++sv->conn_seq);
}

void conn_close_all(server_t *sv, int now) {
  mlfq_link_t *l, *next;
  conn_t *c;

  for (l = sv->conns.next; l != &sv->conns; l = next) {
    next = l->next;
    c = MLFQ_CONTAINER_OF(l, conn_t, link);
    if (now)
      conn_close(c);
    else
      mlfq_session_linger(&c->s);
  }
}
