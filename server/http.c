/* DESIGN
 *
 * mlfqd's HTTP front door (docs/HTTP.md), on the server's loop thread:
 * GET (and HEAD) /health, /metrics, /version, /v1/models and
 * /v1/models/{id}; POST /tokenize and /detokenize; POST /v1/completions and
 * /v1/chat/completions in OpenAI's shape (common/http/openai.c). Requests
 * are parsed by http-parser (Debian's libhttp-parser).
 *
 * A connection is HTTP/1.1's persistent connection: it carries many
 * requests, one at a time, and answers them in order. What is read goes
 * into the connection's input buffer (`in`), which the parser reads from
 * while no request is being answered; at the end of a request the parser
 * is paused, so the bytes of a pipelined next request stay in `in` until
 * the current response has been queued whole (a plain response, or the
 * end of a stream). Then the request's state is reset (next_request) and
 * parsing goes on. An answer made during a scheduling point (the last
 * token of a completion) cannot start the next request there: the
 * connection joins the door's `ready` list, and an idle handle runs it
 * after the pump, where its arrivals are pumped as any read's. `in` is
 * bounded (IN_MAX): while it is full the socket is not read
 * (backpressure), and a client that disconnects then is only seen when
 * reading resumes. Otherwise the socket is always read, so a client that
 * goes cancels its jobs at once.
 *
 * The connection closes after a response when the client asked it to
 * (http_should_keep_alive: "Connection: close" on HTTP/1.1, no
 * "Connection: keep-alive" on HTTP/1.0), after --http-max-requests
 * requests, while the server drains, after an error that leaves the input
 * in an unknown state (malformed HTTP, 413 before the body, 408), and
 * after a stream to an HTTP/1.0 client, which has no chunks, so the close
 * ends the stream; that response says "Connection: close". Others say
 * "Connection: keep-alive".
 *
 * Deadlines (common/net/deadline.c, one timer for each set): a request not
 * read whole within http_read_timeout_s (of connecting, for the first; of
 * the moment parsing it began, for the next ones) gets 408 and loses the
 * connection; a kept-alive connection with no request for
 * http_idle_timeout_s is closed without a word.
 *
 * Output is appended to `out` during a pump and written at its end, one
 * uv_write per flush, as on a protocol connection; past max_queued_bytes
 * of unwritten output the client is disconnected and its jobs cancelled.
 * Closing is one idempotent path (http_close); the memory goes in the
 * close callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "http.h"
#include "http/openai.h"
#include "net/tcp.h"

#define URL_MAX 8192
#define HEADER_MAX 8192
/* Bytes read ahead of the parser: pipelined requests waiting their turn. */
#define IN_MAX (64 * 1024)
/* Retry-After of a 429 or 503, in seconds: the server cannot tell when it
 * will have room, and a second is long against a job's iteration. */
#define RETRY_AFTER_S 1

static void http_close(http_t *h);

/* The request has been read (or refused, or given up on). */
static void read_done(http_t *h) {
  h->complete = 1;
  mlfq_deadline_cancel(&h->read_due);
}

/* ---- reading ------------------------------------------------------------ */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  static char scratch[65536]; /* the loop thread's: copied to `in` at once */
  http_t *h = MLFQ_CONTAINER_OF((uv_tcp_t *)handle, http_t, tcp);
  size_t room = IN_MAX - h->in.len;

  (void)suggested;
  /* Nothing is read beyond IN_MAX (UV_ENOBUFS stops reading). */
  *buf =
      uv_buf_init(room > 0 ? scratch : NULL,
                  (unsigned)(room < sizeof(scratch) ? room : sizeof(scratch)));
}

static void stop_reading(http_t *h) {
  if (h->reading)
    uv_read_stop((uv_stream_t *)&h->tcp);
  h->reading = 0;
}

