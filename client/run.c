/* DESIGN
 *
 * One run against one server, on the loop thread only. States:
 * connecting (C connections, each says Hello and waits for Welcome), then
 * sending (a timerfd, polled by the loop, is armed SPIN_NS before the next
 * request's absolute deadline, and the loop spins to the deadline itself;
 * every request due then is sent, batched per connection into one write),
 * then draining (every request sent; waiting
 * for the last to end; with a KV capacity, then one Stats for the peak KV
 * use). Request i goes to connection i mod C. A closed-loop
 * cap holds due requests back until one in flight ends. In-flight requests
 * are kept in one list in send order, so timeouts only look at its head.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uv.h>

#include "base/error.h"
#include "base/units.h"
#include "load/summary.h"
#include "net/stream.h"
#include "net/tcp.h"
#include "run.h"
#include "wire/wire.h"

#define START_LEAD_NS 20000000u /* first send 20 ms after all are ready */
/* The timer fires this much before a deadline and the loop spins the rest,
 * so that waking an idle CPU (tens of microseconds, more on a VM) does not
 * make sends late. */
#define SPIN_NS 150000u

typedef struct run_s run_t;

typedef struct {
  mlfq_stream_t s; /* in no group: written at once (flush) */
  uv_connect_t connect;
  run_t *run;
  unsigned index;
  int ready;  /* Welcome received */
  int closed; /* lost, or closed at the end */
} lconn_t;

struct run_s {
  const lg_run_opts_t *o;
  const mlfq_workload_t *w;
  lg_result_t *res;
  uv_loop_t loop;
  lconn_t *conns;
  unsigned nready;
  unsigned nalive;
  uv_timer_t guard; /* connect timeout, then the per-request timeouts */
  uv_timer_t progress;
  uv_poll_t tick;
  uv_signal_t sigint;
  int tfd;
  size_t next;  /* next request to send */
  size_t ended; /* requests done or failed */
  size_t inflight;
  mlfq_link_t flight;
  int phase;      /* 0 connecting, 1 sending, 2 finished */
  int want_stats; /* the server has a KV capacity: ask for its peak */
  int stats_sent; /* every request has ended; waiting for Stats */
  int failed_start;
  char *err;
  size_t errlen;
};

static void finish_run(run_t *r);
static void requests_ended(run_t *r);

static void end_req(run_t *r, lg_req_t *q, int state, int32_t status) {
  if (q->state == LG_INFLIGHT) {
    mlfq_list_remove(&q->link);
    r->inflight--;
  }
  q->state = (uint8_t)state;
  q->status = status;
  r->ended++;
}

/* Writes what c has queued now. A failed write shows up as a read
 * error; without memory the requests time out or the run is interrupted. */
static void flush(lconn_t *c) {
  if (!c->closed)
    (void)mlfq_stream_write(&c->s);
}

static void put(lconn_t *c, const Mlfq__ClientMessage *m) {
  (void)mlfq_stream_put_client_unbounded(&c->s, m); /* 256 MiB */
}

static void send_cancel(run_t *r, size_t i) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;
  lconn_t *c = &r->conns[r->res->reqs[i].conn];

  k.id = (uint64_t)i + 1;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  put(c, &m);
  flush(c);
}

/* Stamps the requests queued since *first as sent now and writes every
 * connection's queue. */
static void send_queued(run_t *r, size_t *first) {
  uint64_t now = uv_hrtime();
  unsigned k;
  size_t i;

  for (i = *first; i < r->next; i++)
    if (r->res->reqs[i].state == LG_INFLIGHT)
      r->res->reqs[i].sent_wall = now;
  *first = r->next;
  for (k = 0; k < r->o->connections; k++)
    flush(&r->conns[k]);
}

/* Sends every request that is due and allowed by the cap; arms the timer
 * for the next one. */
