/* DESIGN
 *
 * The protocol session of a server's client connection (session.h),
 * written once for mlfqd and the router. The session is a stream
 * (stream.h) whose frames are ClientMessages: each is checked
 * (mlfq_wire_client_check), and Hello, Submit, Cancel and StatsRequest are
 * answered here as far as the protocol says, then handed to the program.
 *
 * Output goes through the stream's bound. A message the bound refuses
 * drops the peer (flow.h): nothing more is queued or read, and the flush
 * closes it without writing what waits. A connection error (fatal) is the
 * last thing queued; reading stops, and the flush after everything is
 * written closes the connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "net/session.h"
#include "wire/wire.h"

#define SESSION_OF(st) MLFQ_CONTAINER_OF(st, mlfq_session_t, stream)

static void on_close(uv_handle_t *h) {
  mlfq_session_t *s = SESSION_OF((mlfq_stream_t *)h);

  mlfq_stream_reset(&s->stream);
  s->ops->closed(s);
}

void mlfq_session_close(mlfq_session_t *s) {
  if (s->closing)
    return;
  s->closing = 1;
  s->stream.stop = 1;
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: closed", (unsigned long long)s->id,
           s->peer);
  s->ops->closing(s);
  mlfq_idmap_free(&s->ids);
  mlfq_deadline_cancel(&s->hello_due);
  mlfq_stream_close(&s->stream, on_close);
}

void mlfq_session_send(mlfq_session_t *s, const Mlfq__ServerMessage *m) {
  if (s->closing || s->flow.end == MLFQ_FLOW_DROP)
    return;
  if (mlfq_stream_put_server(&s->stream, m) != 0) { /* the stream's bound */
    /* Too much unread output: drop the rest, disconnect at the flush. */
    mlfq_log_peer(
        MLFQ_LOG_WARN,
        "conn %llu %s: disconnecting a slow reader (%zu bytes unread)",
        (unsigned long long)s->id, s->peer,
        s->stream.queued + s->stream.out.len);
    mlfq_flow_drop(&s->flow);
    s->stream.stop = 1;
  }
}

void mlfq_session_error(mlfq_session_t *s, uint64_t id, Mlfq__ErrorCode code,
                        const char *fmt, ...) {
  const Mlfq__ServerMessage *m;
  mlfq_wire_error_t e;
  va_list ap;

  va_start(ap, fmt);
  m = mlfq_wire_error_init(&e, id, code, fmt, ap);
  va_end(ap);
  mlfq_session_send(s, m);
}

/* Nothing more is read; s closes once its output is written. */
static void stop_reading(mlfq_session_t *s) {
  mlfq_flow_linger(&s->flow);
  s->stream.stop = 1;
  mlfq_stream_read_stop(&s->stream);
}

void mlfq_session_linger(mlfq_session_t *s) {
  if (s->closing)
    return;
  stop_reading(s);
  if (s->stream.queued == 0 && s->stream.out.len == 0)
    mlfq_session_close(s);
}

void mlfq_session_fatal(mlfq_session_t *s, Mlfq__ErrorCode code,
                        const char *msg) {
  mlfq_log_peer(MLFQ_LOG_INFO, "conn %llu %s: %s: %s",
                (unsigned long long)s->id, s->peer, mlfq_wire_error_name(code),
                msg);
  mlfq_session_error(s, 0, code, "%s", msg);
  stop_reading(s);
}

static void on_flush(mlfq_stream_t *st) {
  mlfq_session_t *s = SESSION_OF(st);
  int rc;

  if (s->closing)
    return;
  if (mlfq_flow_flushing(&s->flow) == MLFQ_FLOW_CLOSE) {
    mlfq_session_close(s);
    return;
  }
  rc = mlfq_stream_write(st);
  if (rc) {
    if (rc == UV_ENOMEM)
      mlfq_log(MLFQ_LOG_ERROR, "conn %llu: out of memory",
               (unsigned long long)s->id);
    mlfq_session_close(s);
    return;
  }
  switch (mlfq_flow_flushed(&s->flow, st->queued)) {
  case MLFQ_FLOW_CLOSE:
    mlfq_session_close(s);
    break;
  case MLFQ_FLOW_PAUSE:
    mlfq_stream_read_stop(st);
    break;
  default:
    break;
  }
}

