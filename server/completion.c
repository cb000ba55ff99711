/* DESIGN
 *
 * POST /v1/completions and /v1/chat/completions (docs/HTTP.md) on an HTTP
 * connection (http.c): the request's prompts enter the scheduler as jobs
 * at the model time the request was read, as a protocol Submit does, under
 * the same limits (max_pending, max_pending_per_conn and the fair share,
 * the lengths, the KV capacity). A streamed response sends its headers at
 * once and then one server-sent event per token, as the scheduler produces
 * it; a plain response is sent when the last job ends; either ends the
 * request, and the connection goes on to its next one (http.c). Each
 * prompt's output length is its natural length (--output-len), bounded by
 * the request's min_tokens, ignore_eos and max_tokens, which the KV check
 * and the output bound still count whole: the client allowed that many,
 * and a real engine does not know in advance where an answer ends. The
 * request fails whole: one job that fails takes the others out of the
 * server. The server's reasons become statuses through errors.c.
 *
 * Failure injection (faults.h) hooks in at three places: a request that
 * has passed its checks draws its fault (fault_begin: a 429 or a 500 at
 * once; a slow first token enters the server only when a libuv timer of
 * --fault-slow-ms has run out, the admission checks included; a drop is
 * armed); each token of a dropped request passes fault_cut, which, at the
 * token after the drop point, stops the output and closes the connection
 * once what was sent is written (http_drop), the jobs leaving with it; and
 * completion_forget and completion_free stop and free the timer. Loop
 * thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faults.h"
#include "http.h"
#include "http/openai.h"
#include "load/endings.h"

#define HTTP_OF(r) ((http_t *)(r)->owner)

/* A request's injected fault, while it lasts (h->fault). */
struct completion_fault_s {
  fault_t ft;
  uv_timer_t timer; /* slow-first-token: the wait before the request enters */
  int timing;       /* the timer is initialised: closed before it is freed */
  int chat;
  int armed;      /* drop: after is known (at the first token) */
  int cut;        /* drop: the output has stopped */
  uint64_t after; /* drop: tokens sent before the connection closes */
  uint64_t sent;
};

static void fault_free_cb(uv_handle_t *t) {
  free(MLFQ_CONTAINER_OF((uv_timer_t *)t, struct completion_fault_s, timer));
}

void completion_forget(http_t *h) {
  size_t i;

  for (i = 0; i < h->q.n && h->reqs != NULL; i++)
    if (mlfq_list_linked(&h->reqs[i].slink))
      server_forget(h->sv, &h->reqs[i]);
  h->live = 0;
  if (h->fault != NULL && h->fault->timing)
    uv_timer_stop(&h->fault->timer); /* a slow request never enters */
}

static void req_accepted(request_t *r) { (void)r; }

/* How far behind the model the server served h's prompts, at worst, in
 * model ms (server/late.c); 0 when it kept the model's time. */
static double late_ms(const http_t *h) {
  uint64_t late = 0;
  size_t i;

  for (i = 0; i < h->q.n; i++)
    if (h->reqs[i].late_ns > late)
      late = h->reqs[i].late_ns;
  return (double)late / h->sv->opt.lim.time_scale / 1e6;
}

/* The whole answer: a body whose headers say whether the server fell
 * behind the model, or the stream's last events, a comment saying so
 * before them. */
static void finished(http_t *h) {
  double late = late_ms(h);
  char extra[64], *s;

  if (!h->q.stream) {
    snprintf(extra, sizeof(extra), "X-Mlfqd-Late-Ms: %.3f\r\n", late);
    http_respond_json(h, 200, late > 0 ? extra : NULL,
                      mlfq_openai_response(&h->q, h->rid, h->created));
    return;
  }
  if (late > 0) {
    snprintf(extra, sizeof(extra), "mlfqd late-ms %.3f", late);
    http_comment(h, extra);
  }
  if (h->q.include_usage) {
    s = mlfq_openai_usage_chunk(&h->q, h->rid, h->created);
    if (s != NULL)
      http_event(h, s);
    free(s);
  }
  http_end_stream(h);
}

