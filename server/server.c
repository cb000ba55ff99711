/* DESIGN
 *
 * The server: the listener, the scheduling pump and the drain. It owns the
 * scheduler core, which only the loop thread touches, and the engine
 * threads (workers.c), which only sleep.
 *
 * Model time. Model time 0 is the server's start; wall time is
 * t0 + model * time_scale. An engine's iteration runs from its start to
 * end = start + duration in model time, and its thread sleeps to the wall
 * time of end. The scheduler is told the exact model end, not the late
 * wake-up, so an engine that goes straight from one iteration to the next
 * starts the next at the previous end: deadlines chain and the loop's
 * overhead never accumulates as drift. An end that is already due when its
 * iteration starts (zero or tiny iterations, a loop running behind) is
 * reported at once instead of through a thread that would not sleep: model
 * time then moves as fast as the loop can compute, and arrivals join the
 * batch as the model says instead of waiting out a hand-off per iteration.
 *
 * Event order. The scheduler must see events in model-time order, as the
 * simulator does: the scheduling point (core/point.h), which the simulator
 * calls too, orders them. An arrival is stamped with the model time at
 * which its Submit was read, but an engine may have ended an iteration
 * earlier in model time whose thread has not yet woken or been heard from.
 * So arrivals wait in `pending`, in time order, and an engine's end is
 * reported to the point only when its thread wakes: the point advances only
 * as far as every engine ending at or before the next event has reported.
 * The wait is the timer lateness, microseconds; what the scheduler computes
 * is then exactly what mlfqsim computes for the same arrival times.
 *
 * Output. The pump appends each connection's frames to its buffer and
 * flushes every touched connection once at the end, so the frames one
 * scheduling point produces for a connection go out in one write.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/units.h"
#include "base/version.h"
#include "core/kv.h"
#include "core/point.h"
#include "net/admit.h"
#include "net/tcp.h"
#include "server.h"

#define REQ_OF_PLINK(l) MLFQ_CONTAINER_OF(l, request_t, plink)

/* Iteration ends one pump may report itself when they are already due
 * (started): 256 zero-time iterations take tens of microseconds. */
#define SERVER_INLINE_ENDS 256

uint64_t server_model_now(server_t *sv) {
  double scale = sv->opt.lim.time_scale;
  double m = (double)(uv_hrtime() - sv->t0) / scale;

  /* Past the largest time (292 years; 2.6 hours of wall time at the
   * smallest --time-scale) the clock stops there: no time is ever read as
   * MLFQ_NONE. Said once: what runs from then on is at one model time. */
  if (m < 9.2e18)
    return (uint64_t)m;
  if (!sv->clock_stopped) {
    sv->clock_stopped = 1;
    mlfq_log(MLFQ_LOG_ERROR,
             "the model clock has reached its largest time (%s, %.3g hours "
             "of wall time at --time-scale %g) and stops there: every "
             "later event happens at that time; restart mlfqd",
             MLFQ_TIME_MAX_TEXT, (double)MLFQ_TIME_MAX * scale / 3.6e12, scale);
  }
  return MLFQ_TIME_MAX;
}

/* The uv_hrtime() clock time at which model time m falls. */
static uint64_t wall_of(server_t *sv, uint64_t m) {
  double w = (double)m * sv->opt.lim.time_scale;

  if (w >= 9e18) /* centuries away: a deadline that never comes */
    return UINT64_MAX;
  return sv->t0 + (uint64_t)llround(w);
}

void server_arrive(server_t *sv, request_t *r, uint64_t now) {
  /* Stamps are monotonic and never before a processed point. */
  if (now < sv->last_arrival)
    now = sv->last_arrival;
  if (now < sv->pt.now)
    now = sv->pt.now;
  sv->last_arrival = now;
  sv->submitted++;
  r->job.id = sv->next_job_id++;
  r->job.arrival_ns = now;
  r->in_sched = 0;
  r->started = 0;
  mlfq_list_push_tail(&sv->pending, &r->plink);
  mlfq_list_push_tail(&sv->requests, &r->slink);
  sv->inflight++;
}

