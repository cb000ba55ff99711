/* DESIGN
 *
 * One client connection: reading and framing its bytes, handling its
 * messages, its requests (an id map for lookups, a list to cancel them all
 * on close) and its output.
 *
 * Output is appended to `out` while the server pumps and written with one
 * uv_write per flush; each write request is allocated together with its
 * bytes. A connection whose unwritten output passes a quarter of
 * max_queued_bytes stops being read until half of that is written; one
 * that passes max_queued_bytes is disconnected (the rules are
 * common/net/flow.c's, shared with HTTP and the router's client connections).
 *
 * Closing is one idempotent path, conn_close: its requests leave the
 * scheduler and are freed at once, and the memory of the connection goes
 * in the handle's close callback. Nothing is closed while the server is in
 * the middle of a scheduling point: a connection that overflows there is
 * only marked, and closed when it is flushed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "net/tcp.h"
#include "server.h"
#include "wire/frame.h"

#define READ_CHUNK 65536

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_close(uv_handle_t *h) {
  conn_t *c = (conn_t *)h;

  mlfq_buf_free(&c->in);
  mlfq_buf_free(&c->out);
  server_conn_closed(c->sv, c);
  free(c);
}

void conn_close(conn_t *c) {
  request_t *r;

  if (c->closing)
    return;
  c->closing = 1;
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: closed", (unsigned long long)c->id,
           c->peer);
  while (!mlfq_list_empty(&c->reqs)) {
    r = MLFQ_CONTAINER_OF(c->reqs.next, request_t, clink);
    server_forget(c->sv, r);
    mlfq_list_remove(&r->clink);
    free(r);
  }
  mlfq_idmap_free(&c->ids);
  mlfq_deadline_cancel(&c->hello_due);
  if (mlfq_list_linked(&c->flush.link))
    mlfq_list_remove(&c->flush.link);
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

void conn_send(conn_t *c, const Mlfq__ServerMessage *m) {
  if (c->closing || c->flow.end == MLFQ_FLOW_DROP)
    return;
  if (mlfq_wire_put_server(&c->out, m) != 0)
    mlfq_flow_drop(&c->flow);
  if (!mlfq_flow_admit(&c->flow, c->queued + c->out.len))
    /* Too much unread output: drop the rest, disconnect at the flush. */
    mlfq_log_peer(
        MLFQ_LOG_WARN,
        "conn %llu %s: disconnecting a slow reader (%zu bytes unread)",
        (unsigned long long)c->id, c->peer, c->queued + c->out.len);
  server_dirty(c->sv, &c->flush);
}

void conn_error(conn_t *c, uint64_t id, Mlfq__ErrorCode code, const char *fmt,
                ...) {
  const Mlfq__ServerMessage *m;
  mlfq_wire_error_t e;
  va_list ap;

  va_start(ap, fmt);
  m = mlfq_wire_error_init(&e, id, code, fmt, ap);
  va_end(ap);
  conn_send(c, m);
}

/* An error about the whole connection: it is closed once the error is
 * written, and nothing more is read. */
static void fatal(conn_t *c, Mlfq__ErrorCode code, const char *msg) {
  mlfq_log_peer(MLFQ_LOG_INFO, "conn %llu %s: %s: %s",
                (unsigned long long)c->id, c->peer, mlfq_wire_error_name(code),
                msg);
  conn_error(c, 0, code, "%s", msg);
  mlfq_flow_linger(&c->flow);
  uv_read_stop((uv_stream_t *)&c->tcp);
}

#define CONN_OF(r) ((conn_t *)(r)->owner)

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
  mlfq_idmap_del(&CONN_OF(r)->ids, r->client_id);
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
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
  m.done = &d;
  conn_send(CONN_OF(r), &m);
  req_end(r);
}

static void req_failed(request_t *r, server_err_t why, const char *msg) {
  conn_error(CONN_OF(r), r->client_id, server_err_wire(why), "%s", msg);
  req_end(r);
}

static const request_ops_t req_ops = {req_accepted, req_token, req_failed};

static void on_write(uv_write_t *req, int status) {
  mlfq_tcp_write_t *w = (mlfq_tcp_write_t *)req;
  conn_t *c = w->owner;

  c->queued -= w->len;
  free(w);
  if (c->closing)
    return;
  if (status < 0) {
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: write: %s",
             (unsigned long long)c->id, c->peer, uv_strerror(status));
    conn_close(c);
    server_pump(c->sv); /* its requests left: a drain may end */
    return;
  }
  switch (mlfq_flow_written(&c->flow, c->queued, c->out.len)) {
  case MLFQ_FLOW_CLOSE:
    conn_close(c);
    server_pump(c->sv);
    break;
  case MLFQ_FLOW_RESUME:
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
      conn_close(c);
      server_pump(c->sv);
    }
    break;
  default:
    break;
  }
}