/* Reads the socket again, unless the connection ends or `in` is full. */
static void read_more(http_t *h) {
  if (h->closing || h->reading || h->flow.end != MLFQ_FLOW_OPEN ||
      h->in.len >= IN_MAX)
    return;
  if (uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read) != 0)
    http_close(h);
  else
    h->reading = 1;
}

/* ---- output ------------------------------------------------------------- */

static void on_close(uv_handle_t *handle) {
  http_t *h = MLFQ_CONTAINER_OF((uv_tcp_t *)handle, http_t, tcp);
  server_t *sv = h->sv;

  mlfq_buf_free(&h->url);
  mlfq_buf_free(&h->field);
  mlfq_buf_free(&h->value);
  mlfq_buf_free(&h->body);
  mlfq_buf_free(&h->in);
  mlfq_buf_free(&h->out);
  completion_free(h);
  mlfq_list_remove(&h->link);
  h->door->n--;
  free(h);
  server_gone(sv);
}

static void on_write(uv_write_t *req, int status) {
  mlfq_tcp_write_t *w = (mlfq_tcp_write_t *)req;
  http_t *h = w->owner;

  h->queued -= w->len;
  free(w);
  if (h->closing)
    return;
  if (status < 0 ||
      mlfq_flow_written(&h->flow, h->queued, h->out.len) == MLFQ_FLOW_CLOSE) {
    http_close(h);
    server_pump(h->sv);
  }
}

static void on_flush(server_out_t *o) {
  http_t *h = MLFQ_CONTAINER_OF(o, http_t, flush);

  if (h->closing)
    return;
  if (mlfq_flow_flushing(&h->flow) == MLFQ_FLOW_CLOSE) {
    http_close(h);
    return;
  }
  if (mlfq_tcp_write_buf((uv_stream_t *)&h->tcp, &h->out, h, on_write,
                         &h->queued) != 0) {
    http_close(h);
    return;
  }
  if (mlfq_flow_flushed(&h->flow, h->queued) == MLFQ_FLOW_CLOSE)
    http_close(h);
}

void http_put(http_t *h, const void *p, size_t n) {
  if (h->closing || h->flow.end == MLFQ_FLOW_DROP)
    return;
  if (!mlfq_flow_admit(&h->flow, h->queued + h->out.len + n) ||
      mlfq_buf_append(&h->out, p, n) != 0) {
    mlfq_log_peer(
        MLFQ_LOG_WARN,
        "http %llu %s: disconnecting a slow reader (%zu bytes unread)",
        (unsigned long long)h->id, h->peer, h->queued + h->out.len);
    mlfq_flow_drop(&h->flow);
    stop_reading(h);
  }
  server_dirty(h->sv, &h->flush);
}

void http_putf(http_t *h, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n > 0)
    http_put(h, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static const char *reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Error";
  }
}

/* Decides whether the connection stays open after this response (h->keep)
 * and returns the header that says so. */
static const char *connection(http_t *h) {
  unsigned max = h->sv->opt.http_max_requests;

  h->keep = !h->must_close && h->complete && !h->sv->draining &&
            h->door->listening && h->flow.end == MLFQ_FLOW_OPEN &&
            http_should_keep_alive(&h->parser) &&
            (max == 0 || h->served < max) && (!h->streaming || h->chunked);
  return h->keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
}

static void on_resume(uv_idle_t *idle);

/* The response is queued whole: the connection reads its next request,
 * inline (drive) or after the pump (the door's ready list), or closes
 * once the response is written. */
static void response_end(http_t *h) {
  http_door_t *d = h->door;

  if (!h->keep || !d->listening) {
    mlfq_flow_linger(&h->flow);
    stop_reading(h);
    return;
  }
  h->answered = 1;
  if (!h->parsing && !mlfq_list_linked(&h->rlink)) {
    mlfq_list_push_tail(&d->ready, &h->rlink);
    uv_idle_start(&d->resume, on_resume);
  }
}