/* A dropped request's token: whether it is cut (not sent). The drop point
 * is drawn over the response's tokens, all its prompts' together; once
 * that many are sent, the next closes the connection instead. */
static int fault_cut(http_t *h) {
  struct completion_fault_s *f = h->fault;
  uint64_t output = 0;
  size_t i;

  if (!f->armed) {
    for (i = 0; i < h->q.n; i++)
      output += h->reqs[i].job.output_len;
    f->after = faults_drop_after(&f->ft, output);
    f->armed = 1;
  }
  if (!f->cut && f->sent == f->after) {
    f->cut = 1;
    http_drop(h); /* its jobs leave when it closes */
  }
  if (f->cut)
    return 1;
  f->sent++;
  return 0;
}

static void req_token(request_t *r, uint64_t t) {
  http_t *h = HTTP_OF(r);
  int last = r->job.tokens == r->job.output_len;
  const char *s;
  size_t n;

  (void)t;
  if (h->fault != NULL && h->fault->ft.kind == FAULT_DROP && fault_cut(h))
    return;
  if (h->q.stream) {
    s = mlfq_openai_stream_chunk(&h->st, (size_t)r->client_id,
                                 r->job.tokens == 1, last, &n);
    http_event_n(h, s, n);
  }
  if (last && --h->live == 0)
    finished(h);
}

static void req_failed(request_t *r, server_err_t why, const char *msg) {
  http_t *h = HTTP_OF(r);
  int status = server_err_http(why);
  char *s;

  completion_forget(h); /* the request fails whole */
  if (h->streaming) {
    s = mlfq_openai_error(msg, http_error_type(status), status);
    if (s != NULL)
      http_event(h, s);
    free(s);
    http_end_stream(h);
  } else {
    http_respond_error(h, status, NULL, msg);
  }
}

static const request_ops_t req_ops = {req_accepted, req_token, req_failed};

/* The server refuses the request (why, msg). */
static void decline(http_t *h, server_err_t why, const char *msg) {
  http_respond_error(h, server_err_http(why), NULL, msg);
}

static void admit(http_t *h, int chat);

/* The slow first token's wait is over. */
static void on_slow(uv_timer_t *t) {
  http_t *h = t->data;

  admit(h, h->fault->chat);
  server_pump(h->sv);
}

/* Draws h's fault. Returns 1 when it has answered h (a 429, a 500) or
 * delays it (slow-first-token), 0 when h goes on (none; a drop, armed). */
static int fault_begin(http_t *h, int chat) {
  server_t *sv = h->sv;
  fault_t ft = faults_draw(&sv->faults);
  struct completion_fault_s *f;

  switch (ft.kind) {
  case FAULT_NONE:
    return 0;
  case FAULT_RATE_LIMIT:
    http_respond_error(h, 429, NULL, /* http.c adds Retry-After */
                       "injected fault: rate limit (--fault-rate)");
    return 1;
  case FAULT_SERVER_ERROR:
    http_respond_error(h, 500, NULL,
                       "injected fault: server error (--fault-rate)");
    return 1;
  default:
    break;
  }
  f = calloc(1, sizeof(*f));
  if (f == NULL) {
    decline(h, SERVER_ERR_INTERNAL, "out of memory");
    return 1;
  }
  f->ft = ft;
  f->chat = chat;
  h->fault = f;
  if (ft.kind == FAULT_DROP)
    return 0;
  uv_timer_init(sv->loop, &f->timer); /* cannot fail */
  f->timing = 1;
  f->timer.data = h;
  uv_timer_start(&f->timer, on_slow, (uint64_t)ceil(sv->faults.o.slow_ms), 0);
  return 1;
}