static void on_flush(server_out_t *o) {
  conn_t *c = MLFQ_CONTAINER_OF(o, conn_t, flush);
  int rc;

  if (c->closing)
    return;
  if (mlfq_flow_flushing(&c->flow) == MLFQ_FLOW_CLOSE) {
    conn_close(c);
    return;
  }
  rc = mlfq_tcp_write_buf((uv_stream_t *)&c->tcp, &c->out, c, on_write,
                          &c->queued);
  if (rc) {
    if (rc == UV_ENOMEM)
      mlfq_log(MLFQ_LOG_ERROR, "conn %llu: out of memory",
               (unsigned long long)c->id);
    conn_close(c);
    return;
  }
  switch (mlfq_flow_flushed(&c->flow, c->queued)) {
  case MLFQ_FLOW_CLOSE:
    conn_close(c);
    break;
  case MLFQ_FLOW_PAUSE:
    uv_read_stop((uv_stream_t *)&c->tcp);
    break;
  default:
    break;
  }
}

static void welcome(conn_t *c, const Mlfq__Hello *h) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  const char *who = h->client_name ? h->client_name : "";
  char err[256], name[MLFQ_LOG_SHOW_BYTES];

  if (mlfq_wire_hello_check(h, "server", err, sizeof(err)) != 0) {
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
  w.server_id = c->sv->server_id;
  w.server_version = MLFQ_VERSION;
  w.config = &c->sv->wcfg.config;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  conn_send(c, &m);
}