/* A whole response. */
static void respond(http_t *h, int status, const char *type, const char *extra,
                    const char *body, size_t len) {
  char retry[64] = "";

  if (status == 429 || status == 503)
    snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", RETRY_AFTER_S);
  http_putf(h,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "%s%s%s\r\n",
            status, reason(status), type, len, extra != NULL ? extra : "",
            retry, connection(h));
  if (!h->head)
    http_put(h, body, len);
  response_end(h);
}

void http_respond_json(http_t *h, int status, const char *extra, char *body) {
  static const char oom[] = "{\"error\":{\"message\":\"out of memory\","
                            "\"type\":\"server_error\",\"param\":null,"
                            "\"code\":500}}";

  if (body == NULL) {
    respond(h, 500, "application/json", NULL, oom, sizeof(oom) - 1);
    return;
  }
  respond(h, status, "application/json", extra, body, strlen(body));
  free(body);
}

const char *http_error_type(int status) {
  switch (status) {
  case 429:
    return "rate_limit_error";
  case 500:
  case 503:
    return "server_error";
  default:
    return "invalid_request_error";
  }
}

void http_respond_error_param(http_t *h, int status, const char *extra,
                              const char *msg, const char *param) {
  mlfq_log(MLFQ_LOG_DEBUG, "http %llu %s: %d: %s", (unsigned long long)h->id,
           h->peer, status, msg);
  http_respond_json(
      h, status, extra,
      mlfq_openai_error_param(msg, http_error_type(status), status, param));
}

void http_respond_error(http_t *h, int status, const char *extra,
                        const char *msg) {
  http_respond_error_param(h, status, extra, msg, NULL);
}

void http_begin_stream(http_t *h) {
  h->streaming = 1;
  h->chunked = h->parser.http_major > 1 ||
               (h->parser.http_major == 1 && h->parser.http_minor >= 1);
  http_putf(h,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n%s%s\r\n",
            h->chunked ? "Transfer-Encoding: chunked\r\n" : "", connection(h));
}

void http_event_n(http_t *h, const char *text, size_t n) {
  if (h->chunked)
    http_putf(h, "%zx\r\ndata: ", n + 8);
  else
    http_put(h, "data: ", 6);
  http_put(h, text, n);
  if (h->chunked)
    http_put(h, "\n\n\r\n", 4);
  else
    http_put(h, "\n\n", 2);
}

void http_event(http_t *h, const char *text) {
  http_event_n(h, text, strlen(text));
}

void http_comment(http_t *h, const char *text) {
  size_t n = strlen(text);

  if (h->chunked)
    http_putf(h, "%zx\r\n", n + 4);
  http_put(h, ": ", 2);
  http_put(h, text, n);
  http_put(h, h->chunked ? "\n\n\r\n" : "\n\n", h->chunked ? 4 : 2);
}

void http_end_stream(http_t *h) {
  http_event(h, "[DONE]");
  if (h->chunked)
    http_put(h, "0\r\n\r\n", 5);
  response_end(h);
}

void http_drop(http_t *h) {
  mlfq_flow_linger(&h->flow);
  stop_reading(h);
  server_dirty(h->sv, &h->flush); /* closes at the flush, even with no output */
}

/* ---- routes ------------------------------------------------------------- */

/* The path of the URL, without the query. */
static int path_is(const http_t *h, const char *path) {
  size_t n = strlen(path);
  const char *u = (const char *)h->url.data;

  return h->url.len >= n && memcmp(u, path, n) == 0 &&
         (h->url.len == n || u[n] == '?');
}

static int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The rest of the path after prefix (without the query), percent-decoded
 * into out (len bytes); 0, or -1 when the URL does not start with prefix
 * or the rest does not fit. */