void completion_start(http_t *h, int chat) {
  server_t *sv = h->sv;
  const mlfq_limits_t *lim = &sv->opt.lim;
  mlfq_openai_limits_t ol;
  char err[256];
  size_t i;
  int status;

  ol.model = sv->opt.model_name;
  ol.default_tokens = sv->opt.http_max_tokens;
  ol.max_input = lim->max_input_length;
  ol.max_output = lim->max_output_length;
  status = mlfq_openai_parse((const char *)h->body.data, h->body.len, chat, &ol,
                             &h->q, err, sizeof(err));
  if (status != 0) {
    http_respond_error_param(h, status, NULL, err, h->q.param);
    return;
  }
  for (i = 0; i < h->q.n; i++)
    if (!server_kv_fits(sv, h->q.input_len[i], h->q.max_tokens,
                        "prompt + max_tokens", err, sizeof(err))) {
      decline(h, SERVER_ERR_INVALID, err);
      return;
    }
  /* A plain response is written whole: it must fit the output bound. */
  if (!h->q.stream &&
      (uint64_t)h->q.n *
                  (h->q.max_tokens * sizeof(MLFQ_OPENAI_TOKEN_TEXT) + 256) +
              512 >
          sv->opt.max_queued_bytes) {
    snprintf(err, sizeof(err),
             "the response would be larger than the server's output bound "
             "(--max-queued-bytes %zu): ask for a stream",
             sv->opt.max_queued_bytes);
    decline(h, SERVER_ERR_INVALID, err);
    return;
  }
  if (fault_begin(h, chat))
    return;
  admit(h, chat);
}

/* The request enters the server, unless it is draining or full. */
static void admit(http_t *h, int chat) {
  server_t *sv = h->sv;
  uint64_t now;
  char err[256];
  request_t *r;
  size_t i;

  if (sv->draining) {
    decline(h, SERVER_ERR_SHUTTING_DOWN, "the server is shutting down");
    return;
  }
  /* A connection has one request at a time: nothing else in flight. */
  if (!server_has_room(sv, 0, h->q.n, err, sizeof(err))) {
    decline(h, SERVER_ERR_OVERLOADED, err);
    return;
  }
  h->reqs = calloc(h->q.n, sizeof(*h->reqs));
  if (h->reqs == NULL) {
    decline(h, SERVER_ERR_INTERNAL, "out of memory");
    return;
  }
  h->created = (long)time(NULL);
  now = server_model_now(sv); /* every prompt arrives at once */
  for (i = 0; i < h->q.n; i++) {
    if (sv->opt.endings != NULL) /* one draw per prompt, in arrival order */
      h->q.output_len[i] = mlfq_endings_length(
          mlfq_endings_draw(sv->opt.endings), h->q.max_tokens, h->q.min_tokens,
          h->q.ignore_eos);
    r = &h->reqs[i];
    r->ops = &req_ops;
    r->owner = h;
    r->client_id = i;
    r->job.input_len = h->q.input_len[i];
    r->job.output_len = h->q.output_len[i];
    r->max_tokens = h->q.max_tokens;
    mlfq_list_init(&r->clink);
    mlfq_list_init(&r->slink);
    server_arrive(sv, r, now);
  }
  /* Named after its first job, whose id the server made unique. */
  snprintf(h->rid, sizeof(h->rid), "%s-%s-%llu", chat ? "chatcmpl" : "cmpl",
           sv->server_id, (unsigned long long)h->reqs[0].job.id);
  h->live = h->q.n;
  if (h->q.stream &&
      mlfq_openai_stream_init(&h->st, &h->q, h->rid, h->created) != 0) {
    completion_forget(h);
    decline(h, SERVER_ERR_INTERNAL, "out of memory");
    return;
  }
  if (h->q.stream)
    http_begin_stream(h);
}

void completion_free(http_t *h) {
  if (h->fault != NULL && h->fault->timing)
    uv_close((uv_handle_t *)&h->fault->timer, fault_free_cb);
  else
    free(h->fault);
  h->fault = NULL;
  mlfq_openai_stream_free(&h->st);
  free(h->reqs);
  h->reqs = NULL;
}