static void submit(conn_t *c, const Mlfq__Submit *s, uint64_t now) {
  server_t *sv = c->sv;
  const mlfq_limits_t *lim = &sv->opt.lim;
  request_t *r;
  char err[256];

  if (sv->draining) {
    conn_error(c, s->id, MLFQ__ERROR_CODE__SHUTTING_DOWN,
               "the server is shutting down");
    return;
  }
  if (mlfq_wire_submit_check(s, lim->max_input_length, lim->max_output_length,
                             err, sizeof(err)) != 0) {
    conn_error(c, s->id, MLFQ__ERROR_CODE__INVALID_REQUEST, "%s", err);
    return;
  }
  if (!server_kv_fits(sv, s->input_length, s->output_length,
                      "input_length + output_length", err, sizeof(err))) {
    conn_error(c, s->id, MLFQ__ERROR_CODE__INVALID_REQUEST, "%s", err);
    return;
  }
  if (mlfq_idmap_get(&c->ids, s->id) != NULL) {
    conn_error(c, s->id, MLFQ__ERROR_CODE__DUPLICATE_ID,
               "request %llu is already in flight on this connection",
               (unsigned long long)s->id);
    return;
  }
  if (!server_has_room(sv, c->ids.n, 1, err, sizeof(err))) {
    conn_error(c, s->id, MLFQ__ERROR_CODE__OVERLOADED, "%s", err);
    return;
  }
  r = calloc(1, sizeof(*r));
  if (r == NULL || mlfq_idmap_put(&c->ids, s->id, r) != 0) {
    free(r);
    conn_error(c, s->id, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    return;
  }
  r->ops = &req_ops;
  r->owner = c;
  r->client_id = s->id;
  r->job.input_len = s->input_length;
  r->job.output_len = s->output_length;
  mlfq_list_push_tail(&c->reqs, &r->clink);
  server_arrive(sv, r, now);
}

static void cancel(conn_t *c, const Mlfq__Cancel *k) {
  request_t *r = mlfq_idmap_get(&c->ids, k->id);

  if (r == NULL) {
    conn_error(c, k->id, MLFQ__ERROR_CODE__UNKNOWN_ID,
               "request %llu is not in flight on this connection",
               (unsigned long long)k->id);
    return;
  }
  server_forget(c->sv, r);
  req_failed(r, SERVER_ERR_CANCELLED, "cancelled");
}

/* Handles one message; a connection error stops reading. */
static void handle(conn_t *c, const uint8_t *p, size_t len, uint64_t now) {
  Mlfq__ClientMessage *m = mlfq__client_message__unpack(NULL, len, p);
  Mlfq__ErrorCode code;
  const char *why;

  switch (mlfq_wire_client_check(m, c->hello, &code, &why)) {
  case MLFQ__CLIENT_MESSAGE__MSG_HELLO:
    welcome(c, m->hello);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_SUBMIT:
    submit(c, m->submit, now);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_CANCEL:
    cancel(c, m->cancel);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_STATS:
    proto_send_stats(c);
    break;
  default:
    fatal(c, code, why);
    break;
  }
  if (m != NULL)
    mlfq__client_message__free_unpacked(m, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = (conn_t *)h;
  uint8_t *p = mlfq_buf_reserve(&c->in, READ_CHUNK, NULL);

  (void)suggested;
  *buf = uv_buf_init((char *)p, p ? READ_CHUNK : 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = (conn_t *)s;
  const uint8_t *payload;
  size_t off = 0, plen;
  uint64_t now;
  long n;

  (void)buf;
  if (nread < 0) {
    if (nread != UV_EOF)
      mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: read: %s",
               (unsigned long long)c->id, c->peer, uv_strerror((int)nread));
    conn_close(c);
    server_pump(c->sv);
    return;
  }
  mlfq_buf_commit(&c->in, (size_t)nread);
  now = server_model_now(c->sv); /* what one read brings arrives at once */
  while (c->flow.end == MLFQ_FLOW_OPEN && !c->closing) {
    n = mlfq_frame_decode(c->in.data + off, c->in.len - off,
                          c->sv->opt.lim.max_frame_bytes, &payload, &plen);
    if (n == 0)
      break;
    if (n < 0) {
      fatal(c, MLFQ__ERROR_CODE__BAD_FRAME, mlfq_strerror((int)n));
      break;
    }
    handle(c, payload, plen, now);
    off += (size_t)n;
  }
  if (!c->closing)
    mlfq_buf_consume(&c->in, off);
  server_pump(c->sv);
}

int conn_accept(server_t *sv) {
  struct sockaddr_storage ss;
  int rc, len = sizeof(ss);
  conn_t *c;

  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return UV_ENOMEM;
  c->sv = sv;
  c->id = ++sv->conn_seq;
  mlfq_list_init(&c->flush.link);
  c->flush.flush = on_flush;
  mlfq_list_init(&c->reqs);
  mlfq_idmap_init(&c->ids);
  mlfq_deadline_init(&c->hello_due);
  mlfq_buf_init(&c->in,
                sv->opt.lim.max_frame_bytes + MLFQ_FRAME_HEADER + READ_CHUNK);
  mlfq_buf_init(&c->out, sv->opt.max_queued_bytes + 65536);
  mlfq_flow_init(&c->flow, sv->opt.max_queued_bytes,
                 sv->opt.max_queued_bytes / 4);
  rc = uv_tcp_init(sv->loop, &c->tcp);
  if (rc) {
    free(c);
    return rc;
  }
  mlfq_list_push_tail(&sv->conns, &c->link);
  sv->nconns++;
  rc = uv_accept((uv_stream_t *)&sv->listener, (uv_stream_t *)&c->tcp);
  if (rc) {
    conn_close(c);
    return rc;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
    mlfq_tcp_addr_name((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
  if (sv->nconns > sv->opt.max_connections) {
    fatal(c, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS,
          "too many connections (max-connections)");
    on_flush(&c->flush);
    return 0;
  }
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: accepted", (unsigned long long)c->id,
           c->peer);
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc)
    conn_close(c);
  else
    mlfq_deadline_set(&sv->hellos, &c->hello_due);
  return rc;
}

void conn_close_all(server_t *sv, int now) {
  mlfq_link_t *l, *next;
  conn_t *c;

  for (l = sv->conns.next; l != &sv->conns; l = next) {
    next = l->next;
    c = MLFQ_CONTAINER_OF(l, conn_t, link);
    if (now || (c->queued == 0 && c->out.len == 0)) {
      conn_close(c);
    } else {
      mlfq_flow_linger(&c->flow);
      uv_read_stop((uv_stream_t *)&c->tcp);
    }
  }
}

void conn_hello_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  conn_t *c = MLFQ_CONTAINER_OF(d, conn_t, hello_due);
  char msg[128];

  (void)ds;
  snprintf(msg, sizeof(msg), "no Hello within %g s (hello-timeout)",
           c->sv->opt.hello_timeout_s);
  fatal(c, MLFQ__ERROR_CODE__HELLO_FIRST, msg);
  server_pump(c->sv);
}