static int path_rest(const http_t *h, const char *prefix, char *out,
                     size_t len) {
  size_t n = strlen(prefix), i, k = 0;
  const char *u = (const char *)h->url.data;

  if (h->url.len < n || memcmp(u, prefix, n) != 0)
    return -1;
  for (i = n; i < h->url.len && u[i] != '?'; i++) {
    if (k + 1 >= len)
      return -1;
    if (u[i] == '%' && i + 2 < h->url.len && hex(u[i + 1]) >= 0 &&
        hex(u[i + 2]) >= 0) {
      out[k++] = (char)(hex(u[i + 1]) * 16 + hex(u[i + 2]));
      i += 2;
    } else {
      out[k++] = u[i];
    }
  }
  out[k] = '\0';
  return 0;
}

#define OK "{\"status\":\"ok\"}"
#define DRAINING "{\"status\":\"draining\"}"

enum {
  R_HEALTH,
  R_METRICS,
  R_VERSION,
  R_MODELS,
  R_MODEL, /* /v1/models/{id} */
  R_TOKENIZE,
  R_DETOKENIZE,
  R_COMPLETIONS,
  R_CHAT,
  R_N
};

static const struct {
  const char *path;
  int method;
  int prefix; /* the path begins with it (and goes on) */
} routes[R_N] = {
    {"/health", HTTP_GET, 0},
    {"/metrics", HTTP_GET, 0},
    {"/version", HTTP_GET, 0},
    {"/v1/models", HTTP_GET, 0},
    {"/v1/models/", HTTP_GET, 1},
    {"/tokenize", HTTP_POST, 0},
    {"/detokenize", HTTP_POST, 0},
    {"/v1/completions", HTTP_POST, 0},
    {"/v1/chat/completions", HTTP_POST, 0},
};

static int find_route(const http_t *h) {
  const char *u = (const char *)h->url.data;
  size_t n;
  int i;

  for (i = 0; i < R_N; i++) {
    n = strlen(routes[i].path);
    if (routes[i].prefix
            ? h->url.len > n && memcmp(u, routes[i].path, n) == 0 && u[n] != '?'
            : path_is(h, routes[i].path))
      return i;
  }
  return -1;
}

static void route_metrics(http_t *h) {
  mlfq_buf_t b;
  int rc;

  mlfq_buf_init(&b, 16 << 20);
  rc = metrics_write(h->sv, &b);
  if (rc != 0)
    http_respond_error(h, 500, NULL, mlfq_strerror(rc));
  else
    respond(h, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
            (const char *)b.data, b.len);
  mlfq_buf_free(&b);
}

/* GET /v1/models/{id}: the served model, or 404 naming "model". */
static void route_model(http_t *h) {
  char id[SERVER_MODEL_NAME_MAX + 2], msg[SERVER_MODEL_NAME_MAX + 64];

  if (path_rest(h, routes[R_MODEL].path, id, sizeof(id)) != 0 ||
      strcmp(id, h->sv->opt.model_name) != 0) {
    snprintf(msg, sizeof(msg), "The model '%.100s' does not exist.",
             path_rest(h, routes[R_MODEL].path, id, sizeof(id)) == 0
                 ? id
                 : "(too long)");
    http_respond_error_param(h, 404, NULL, msg, "model");
    return;
  }
  http_respond_json(h, 200, NULL,
                    mlfq_openai_model(h->sv->opt.model_name, (long)time(NULL)));
}

/* The most tokens one request may hold, prompt and output (vLLM's
 * max_model_len): the lengths' limits, within the KV capacity. */
static uint64_t max_model_len(const server_t *sv) {
  uint64_t n = (uint64_t)sv->opt.lim.max_input_length +
               sv->opt.lim.max_output_length,
           cap = mlfq_sched_params(sv->sched)->kv_capacity;

  return cap > 0 && cap < n ? cap : n;
}