int server_kv_fits(const server_t *sv, uint64_t in, uint64_t out,
                   const char *lengths, char *err, size_t errlen) {
  uint64_t cap = mlfq_sched_params(sv->sched)->kv_capacity;

  if (mlfq_kv_fits(cap, in, out))
    return 1;
  snprintf(err, errlen,
           "the request needs %llu KV tokens (%s) and the KV capacity is %llu",
           (unsigned long long)(in + out), lengths, (unsigned long long)cap);
  return 0;
}

int server_has_room(server_t *sv, size_t own, size_t n, char *err,
                    size_t errlen) {
  const mlfq_limits_t *lim = &sv->opt.lim;
  mlfq_admit_t a = mlfq_admit(sv->inflight, own, n, lim->max_pending,
                              lim->max_pending_per_conn);

  if (a == MLFQ_ADMIT_OK)
    return 1;
  sv->rejected++;
  mlfq_admit_why(a, sv->inflight, own, lim->max_pending,
                 lim->max_pending_per_conn, err, errlen);
  return 0;
}

/* r has ended: the server lets it go (its owner frees it next). */
static void let_go(server_t *sv, request_t *r) {
  r->in_sched = 0;
  mlfq_list_remove(&r->slink);
  sv->inflight--;
}

void server_forget(server_t *sv, request_t *r) {
  if (r->in_sched) {
    mlfq_sched_cancel(sv->sched, &r->job, sv->pt.now);
  } else {
    mlfq_list_remove(&r->plink);
    sv->cancelled_early++;
  }
  let_go(sv, r);
}

/* The daemon's side of the scheduling points (core/point.h): arrivals are
 * the pending requests, in stamp order; an engine's end is reported when
 * its thread wakes (on_wakes). */
static uint64_t next_arrival(void *ud) {
  server_t *sv = ud;

  return mlfq_list_empty(&sv->pending)
             ? MLFQ_POINT_NONE
             : REQ_OF_PLINK(sv->pending.next)->job.arrival_ns;
}

static int arrive(void *ud, uint64_t t) {
  server_t *sv = ud;
  request_t *r = REQ_OF_PLINK(sv->pending.next);
  int rc;

  mlfq_list_remove(&r->plink);
  rc = mlfq_sched_submit(sv->sched, &r->job, t);
  if (rc) { /* lengths were validated on receipt: cannot happen */
    let_go(sv, r);
    r->ops->failed(r, SERVER_ERR_INTERNAL, "the scheduler refused the request");
    return 0;
  }
  r->in_sched = 1;
  r->ops->accepted(r);
  return 0;
}

/* Engine e's batch begins at t: its tokens (vLLM counts a prefill's
 * prompt and one token for each job), and the jobs that begin their first
 * iteration (their queue time). A job prefills exactly when it has no
 * token yet: a resumed job's recompute is not counted, as in vLLM. */
static void batch_started(server_t *sv, unsigned e, uint64_t t) {
  unsigned i, n;
  mlfq_job_t *const *b = mlfq_sched_batch(sv->sched, e, &n, NULL, NULL);
  uint64_t tokens = 0;
  request_t *r;

  for (i = 0; i < n && b != NULL; i++) {
    if (b[i] == NULL)
      continue;
    r = MLFQ_CONTAINER_OF(b[i], request_t, job);
    tokens += r->job.tokens == 0 ? (uint64_t)r->job.input_len + 1 : 1;
    if (r->started)
      continue;
    r->started = 1;
    metrics_started(&sv->metrics, r, t);
  }
  metrics_iteration(&sv->metrics, tokens);
}

/* Engine e's iteration, due at wall time due, was seen to end at now: its
 * lateness is measured and judged (late.h), and the point may close it. */
static void note_end(server_t *sv, unsigned e, uint64_t due, uint64_t now) {
  uint64_t late = now > due ? now - due : 0;

  mlfq_hist_add(&sv->lateness, late);
  sv->end_late[e] = server_late_note(&sv->late, late, now);
  mlfq_point_report(&sv->pt, e);
}

/* The engine's thread sleeps to the wall time of the model end, which the
 * point saturates at the largest time, where server_model_now stops too;
 * dur may itself be a saturated cost (UINT64_MAX), so the busy time
 * saturates too. */