static void send_due(run_t *r) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;
  struct itimerspec its;
  uint64_t now = uv_hrtime(), wake;
  size_t first;
  lg_req_t *q;
  lconn_t *c;

  if (r->phase != 1)
    return;
  first = r->next;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  while (r->next < r->res->n) {
    q = &r->res->reqs[r->next];
    if (q->intended_wall > now + SPIN_NS)
      break;
    if (r->o->max_concurrency && r->inflight >= r->o->max_concurrency)
      break;
    if (q->intended_wall > now) {
      /* Send what is queued before waiting for this one. */
      send_queued(r, &first);
      do /* at most SPIN_NS */
        now = uv_hrtime();
      while (q->intended_wall > now);
    }
    c = &r->conns[q->conn];
    if (c->closed) {
      end_req(r, q, LG_FAILED, LG_ERR_CONN_LOST);
      r->next++;
      continue;
    }
    s.id = (uint64_t)r->next + 1;
    s.input_length = q->input_len;
    s.output_length = q->output_len;
    put(c, &m);
    if (r->o->trace)
      q->tok_wall = calloc(q->output_len, sizeof(*q->tok_wall));
    q->state = LG_INFLIGHT;
    mlfq_list_push_tail(&r->flight, &q->link);
    r->inflight++;
    r->next++;
  }
  send_queued(r, &first);
  if (r->next < r->res->n &&
      !(r->o->max_concurrency && r->inflight >= r->o->max_concurrency)) {
    wake = r->res->reqs[r->next].intended_wall - SPIN_NS;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(wake / 1000000000u);
    its.it_value.tv_nsec = (long)(wake % 1000000000u);
    timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL);
  }
  if (r->ended == r->res->n)
    requests_ended(r);
}

static void on_tick(uv_poll_t *h, int status, int events) {
  run_t *r = h->data;
  uint64_t expirations;

  (void)status;
  (void)events;
  while (read(r->tfd, &expirations, sizeof(expirations)) > 0)
    ;
  send_due(r);
}

static void lose(run_t *r, lconn_t *c, int32_t why) {
  mlfq_link_t *l, *next;
  lg_req_t *q;

  if (c->closed)
    return;
  c->closed = 1;
  c->s.stop = 1;
  r->res->lost = 1;
  r->nalive--;
  for (l = r->flight.next; l != &r->flight; l = next) {
    next = l->next;
    q = MLFQ_CONTAINER_OF(l, lg_req_t, link);
    if (q->conn == c->index)
      end_req(r, q, LG_FAILED, why);
  }
  mlfq_stream_read_stop(&c->s);
  if (r->phase == 1)
    send_due(r); /* fails the unsent requests of c as they fall due */
}

static void on_guard(uv_timer_t *t);

/* The server is not mlfqd protocol, as fmt says. Before the run (phase 0)
 * that is a failed start; during it the run ends at once, its unfinished
 * requests failing with LG_ERR_PROTOCOL, and res->bad_peer is set. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
bad_peer(run_t *r, const char *fmt, ...) {
  char why[400];
  va_list ap;
  size_t i;

  if (r->phase == 2)
    return;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  snprintf(r->err, r->errlen, "%s:%d is not mlfqd protocol: %s", r->o->host,
           r->o->port, why);
  if (r->phase == 0) {
    r->failed_start = 1;
  } else {
    r->res->bad_peer = 1;
    for (i = 0; i < r->res->n; i++) {
      lg_req_t *q = &r->res->reqs[i];
      if (q->state == LG_UNSENT || q->state == LG_INFLIGHT)
        end_req(r, q, LG_FAILED, LG_ERR_PROTOCOL);
    }
  }
  finish_run(r);
}

static void start_sending(run_t *r) {
  Mlfq__Config *cfg = r->res->welcome->welcome->config;
  size_t i;

  r->res->time_scale = cfg->time_scale; /* checked with the Welcome */
  r->want_stats = cfg->kv_capacity_tokens > 0;
  if (lg_schedule(r->res, r->w, uv_hrtime() + START_LEAD_NS, &i) != 0) {
    snprintf(r->err, r->errlen,
             "%s:%d: request %zu arrives at %.3f model s, which its "
             "time_scale %g puts past the largest wall time",
             r->o->host, r->o->port, i, (double)r->w->reqs[i].arrival_ns / 1e9,
             r->res->time_scale);
    r->failed_start = 1;
    finish_run(r);
    return;
  }
  uv_timer_stop(&r->guard);
  if (r->o->timeout_s > 0) /* from now on it checks the timeouts */
    uv_timer_start(&r->guard, on_guard, 10, 10);
  r->phase = 1;
  send_due(r);
}