/* POST /tokenize and /detokenize (common/http/openai.c). */
static void route_tokens(http_t *h, int de) {
  const char *param = NULL;
  char err[256], *out = NULL;
  int status;

  if (de)
    status = mlfq_openai_detokenize((const char *)h->body.data, h->body.len,
                                    &out, err, sizeof(err), &param);
  else
    status = mlfq_openai_tokenize((const char *)h->body.data, h->body.len,
                                  h->sv->opt.model_name, max_model_len(h->sv),
                                  &out, err, sizeof(err), &param);
  if (status != 0) {
    http_respond_error_param(h, status, NULL, err, param);
    return;
  }
  /* A whole response must fit the output bound, as a completion's. */
  if (out != NULL && strlen(out) + 512 > h->sv->opt.max_queued_bytes) {
    free(out);
    snprintf(err, sizeof(err),
             "the response would be larger than the server's output bound "
             "(--max-queued-bytes %zu)",
             h->sv->opt.max_queued_bytes);
    http_respond_error_param(h, 400, NULL, err, de ? "tokens" : "prompt");
    return;
  }
  http_respond_json(h, 200, NULL, out);
}

static void route(http_t *h) {
  server_t *sv = h->sv;
  int i = find_route(h), m = (int)h->parser.method;

  /* HEAD: every GET, its headers without the body; an answer to a HEAD
   * never has one, an error's included. */
  h->head = m == HTTP_HEAD;
  if (i < 0) {
    http_respond_error(h, 404, NULL, "no such endpoint");
    return;
  }
  if (m != routes[i].method && !(h->head && routes[i].method == HTTP_GET)) {
    http_respond_error(h, 405,
                       routes[i].method == HTTP_GET ? "Allow: GET, HEAD\r\n"
                                                    : "Allow: POST\r\n",
                       "method not allowed");
    return;
  }
  switch (i) {
  case R_HEALTH:
    if (sv->draining)
      respond(h, 503, "application/json", NULL, DRAINING, sizeof(DRAINING) - 1);
    else
      respond(h, 200, "application/json", NULL, OK, sizeof(OK) - 1);
    break;
  case R_METRICS:
    route_metrics(h);
    break;
  case R_VERSION:
    http_respond_json(h, 200, NULL, mlfq_openai_version(MLFQ_VERSION));
    break;
  case R_MODELS:
    http_respond_json(h, 200, NULL,
                      mlfq_openai_models(sv->opt.model_name, (long)time(NULL)));
    break;
  case R_MODEL:
    route_model(h);
    break;
  case R_TOKENIZE:
  case R_DETOKENIZE:
    route_tokens(h, i == R_DETOKENIZE);
    break;
  default:
    completion_start(h, i == R_CHAT);
    break;
  }
}

/* ---- parsing ------------------------------------------------------------ */

#define HTTP_OF_PARSER(p) MLFQ_CONTAINER_OF(p, http_t, parser)

/* A bad request: answered, and the connection closes after (what follows
 * in the input cannot be trusted to begin a request). */
static int refuse(http_parser *p, int status, const char *msg) {
  http_t *h = HTTP_OF_PARSER(p);

  h->must_close = 1;
  read_done(h);
  http_respond_error(h, status, NULL, msg);
  return -1; /* stops the parser */
}

static void header_done(http_t *h) {
  if (h->field.len == 6 &&
      strncasecmp((char *)h->field.data, "expect", 6) == 0 &&
      h->value.len == 12 &&
      strncasecmp((char *)h->value.data, "100-continue", 12) == 0)
    h->expect = 1;
  mlfq_buf_consume(&h->field, h->field.len);
  mlfq_buf_consume(&h->value, h->value.len);
}

/* A request begins: the read deadline runs (the first one's since the
 * connection was accepted), the idle one no more. */
static int on_begin(http_parser *p) {
  http_t *h = HTTP_OF_PARSER(p);

  h->served++;
  mlfq_deadline_cancel(&h->idle_due);
  if (!mlfq_list_linked(&h->read_due.link))
    mlfq_deadline_set(&h->door->reads, &h->read_due);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  if (mlfq_buf_append(&HTTP_OF_PARSER(p)->url, at, n) != 0)
    return refuse(p, 400, "the URL is too long");
  return 0;
}