static int started(void *ud, unsigned e, uint64_t t, uint64_t dur,
                   uint64_t end) {
  server_t *sv = ud;
  uint64_t due = wall_of(sv, end), now;

  batch_started(sv, e, t);
  sv->busy_ns[e] = mlfq_add_sat(sv->busy_ns[e], dur);
  /* An end already due (a zero or tiny iteration, or a loop running
   * behind) is reported here: a hand-off to a thread that would not sleep
   * costs tens of microseconds, during which model time stands still and
   * arrivals wait. Up to SERVER_INLINE_ENDS a pump, so that the loop
   * still reads and writes between long runs of them. */
  if (sv->inline_ends < SERVER_INLINE_ENDS && due <= (now = uv_hrtime())) {
    sv->inline_ends++;
    note_end(sv, e, due, now);
    return 0;
  }
  mlfq_workers_run(sv->workers, e, due);
  return 0;
}

static void ended(void *ud, unsigned e, uint64_t t, mlfq_job_t *const *out,
                  unsigned n) {
  server_t *sv = ud;
  request_t *r;
  unsigned i;

  for (i = 0; i < n; i++) {
    r = MLFQ_CONTAINER_OF(out[i], request_t, job);
    if (sv->end_late[e] > r->late_ns)
      r->late_ns = sv->end_late[e];
    metrics_token(&sv->metrics, r, t);
    if (r->job.tokens == r->job.output_len)
      let_go(sv, r);
    r->ops->token(r, t); /* after the last, r is the owner's to free */
  }
}

static const mlfq_point_ops_t point_ops = {next_arrival, arrive, ended, started,
                                           NULL};

static void begin_shutdown(server_t *sv);

void server_pump(server_t *sv) {
  server_out_t *o;

  sv->inline_ends = 0;
  mlfq_point_run(&sv->pt); /* never fails: arrive and started return 0 */
  while (!mlfq_list_empty(&sv->dirty)) {
    o = MLFQ_CONTAINER_OF(sv->dirty.next, server_out_t, link);
    mlfq_list_remove(&o->link);
    o->flush(o);
  }
  mlfq_stream_group_flush(&sv->streams);
  if (sv->draining && !sv->stopping && sv->inflight == 0)
    begin_shutdown(sv);
}

static void on_wakes(void *ud, const mlfq_wake_t *w, size_t n) {
  server_t *sv = ud;
  size_t i;

  for (i = 0; i < n; i++)
    note_end(sv, w[i].engine, w[i].deadline, w[i].woke);
  server_pump(sv);
}

void server_dirty(server_t *sv, server_out_t *o) {
  if (!mlfq_list_linked(&o->link))
    mlfq_list_push_tail(&sv->dirty, &o->link);
}

size_t server_conns(const server_t *sv) {
  return sv->nconns + http_conns(sv->http);
}

void server_stats_get(server_t *sv, server_stats_t *s) {
  const mlfq_sched_params_t *p = mlfq_sched_params(sv->sched);
  mlfq_sched_stats_t st;
  uint64_t now = server_model_now(sv);
  unsigned i, nl = mlfq_sched_levels(sv->sched);

  mlfq_sched_stats(sv->sched, &st);
  s->nlevels = nl;
  for (i = 0; i < nl; i++)
    s->levels[i] = mlfq_sched_level_len(sv->sched, i);
  s->nengines = p->workers;
  for (i = 0; i < p->workers; i++) {
    /* Busy time counts whole iterations once started. */
    s->busy[i] = now > 0 ? (double)sv->busy_ns[i] / (double)now : 0;
    if (s->busy[i] > 1)
      s->busy[i] = 1;
  }
  /* Requests that arrived but have not entered the scheduler yet (a few
   * microseconds, see DESIGN) count as waiting. */
  s->running = st.running;
  s->waiting = sv->inflight - st.running;
  s->submitted = sv->submitted;
  s->completed = st.completed;
  s->cancelled = st.cancelled + sv->cancelled_early;
  s->rejected = sv->rejected;
  s->tokens = st.tokens;
  s->lateness_p50_us = (double)mlfq_hist_percentile(&sv->lateness, 50) / 1e3;
  s->lateness_p99_us = (double)mlfq_hist_percentile(&sv->lateness, 99) / 1e3;
  s->lateness_max_us = (double)sv->lateness.max / 1e3;
  s->late_iterations = sv->late.late_ends;
  s->behind = server_late_behind(&sv->late, uv_hrtime());
  s->uptime_s = (double)(uv_hrtime() - sv->t0) / 1e9;
  s->connections = server_conns(sv);
  s->iterations = st.iterations;
  s->demotions = st.demotions;
  s->promotions = st.promotions;
  s->preemptions = st.preemptions;
  s->swapped_tokens = st.swapped_tokens;
  s->kv_used_tokens = st.kv_used;
  s->kv_peak_tokens = st.kv_peak;
  s->kv_capacity_tokens = p->kv_capacity;
  s->kv_host_requests = st.kv_host_jobs;
  s->kv_host_tokens = st.kv_host_tokens;
  s->heap_trims = sv->trim.trims;
  s->draining = sv->draining != 0;
}