static void on_written(mlfq_stream_t *st, int status) {
  mlfq_session_t *s = SESSION_OF(st);

  if (s->closing)
    return;
  if (status < 0) {
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: write: %s",
             (unsigned long long)s->id, s->peer, uv_strerror(status));
    mlfq_session_close(s);
    return;
  }
  switch (mlfq_flow_written(&s->flow, st->queued, st->out.len)) {
  case MLFQ_FLOW_CLOSE:
    mlfq_session_close(s);
    break;
  case MLFQ_FLOW_RESUME:
    if (mlfq_stream_read_start(st) != 0)
      mlfq_session_close(s);
    break;
  default:
    break;
  }
}

static void on_failed(mlfq_stream_t *st, int err) {
  mlfq_session_t *s = SESSION_OF(st);

  if (err == MLFQ_EFRAMESIZE || err == MLFQ_EFRAMEEMPTY) {
    mlfq_session_fatal(s, MLFQ__ERROR_CODE__BAD_FRAME, mlfq_strerror(err));
    return;
  }
  if (err != UV_EOF)
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: read: %s",
             (unsigned long long)s->id, s->peer, uv_strerror(err));
  mlfq_session_close(s);
}

static void welcome(mlfq_session_t *s, const Mlfq__Hello *h) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  const char *who = h->client_name ? h->client_name : "";
  char err[256], name[MLFQ_LOG_SHOW_BYTES];
  Mlfq__Config cfg;

  if (mlfq_wire_hello_check(h, s->cfg->who, err, sizeof(err)) != 0) {
    mlfq_session_fatal(s, MLFQ__ERROR_CODE__BAD_VERSION, err);
    return;
  }
  s->hello = 1;
  mlfq_deadline_cancel(&s->hello_due);
  if (mlfq_log_enabled(MLFQ_LOG_DEBUG))
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: hello from '%s'",
             (unsigned long long)s->id, s->peer,
             mlfq_log_escape(who, strlen(who), name, sizeof(name)));
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  w.server_version = MLFQ_VERSION;
  s->ops->welcome(s, &w, &cfg);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  mlfq_session_send(s, &m);
}

static void submit(mlfq_session_t *s, const Mlfq__Submit *m) {
  const mlfq_session_cfg_t *cfg = s->cfg;
  char err[256];

  if (*cfg->draining) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__SHUTTING_DOWN,
                       "the %s is shutting down", cfg->who);
    return;
  }
  if (mlfq_wire_submit_check(m, cfg->max_input_length, cfg->max_output_length,
                             err, sizeof(err)) != 0 ||
      (s->ops->check != NULL && s->ops->check(s, m, err, sizeof(err)) != 0)) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__INVALID_REQUEST, "%s", err);
    return;
  }
  if (mlfq_idmap_get(&s->ids, m->id) != NULL) {
    mlfq_session_error(s, m->id, MLFQ__ERROR_CODE__DUPLICATE_ID,
                       "request %llu is already in flight on this connection",
                       (unsigned long long)m->id);
    return;
  }
  s->ops->submit(s, m);
}

static void cancel(mlfq_session_t *s, const Mlfq__Cancel *k) {
  void *req = mlfq_idmap_get(&s->ids, k->id);

  if (req == NULL) {
    mlfq_session_error(s, k->id, MLFQ__ERROR_CODE__UNKNOWN_ID,
                       "request %llu is not in flight on this connection",
                       (unsigned long long)k->id);
    return;
  }
  s->ops->cancel(s, req);
  mlfq_session_error(s, k->id, MLFQ__ERROR_CODE__CANCELLED, "cancelled");
}

/* Handles one message; a connection error stops reading. */
static void on_frame(mlfq_stream_t *st, const uint8_t *p, size_t len) {
  Mlfq__ClientMessage *m = mlfq__client_message__unpack(NULL, len, p);
  mlfq_session_t *s = SESSION_OF(st);
  Mlfq__ErrorCode code;
  const char *why;

  /* A relayed Submit goes on as it came: one its next hop could not read
   * would close that hop's connection, every client's requests with it. */
  if (m != NULL && s->cfg->relay && !mlfq_wire_tags_valid(&m->base)) {
    mlfq__client_message__free_unpacked(m, NULL);
    m = NULL;
  }
  switch (mlfq_wire_client_check(m, s->hello, &code, &why)) {
  case MLFQ__CLIENT_MESSAGE__MSG_HELLO:
    welcome(s, m->hello);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_SUBMIT:
    submit(s, m->submit);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_CANCEL:
    cancel(s, m->cancel);
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_STATS:
    s->ops->stats(s);
    break;
  default:
    mlfq_session_fatal(s, code, why);
    break;
  }
  if (m != NULL)
    mlfq__client_message__free_unpacked(m, NULL);
}