static int on_field(http_parser *p, const char *at, size_t n) {
  http_t *h = HTTP_OF_PARSER(p);

  if (h->in_value) {
    header_done(h);
    h->in_value = 0;
  }
  if (mlfq_buf_append(&h->field, at, n) != 0)
    return refuse(p, 400, "a header is too long");
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t n) {
  http_t *h = HTTP_OF_PARSER(p);

  h->in_value = 1;
  if (mlfq_buf_append(&h->value, at, n) != 0)
    return refuse(p, 400, "a header is too long");
  return 0;
}

static int on_headers(http_parser *p) {
  http_t *h = HTTP_OF_PARSER(p);

  if (h->in_value)
    header_done(h);
  if ((p->flags & F_CONTENTLENGTH) &&
      p->content_length > h->sv->opt.http_max_body_bytes)
    return refuse(p, 413, "the body is larger than the server takes");
  if (h->expect)
    http_putf(h, "HTTP/1.1 100 Continue\r\n\r\n");
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  if (mlfq_buf_append(&HTTP_OF_PARSER(p)->body, at, n) != 0)
    return refuse(p, 413, "the body is larger than the server takes");
  return 0;
}

/* The request is read whole: it is answered, and the parser waits (paused)
 * until its response has been queued. */
static int on_complete(http_parser *p) {
  http_t *h = HTTP_OF_PARSER(p);

  read_done(h);
  h->busy = 1;
  route(h);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {.on_message_begin = on_begin,
                                              .on_url = on_url,
                                              .on_header_field = on_field,
                                              .on_header_value = on_value,
                                              .on_headers_complete = on_headers,
                                              .on_body = on_body,
                                              .on_message_complete =
                                                  on_complete};

/* The request has been answered: its state goes, the connection's stays,
 * and the idle deadline runs until the next request begins. */
static void next_request(http_t *h) {
  completion_free(h);
  mlfq_buf_consume(&h->url, h->url.len);
  mlfq_buf_consume(&h->field, h->field.len);
  mlfq_buf_consume(&h->value, h->value.len);
  mlfq_buf_consume(&h->body, h->body.len);
  h->in_value = h->expect = h->complete = h->busy = h->answered = 0;
  h->keep = h->head = h->chunked = h->streaming = 0;
  memset(&h->q, 0, sizeof(h->q));
  h->live = 0;
  h->rid[0] = '\0';
  h->created = 0;
  if (HTTP_PARSER_ERRNO(&h->parser) == HPE_PAUSED)
    http_parser_pause(&h->parser, 0);
  mlfq_deadline_set(&h->door->idles, &h->idle_due);
}

/* Parses what `in` holds while no request is being answered: each request
 * read whole is answered (route), and the next parsed once that answer
 * is queued. */
static void drive(http_t *h) {
  enum http_errno e;
  size_t n;

  h->parsing = 1;
  while (!h->closing && h->flow.end == MLFQ_FLOW_OPEN) {
    if (h->answered)
      next_request(h);
    if (h->busy || h->in.len == 0)
      break;
    n = http_parser_execute(&h->parser, &settings, (const char *)h->in.data,
                            h->in.len);
    e = HTTP_PARSER_ERRNO(&h->parser);
    if (e == HPE_PAUSED) { /* a request ended at byte n */
      mlfq_buf_consume(&h->in, n);
      continue;
    }
    if ((e != HPE_OK || n != h->in.len) && !h->complete) {
      h->must_close = 1;
      read_done(h);
      http_respond_error(h, 400, NULL, http_errno_description(e));
    }
    mlfq_buf_consume(&h->in, h->in.len);
  }
  h->parsing = 0;
  read_more(h);
}

/* door->resume: the connections answered during a scheduling point read
 * their next requests, which are then pumped. */
static void on_resume(uv_idle_t *idle) {
  http_door_t *d = MLFQ_CONTAINER_OF(idle, http_door_t, resume);
  http_t *h;

  while (!mlfq_list_empty(&d->ready)) {
    h = MLFQ_CONTAINER_OF(d->ready.next, http_t, rlink);
    mlfq_list_remove(&h->rlink);
    drive(h);
  }
  uv_idle_stop(idle);
  server_pump(d->sv);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  http_t *h = MLFQ_CONTAINER_OF((uv_tcp_t *)s, http_t, tcp);

  if (nread == 0)
    return;
  if (nread == UV_ENOBUFS) { /* `in` is full: read again once parsed */
    stop_reading(h);
    return;
  }
  if (nread < 0 || mlfq_buf_append(&h->in, buf->base, (size_t)nread) != 0) {
    http_close(h); /* the client went: its jobs go with it */
    server_pump(h->sv);
    return;
  }
  if (h->in.len >= IN_MAX)
    stop_reading(h);
  drive(h);
  server_pump(h->sv);
}

/* ---- connections -------------------------------------------------------- */

static void http_close(http_t *h) {
  if (h->closing)
    return;
  h->closing = 1;
  mlfq_deadline_cancel(&h->read_due);
  mlfq_deadline_cancel(&h->idle_due);
  if (mlfq_list_linked(&h->rlink))
    mlfq_list_remove(&h->rlink);
  if (h->live > 0)
    mlfq_log(MLFQ_LOG_DEBUG, "http %llu %s: closed with %zu jobs in flight",
             (unsigned long long)h->id, h->peer, h->live);
  completion_forget(h);
  if (mlfq_list_linked(&h->flush.link))
    mlfq_list_remove(&h->flush.link);
  uv_close((uv_handle_t *)&h->tcp, on_close);
}

static void on_connection(uv_stream_t *listener, int status) {
  http_door_t *d =
      MLFQ_CONTAINER_OF((uv_tcp_t *)listener, http_door_t, listener);
  server_t *sv = d->sv;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  http_t *h;

  if (status < 0) {
    mlfq_log_peer(MLFQ_LOG_WARN, "http accept: %s", uv_strerror(status));
    return;
  }
  h = calloc(1, sizeof(*h));
  if (h == NULL || uv_tcp_init(sv->loop, &h->tcp) != 0) {
    free(h);
    mlfq_log(MLFQ_LOG_ERROR, "http accept: out of memory");
    return;
  }
  h->sv = sv;
  h->door = d;
  h->id = ++sv->conn_seq;
  mlfq_deadline_init(&h->read_due);
  mlfq_deadline_init(&h->idle_due);
  mlfq_list_push_tail(&d->conns, &h->link);
  mlfq_list_init(&h->rlink);
  d->n++;
  mlfq_list_init(&h->flush.link);
  h->flush.flush = on_flush;
  mlfq_buf_init(&h->url, URL_MAX);
  mlfq_buf_init(&h->field, HEADER_MAX);
  mlfq_buf_init(&h->value, HEADER_MAX);
  mlfq_buf_init(&h->body, sv->opt.http_max_body_bytes);
  mlfq_buf_init(&h->in, IN_MAX);
  mlfq_buf_init(&h->out, sv->opt.max_queued_bytes);
  mlfq_flow_init(&h->flow, sv->opt.max_queued_bytes, 0);
  http_parser_init(&h->parser, HTTP_REQUEST);
  if (uv_accept(listener, (uv_stream_t *)&h->tcp) != 0) {
    http_close(h);
    return;
  }
  uv_tcp_nodelay(&h->tcp, 1);
  snprintf(h->peer, sizeof(h->peer), "?");
  if (uv_tcp_getpeername(&h->tcp, (struct sockaddr *)&ss, &len) == 0)
    mlfq_tcp_addr_name((struct sockaddr *)&ss, h->peer, sizeof(h->peer));
  if (server_conns(sv) > sv->opt.max_connections) {
    h->must_close = 1;
    read_done(h);
    http_respond_error(h, server_err_http(SERVER_ERR_TOO_MANY_CONNECTIONS),
                       NULL, "too many connections (max-connections)");
    server_pump(sv);
    return;
  }
  read_more(h);
  if (!h->closing)
    mlfq_deadline_set(&d->reads, &h->read_due);
}

/* door->reads: h's request was not read whole in time. */
static void on_read_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  http_t *h = MLFQ_CONTAINER_OF(d, http_t, read_due);

  (void)ds;
  h->must_close = 1;
  read_done(h);
  mlfq_log_peer(MLFQ_LOG_INFO, "http %llu %s: no whole request within %g s",
                (unsigned long long)h->id, h->peer,
                h->sv->opt.http_read_timeout_s);
  http_respond_error(
      h, 408, NULL, "the request was not received in time (http-read-timeout)");
  server_pump(h->sv);
}