static void handle(run_t *r, lconn_t *c, Mlfq__ServerMessage *m) {
  uint64_t now = uv_hrtime(), id = mlfq_wire_msg_id(m);
  lg_req_t *q = NULL;
  char why[300];

  if (lg_check(r->res, c->index, c->ready, m, why, sizeof(why)) != 0) {
    mlfq__server_message__free_unpacked(m, NULL);
    bad_peer(r, "%s", why);
    return;
  }
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_WELCOME:
    if (!c->ready) {
      c->ready = 1;
      if (r->res->welcome == NULL) {
        r->res->welcome = m;
        m = NULL;
      }
      if (++r->nready == r->o->connections && r->phase == 0)
        start_sending(r);
    }
    break;
  case MLFQ__SERVER_MESSAGE__MSG_STATS:
    if (r->stats_sent && r->phase == 1) {
      r->res->kv_peak = m->stats->kv_peak_tokens;
      finish_run(r);
    }
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    if (id == 0) {
      if (r->phase == 0) {
        char name[LG_STATUS_NAME_MAX];

        snprintf(r->err, r->errlen, "%s:%d refused the connection: %s: %s",
                 r->o->host, r->o->port,
                 lg_status_name((int32_t)m->error->code, name, sizeof(name)),
                 m->error->message ? m->error->message : "");
        r->failed_start = 1;
        finish_run(r);
      } else {
        lose(r, c, (int32_t)m->error->code);
      }
    }
    break;
  default:
    break;
  }
  if (id >= 1 && id <= r->res->n)
    q = &r->res->reqs[id - 1];
  if (q != NULL && q->state == LG_INFLIGHT) {
    lg_record(q, m, now);
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE) {
      end_req(r, q, LG_DONE, 0);
      send_due(r);
    } else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR) {
      end_req(r, q, LG_FAILED, (int32_t)m->error->code);
      send_due(r);
    }
  }
  if (m != NULL)
    mlfq__server_message__free_unpacked(m, NULL);
  if (r->phase == 1 && r->ended == r->res->n)
    requests_ended(r);
}

#define LCONN_OF(st) MLFQ_CONTAINER_OF(st, lconn_t, s)

/* What is left of the read from the frame at s->pos on is not a frame of a
 * ServerMessage. */
static void not_a_frame(run_t *r, mlfq_stream_t *s) {
  char seen[128];

  bad_peer(r, "%s, which is not a frame of a ServerMessage",
           mlfq_wire_show_bytes(s->in.data + s->pos, s->in.len - s->pos, seen,
                                sizeof(seen)));
}

static void on_frame(mlfq_stream_t *s, const uint8_t *p, size_t len) {
  lconn_t *c = LCONN_OF(s);
  run_t *r = c->run;
  Mlfq__ServerMessage *m = mlfq__server_message__unpack(NULL, len, p);

  if (m == NULL) {
    not_a_frame(r, s);
    return;
  }
  handle(r, c, m);
  if (r->phase == 1 && r->nalive == 0)
    finish_run(r);
}

static void on_failed(mlfq_stream_t *s, int err) {
  lconn_t *c = LCONN_OF(s);
  run_t *r = c->run;

  if (err == MLFQ_EFRAMESIZE || err == MLFQ_EFRAMEEMPTY) {
    not_a_frame(r, s);
    return;
  }
  if (r->phase == 0) {
    snprintf(r->err, r->errlen, "%s:%d closed the connection before Welcome",
             r->o->host, r->o->port);
    r->failed_start = 1;
    finish_run(r);
    return;
  }
  lose(r, c, LG_ERR_CONN_LOST);
  if (r->ended == r->res->n || r->nalive == 0)
    finish_run(r);
}