static void on_read(mlfq_stream_t *st) {
  mlfq_session_t *s = SESSION_OF(st);

  if (s->ops->read != NULL)
    s->ops->read(s);
}

static const mlfq_stream_ops_t session_stream_ops = {
    on_read, on_frame, on_failed, on_flush, on_written};

void mlfq_session_cfg_init(mlfq_session_cfg_t *cfg, const char *who,
                           uv_loop_t *loop, uv_stream_t *listener,
                           mlfq_stream_group_t *group, mlfq_deadlines_t *hellos,
                           const int *draining) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->who = who;
  cfg->loop = loop;
  cfg->listener = listener;
  cfg->group = group;
  cfg->hellos = hellos;
  cfg->draining = draining;
}

void mlfq_session_cfg_limits(mlfq_session_cfg_t *cfg,
                             const mlfq_daemon_opts_t *o) {
  cfg->max_connections = o->max_connections;
  cfg->max_frame = o->max_frame_bytes;
  cfg->max_queued = o->max_queued_bytes;
  cfg->hello_timeout_s = o->hello_timeout;
  cfg->max_input_length = o->max_input_length;
  cfg->max_output_length = o->max_output_length;
}

int mlfq_session_accept(mlfq_session_t *s, const mlfq_session_cfg_t *cfg,
                        const mlfq_session_ops_t *ops, uint64_t id) {
  size_t open;
  int rc;

  s->cfg = cfg;
  s->ops = ops;
  s->id = id;
  snprintf(s->peer, sizeof(s->peer), "?");
  mlfq_idmap_init(&s->ids);
  mlfq_deadline_init(&s->hello_due);
  mlfq_flow_init(&s->flow, cfg->max_queued, cfg->max_queued / 4);
  mlfq_stream_init(&s->stream, cfg->group, &session_stream_ops, cfg->max_frame,
                   cfg->max_queued, 0);
  open = ops->opened(s);
  rc = uv_tcp_init(cfg->loop, &s->stream.tcp);
  if (rc) {
    mlfq_stream_reset(&s->stream);
    ops->closed(s);
    return rc;
  }
  rc = uv_accept(cfg->listener, (uv_stream_t *)&s->stream.tcp);
  if (rc) {
    mlfq_session_close(s);
    return rc;
  }
  rc = uv_tcp_nodelay(&s->stream.tcp, 1);
  if (rc)
    mlfq_log(MLFQ_LOG_DEBUG, "conn %llu: nodelay: %s",
             (unsigned long long)s->id, uv_strerror(rc));
  mlfq_stream_peer_name(&s->stream, s->peer, sizeof(s->peer));
  if (open > cfg->max_connections) {
    mlfq_session_fatal(s, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS,
                       "too many connections (max-connections)");
    on_flush(&s->stream);
    return 0;
  }
  mlfq_log(MLFQ_LOG_DEBUG, "conn %llu %s: accepted", (unsigned long long)s->id,
           s->peer);
  rc = mlfq_stream_read_start(&s->stream);
  if (rc)
    mlfq_session_close(s);
  else
    mlfq_deadline_set(cfg->hellos, &s->hello_due);
  return rc;
}

void mlfq_session_hello_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  mlfq_session_t *s = MLFQ_CONTAINER_OF(d, mlfq_session_t, hello_due);
  mlfq_stream_group_t *g = s->stream.group;
  char msg[128];

  (void)ds;
  snprintf(msg, sizeof(msg), "no Hello within %g s (hello-timeout)",
           s->cfg->hello_timeout_s);
  mlfq_session_fatal(s, MLFQ__ERROR_CODE__HELLO_FIRST, msg);
  if (g != NULL && g->settle != NULL)
    g->settle(g);
}