/* door->idles: a kept-alive connection had no request for
 * http_idle_timeout_s. It is closed without a response (one sent now could
 * cross a request on its way and be taken for its answer). */
static void on_idle_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  http_t *h = MLFQ_CONTAINER_OF(d, http_t, idle_due);

  (void)ds;
  mlfq_log(MLFQ_LOG_DEBUG, "http %llu %s: idle for %g s after %u requests",
           (unsigned long long)h->id, h->peer, h->sv->opt.http_idle_timeout_s,
           h->served);
  if (h->queued + h->out.len == 0) {
    http_close(h);
  } else { /* a slow reader still has its last response to read */
    mlfq_flow_linger(&h->flow);
    stop_reading(h);
  }
}

int http_listen(server_t *sv, const char *host, int port, char *bound,
                size_t boundlen, char *err, size_t errlen) {
  http_door_t *d = sv->http;
  int rc;

  if (d == NULL) {
    d = calloc(1, sizeof(*d));
    if (d == NULL)
      return mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
    d->sv = sv;
    mlfq_list_init(&d->conns);
    mlfq_list_init(&d->ready);
    sv->http = d;
  }
  rc = mlfq_tcp_listen(sv->loop, &d->listener, &d->listening, host, port,
                       on_connection, bound, boundlen, err, errlen);
  if (rc != 0)
    return rc;
  rc = mlfq_deadlines_init(&d->reads, sv->loop,
                           (uint64_t)(sv->opt.http_read_timeout_s * 1e3),
                           on_read_due);
  if (rc == 0)
    rc = mlfq_deadlines_init(&d->idles, sv->loop,
                             (uint64_t)(sv->opt.http_idle_timeout_s * 1e3),
                             on_idle_due);
  if (rc == 0)
    rc = uv_idle_init(sv->loop, &d->resume);
  if (rc != 0)
    snprintf(err, errlen, "HTTP timers: %s", uv_strerror(rc));
  return rc;
}

int http_listening(const http_door_t *d) { return d != NULL && d->listening; }

size_t http_conns(const http_door_t *d) { return d != NULL ? d->n : 0; }

void http_stop_listening(http_door_t *d) {
  if (d == NULL || !d->listening)
    return;
  uv_close((uv_handle_t *)&d->listener, NULL);
  mlfq_deadlines_close(&d->reads);
  mlfq_deadlines_close(&d->idles);
  if (d->resume.loop != NULL)
    uv_close((uv_handle_t *)&d->resume, NULL);
  d->listening = 0;
}

void http_close_all(http_door_t *d, int now) {
  mlfq_link_t *l, *next;
  http_t *h;

  if (d == NULL)
    return;
  for (l = d->conns.next; l != &d->conns; l = next) {
    next = l->next;
    h = MLFQ_CONTAINER_OF(l, http_t, link);
    if (now || (h->queued == 0 && h->out.len == 0)) {
      http_close(h);
    } else {
      mlfq_flow_linger(&h->flow);
      stop_reading(h);
    }
  }
}

void http_free(http_door_t *d) { free(d); }