static const mlfq_stream_ops_t lconn_ops = {NULL, on_frame, on_failed, NULL,
                                            NULL};

static void on_connect(uv_connect_t *req, int status) {
  lconn_t *c = MLFQ_CONTAINER_OF(req, lconn_t, connect);
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  run_t *r = c->run;

  if (status < 0) {
    if (r->phase == 0 && !r->failed_start) {
      snprintf(r->err, r->errlen, "cannot connect to %s:%d: %s", r->o->host,
               r->o->port, uv_strerror(status));
      r->failed_start = 1;
      finish_run(r);
    }
    return;
  }
  if (r->phase == 2)
    return;
  uv_tcp_nodelay(&c->s.tcp, 1);
  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = "loadgen";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  put(c, &m);
  flush(c);
  mlfq_stream_read_start(&c->s);
}

static void on_guard(uv_timer_t *t) {
  run_t *r = t->data;
  uint64_t now = uv_hrtime(), limit;
  lg_req_t *q;

  if (r->phase == 0) {
    char seen[128];
    unsigned k;

    snprintf(r->err, r->errlen, "%s:%d did not answer within 5 s", r->o->host,
             r->o->port);
    for (k = 0; k < r->o->connections; k++)
      if (!r->conns[k].ready && r->conns[k].s.in.len > 0) {
        snprintf(
            r->err, r->errlen, "%s:%d sent no whole frame within 5 s, only %s",
            r->o->host, r->o->port,
            mlfq_wire_show_bytes(r->conns[k].s.in.data, r->conns[k].s.in.len,
                                 seen, sizeof(seen)));
        break;
      }
    r->failed_start = 1;
    finish_run(r);
    return;
  }
  if (r->stats_sent) { /* no Stats within 5 s: the peak stays unknown */
    finish_run(r);
    return;
  }
  limit = (uint64_t)(r->o->timeout_s * 1e9);
  while (!mlfq_list_empty(&r->flight)) {
    q = MLFQ_CONTAINER_OF(r->flight.next, lg_req_t, link);
    if (now - q->sent_wall < limit)
      break;
    end_req(r, q, LG_FAILED, LG_ERR_TIMEOUT);
    send_cancel(r, (size_t)(q - r->res->reqs));
  }
  send_due(r);
}

static void on_progress(uv_timer_t *t) {
  run_t *r = t->data;
  size_t failed = 0, i;

  for (i = 0; i < r->next; i++)
    failed += r->res->reqs[i].state == LG_FAILED;
  fprintf(stderr, "\r%s: sent %zu/%zu, completed %zu, failed %zu, %.1f s  ",
          r->o->label ? r->o->label : "loadgen", r->next, r->res->n,
          r->ended - failed, failed,
          r->phase == 1 ? (double)(uv_hrtime() - r->res->t0_wall) / 1e9 : 0);
}

static void on_sigint(uv_signal_t *h, int signum) {
  run_t *r = h->data;
  size_t i;

  (void)signum;
  r->res->interrupted = 1;
  for (i = 0; i < r->res->n; i++) {
    lg_req_t *q = &r->res->reqs[i];
    if (q->state == LG_UNSENT || q->state == LG_INFLIGHT)
      end_req(r, q, LG_FAILED, LG_ERR_INTERRUPTED);
  }
  r->next = r->res->n;
  finish_run(r);
}

/* Every request has ended. Without a KV capacity the run is finished;
 * with one, it asks the server for its peak KV use on a live connection
 * and finishes at the reply (or after 5 s, or when the connection goes). */
static void requests_ended(run_t *r) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest sr = MLFQ__STATS_REQUEST__INIT;
  lconn_t *c = NULL;
  unsigned k;

  if (r->phase != 1 || r->stats_sent)
    return;
  for (k = 0; k < r->o->connections && r->want_stats; k++) {
    if (!r->conns[k].closed && r->conns[k].ready) {
      c = &r->conns[k];
      break;
    }
  }
  if (c == NULL) {
    finish_run(r);
    return;
  }
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &sr;
  put(c, &m);
  flush(c);
  r->stats_sent = 1;
  uv_timer_stop(&r->guard);
  uv_timer_start(&r->guard, on_guard, 5000, 0);
}