static void on_connection(uv_stream_t *listener, int status) {
  server_t *sv = MLFQ_CONTAINER_OF(listener, server_t, listener);

  if (status < 0) {
    mlfq_log_peer(MLFQ_LOG_WARN, "accept: %s", uv_strerror(status));
    return;
  }
  conn_accept(sv);
}

void server_conn_closed(server_t *sv, conn_t *c) {
  mlfq_list_remove(&c->link);
  sv->nconns--;
  server_gone(sv);
}

void server_gone(server_t *sv) {
  if (sv->stopping && server_conns(sv) == 0 &&
      !uv_is_closing((uv_handle_t *)&sv->drain_timer))
    uv_close((uv_handle_t *)&sv->drain_timer, NULL);
}

static void on_linger(uv_timer_t *t) {
  server_t *sv = MLFQ_CONTAINER_OF(t, server_t, drain_timer);

  conn_close_all(sv, 1);
  http_close_all(sv->http, 1);
}

/* Stops the server: every request has ended. Connections close once
 * their output is written (or after a second), the engine threads are
 * joined, and every handle is closed, so the loop ends. */
static void begin_shutdown(server_t *sv) {
  sv->stopping = 1;
  mlfq_log(MLFQ_LOG_INFO, "stopping");
  if (sv->on_stop != NULL)
    sv->on_stop(sv);
  if (sv->listening) {
    uv_close((uv_handle_t *)&sv->listener, NULL);
    sv->listening = 0;
  }
  mlfq_deadlines_close(&sv->hellos);
  mlfq_workers_stop(sv->workers);
  sv->workers = NULL;
  mlfq_trim_close(&sv->trim);
  http_stop_listening(sv->http);
  uv_timer_stop(&sv->drain_timer);
  if (server_conns(sv) == 0) {
    uv_close((uv_handle_t *)&sv->drain_timer, NULL);
  } else {
    uv_timer_start(&sv->drain_timer, on_linger, 1000, 0);
    conn_close_all(sv, 0);
    http_close_all(sv->http, 0);
  }
}

static void on_drain_timeout(uv_timer_t *t) {
  server_t *sv = MLFQ_CONTAINER_OF(t, server_t, drain_timer);
  request_t *r;

  mlfq_log(MLFQ_LOG_WARN, "drain timeout: cancelling %zu requests",
           sv->inflight);
  while (!mlfq_list_empty(&sv->requests)) {
    r = MLFQ_CONTAINER_OF(sv->requests.next, request_t, slink);
    server_forget(sv, r);
    r->ops->failed(r, SERVER_ERR_SHUTTING_DOWN,
                   "server shut down before the request finished");
  }
  server_pump(sv); /* flushes, and begins the shutdown */
}

void server_drain(server_t *sv) {
  if (sv->draining)
    return;
  sv->draining = 1;
  mlfq_log(MLFQ_LOG_INFO, "draining %zu requests (timeout %g s)", sv->inflight,
           sv->opt.drain_timeout_s);
  if (sv->listening) {
    uv_close((uv_handle_t *)&sv->listener, NULL);
    sv->listening = 0;
  }
  if (sv->inflight == 0) {
    begin_shutdown(sv);
    return;
  }
  uv_timer_start(&sv->drain_timer, on_drain_timeout,
                 (uint64_t)(sv->opt.drain_timeout_s * 1000), 0);
}

/* For the trim timer: requests in flight, and a count that grows with
 * every connection opened or closed and every request submitted. */
static int trim_busy(void *arg) { return ((server_t *)arg)->inflight != 0; }

static uint64_t trim_activity(void *arg) {
  const server_t *sv = arg;

  /* conn_seq numbers protocol and HTTP connections alike */
  return 2 * sv->conn_seq - server_conns(sv) + sv->submitted + sv->rejected;
}