static void finish_run(run_t *r) {
  unsigned k;
  size_t i;

  if (r->phase == 2)
    return;
  r->phase = 2;
  /* What has not ended by now never will: the server is gone. */
  for (i = 0; i < r->res->n; i++) {
    lg_req_t *q = &r->res->reqs[i];
    if (q->state == LG_UNSENT || q->state == LG_INFLIGHT)
      end_req(r, q, LG_FAILED, LG_ERR_CONN_LOST);
  }
  for (k = 0; k < r->o->connections; k++)
    if (!uv_is_closing((uv_handle_t *)&r->conns[k].s.tcp))
      mlfq_stream_close(&r->conns[k].s, NULL);
  uv_close((uv_handle_t *)&r->guard, NULL);
  uv_close((uv_handle_t *)&r->progress, NULL);
  uv_close((uv_handle_t *)&r->tick, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  if (r->o->progress)
    fputc('\n', stderr);
}

int lg_run(const lg_run_opts_t *o, const mlfq_workload_t *w, lg_result_t *res,
           char *err, size_t errlen) {
  struct sockaddr_storage ss;
  run_t r;
  unsigned k;
  int rc;

  memset(res, 0, sizeof(*res));
  memset(&r, 0, sizeof(r));
  res->kv_peak = MLFQ_KV_PEAK_UNKNOWN;
  if (w->n == 0 || o->connections == 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "nothing to send");
  r.o = o;
  r.w = w;
  r.res = res;
  r.err = err;
  r.errlen = errlen;
  r.tfd = -1;
  mlfq_list_init(&r.flight);
  rc = mlfq_tcp_resolve(o->host, o->port, &ss, err, errlen);
  if (rc)
    return rc;
  rc = lg_result_init(res, w, o->connections);
  r.conns = calloc(o->connections, sizeof(*r.conns));
  r.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (rc != 0 || r.conns == NULL || r.tfd < 0) {
    free(r.conns);
    if (r.tfd >= 0)
      close(r.tfd);
    lg_result_free(res);
    return mlfq_fail(err, errlen, MLFQ_ENOMEM, "cannot set up the run");
  }
  uv_loop_init(&r.loop);
  uv_timer_init(&r.loop, &r.guard);
  uv_timer_init(&r.loop, &r.progress);
  uv_poll_init(&r.loop, &r.tick, r.tfd);
  uv_signal_init(&r.loop, &r.sigint);
  r.guard.data = r.progress.data = r.tick.data = r.sigint.data = &r;
  uv_poll_start(&r.tick, UV_READABLE, on_tick);
  uv_signal_start(&r.sigint, on_sigint, SIGINT);
  uv_timer_start(&r.guard, on_guard, 5000, 0);
  if (o->progress)
    uv_timer_start(&r.progress, on_progress, 250, 250);
  r.nalive = o->connections;
  for (k = 0; k < o->connections; k++) {
    lconn_t *c = &r.conns[k];
    c->run = &r;
    c->index = k;
    mlfq_stream_init(&c->s, NULL, &lconn_ops, 64u << 20, 0, 256u << 20);
    uv_tcp_init(&r.loop, &c->s.tcp);
    rc = uv_tcp_connect(&c->connect, &c->s.tcp, (struct sockaddr *)&ss,
                        on_connect);
    if (rc) {
      snprintf(err, errlen, "cannot connect to %s:%d: %s", o->host, o->port,
               uv_strerror(rc));
      r.failed_start = 1;
      finish_run(&r);
      break;
    }
  }
  uv_run(&r.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&r.loop);
  (void)rc;
  for (k = 0; k < o->connections; k++)
    mlfq_stream_reset(&r.conns[k].s);
  free(r.conns);
  close(r.tfd);
  if (r.failed_start) {
    lg_result_free(res);
    return MLFQ_EIO;
  }
  return 0;
}