int server_init(server_t *sv, uv_loop_t *loop, const server_opts_t *o,
                char *err, size_t errlen) {
  const mlfq_sched_params_t *p;
  int rc;

  memset(sv, 0, sizeof(*sv));
  sv->loop = loop;
  sv->opt = *o;
  mlfq_list_init(&sv->pending);
  mlfq_list_init(&sv->conns);
  mlfq_list_init(&sv->dirty);
  conn_setup(sv);
  mlfq_list_init(&sv->requests);
  mlfq_hist_init(&sv->lateness);
  faults_init(&sv->faults, &o->faults);
  /* The connections' id maps draw their hash keys from it (idmap.c). */
  rc = mlfq_secret_init();
  if (rc)
    return mlfq_fail(err, errlen, rc, "no random secret: %s",
                     mlfq_strerror(rc));
  sv->sched = mlfq_sched_new(&o->sched, &o->cost, err, errlen);
  if (sv->sched == NULL)
    return MLFQ_EINVAL;
  p = mlfq_sched_params(sv->sched);
  metrics_init(&sv->metrics, p, &o->lim);
  rc = mlfq_wire_config_init(&sv->wcfg, mlfq_sched_config(sv->sched), p,
                             mlfq_sched_cost(sv->sched), &o->lim);
  if (rc)
    return mlfq_fail(err, errlen, rc, "out of memory");
  sv->busy_ns = calloc(p->workers, sizeof(*sv->busy_ns));
  sv->end_late = calloc(p->workers, sizeof(*sv->end_late));
  server_late_init(&sv->late, o->late_fraction,
                   mlfq_cost_min_decode_ns(mlfq_sched_cost(sv->sched)),
                   o->lim.time_scale);
  if (sv->busy_ns == NULL || sv->end_late == NULL ||
      mlfq_point_init(&sv->pt, &sv->sched, 1, &point_ops, sv) != 0)
    return mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
  snprintf(sv->server_id, sizeof(sv->server_id), "mlfqd-%d-%llx", (int)getpid(),
           (unsigned long long)uv_hrtime());
  rc = uv_timer_init(loop, &sv->drain_timer);
  if (rc)
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  rc = mlfq_trim_init(&sv->trim, loop, MLFQ_TRIM_PERIOD_MS, trim_busy,
                      trim_activity, sv);
  if (rc) {
    uv_close((uv_handle_t *)&sv->drain_timer, NULL);
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  }
  sv->timer_ready = 1;
  sv->workers = mlfq_workers_start(loop, p->workers, on_wakes, sv, &rc);
  if (sv->workers == NULL)
    return mlfq_fail(err, errlen, rc, "engine threads: %s", uv_strerror(rc));
  sv->t0 = uv_hrtime();
  return 0;
}

int server_listen(server_t *sv, const char *host, int port, char *bound,
                  size_t boundlen, char *err, size_t errlen) {
  int rc = mlfq_tcp_listen(sv->loop, &sv->listener, &sv->listening, host, port,
                           on_connection, bound, boundlen, err, errlen);

  if (rc == 0) {
    rc = mlfq_deadlines_init(&sv->hellos, sv->loop,
                             (uint64_t)(sv->opt.hello_timeout_s * 1e3),
                             mlfq_session_hello_due);
    if (rc != 0)
      snprintf(err, errlen, "hello timer: %s", uv_strerror(rc));
  }
  return rc;
}

void server_close(server_t *sv) {
  if (sv->workers != NULL) {
    mlfq_workers_stop(sv->workers);
    sv->workers = NULL;
  }
  if (sv->timer_ready && !uv_is_closing((uv_handle_t *)&sv->drain_timer))
    uv_close((uv_handle_t *)&sv->drain_timer, NULL);
  if (sv->timer_ready)
    mlfq_trim_close(&sv->trim);
  if (sv->listening) {
    uv_close((uv_handle_t *)&sv->listener, NULL);
    sv->listening = 0;
  }
  mlfq_deadlines_close(&sv->hellos);
  http_stop_listening(sv->http);
}

void server_free(server_t *sv) {
  mlfq_wire_config_free(&sv->wcfg);
  mlfq_sched_free(sv->sched);
  mlfq_point_free(&sv->pt);
  free(sv->busy_ns);
  free(sv->end_late);
  http_free(sv->http);
  sv->http = NULL;
}
