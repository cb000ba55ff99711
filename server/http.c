/* DESIGN
 *
 * mlfqd's HTTP front door (docs/HTTP.md), on the server's loop thread:
 * GET /health, /metrics and /v1/models; POST /v1/completions and
 * /v1/chat/completions in OpenAI's shape (common/http/openai.c). Requests are
 * parsed by http-parser (Debian's libhttp-parser). A connection carries
 * one request: every response says "Connection: close", so the parser
 * never has to hold a second request while the first is streaming.
 *
 * The door (http.h) owns the listener, the read deadlines and the
 * connections; the server holds only a pointer to it. A completion's
 * prompts become the server's requests in completion.c. After its request
 * the connection is still read, only to see the client go: one that
 * disconnects cancels its jobs.
 * A client that has not sent its whole request within http_read_timeout_s
 * of connecting gets 408 and loses the connection (common/net/deadline.c:
 * one timer for them all).
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
#include "http.h"
#include "http/openai.h"
#include "net/tcp.h"

#define URL_MAX 8192
#define HEADER_MAX 8192

static void http_close(http_t *h);

/* The request has been read (or refused, or given up on). */
static void read_done(http_t *h) {
  h->complete = 1;
  mlfq_deadline_cancel(&h->read_due);
}

/* ---- output ------------------------------------------------------------- */

static void on_close(uv_handle_t *handle) {
  http_t *h = MLFQ_CONTAINER_OF((uv_tcp_t *)handle, http_t, tcp);
  server_t *sv = h->sv;

  mlfq_buf_free(&h->url);
  mlfq_buf_free(&h->field);
  mlfq_buf_free(&h->value);
  mlfq_buf_free(&h->body);
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

/* A whole response; the connection closes once it is written. */
static void respond(http_t *h, int status, const char *type, const char *extra,
                    const char *body, size_t len) {
  http_putf(h,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
            "Connection: close\r\n\r\n",
            status, reason(status), type, len, extra != NULL ? extra : "");
  http_put(h, body, len);
  mlfq_flow_linger(&h->flow);
  uv_read_stop((uv_stream_t *)&h->tcp);
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

void http_respond_error(http_t *h, int status, const char *extra,
                        const char *msg) {
  mlfq_log(MLFQ_LOG_DEBUG, "http %llu %s: %d: %s", (unsigned long long)h->id,
           h->peer, status, msg);
  http_respond_json(h, status, extra,
                    mlfq_openai_error(msg, http_error_type(status), status));
}

void http_event_n(http_t *h, const char *text, size_t n) {
  http_putf(h, "%zx\r\ndata: ", n + 8);
  http_put(h, text, n);
  http_put(h, "\n\n\r\n", 4);
}

void http_event(http_t *h, const char *text) {
  http_event_n(h, text, strlen(text));
}

void http_end_stream(http_t *h) {
  http_event(h, "[DONE]");
  http_put(h, "0\r\n\r\n", 5);
  mlfq_flow_linger(&h->flow);
}

void http_drop(http_t *h) {
  mlfq_flow_linger(&h->flow);
  uv_read_stop((uv_stream_t *)&h->tcp);
  server_dirty(h->sv, &h->flush); /* closes at the flush, even with no output */
}

/* The path of the URL, without the query. */
static int path_is(const http_t *h, const char *path) {
  size_t n = strlen(path);
  const char *u = (const char *)h->url.data;

  return h->url.len >= n && memcmp(u, path, n) == 0 &&
         (h->url.len == n || u[n] == '?');
}

#define OK "{\"status\":\"ok\"}"
#define DRAINING "{\"status\":\"draining\"}"

static void route(http_t *h) {
  static const struct {
    const char *path;
    int method;
  } routes[] = {{"/health", HTTP_GET},
                {"/metrics", HTTP_GET},
                {"/v1/models", HTTP_GET},
                {"/v1/completions", HTTP_POST},
                {"/v1/chat/completions", HTTP_POST}};
  server_t *sv = h->sv;
  mlfq_buf_t b;
  size_t i;
  int rc;

  for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (path_is(h, routes[i].path))
      break;
  if (i == sizeof(routes) / sizeof(routes[0])) {
    http_respond_error(h, 404, NULL, "no such endpoint");
    return;
  }
  if ((int)h->parser.method != routes[i].method) {
    http_respond_error(h, 405,
                       routes[i].method == HTTP_GET ? "Allow: GET\r\n"
                                                    : "Allow: POST\r\n",
                       "method not allowed");
    return;
  }
  switch (i) {
  case 0:
    if (sv->draining)
      respond(h, 503, "application/json", NULL, DRAINING, sizeof(DRAINING) - 1);
    else
      respond(h, 200, "application/json", NULL, OK, sizeof(OK) - 1);
    break;
  case 1:
    mlfq_buf_init(&b, 16 << 20);
    rc = metrics_write(sv, &b);
    if (rc != 0)
      http_respond_error(h, 500, NULL, mlfq_strerror(rc));
    else
      respond(h, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
              (const char *)b.data, b.len);
    mlfq_buf_free(&b);
    break;
  case 2:
    http_respond_json(h, 200, NULL,
                      mlfq_openai_models(sv->opt.model_name, (long)time(NULL)));
    break;
  default:
    completion_start(h, i == 4);
    break;
  }
}

/* ---- parsing ------------------------------------------------------------ */

#define HTTP_OF_PARSER(p) MLFQ_CONTAINER_OF(p, http_t, parser)

/* A bad request: answered, and nothing more is read. */
static int refuse(http_parser *p, int status, const char *msg) {
  http_t *h = HTTP_OF_PARSER(p);

  http_respond_error(h, status, NULL, msg);
  read_done(h);
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

static int on_complete(http_parser *p) {
  http_t *h = HTTP_OF_PARSER(p);

  read_done(h);
  route(h);
  http_parser_pause(p, 1); /* one request per connection */
  return 0;
}

static const http_parser_settings settings = {.on_url = on_url,
                                              .on_header_field = on_field,
                                              .on_header_value = on_value,
                                              .on_headers_complete = on_headers,
                                              .on_body = on_body,
                                              .on_message_complete =
                                                  on_complete};

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  static char scratch[65536]; /* the loop thread's: parsed before reuse */

  (void)handle;
  (void)suggested;
  *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  http_t *h = MLFQ_CONTAINER_OF((uv_tcp_t *)s, http_t, tcp);
  size_t n;

  if (nread == 0)
    return;
  if (nread < 0) { /* the client went: its jobs go with it */
    http_close(h);
    server_pump(h->sv);
    return;
  }
  if (h->complete)
    return; /* read only to see the client go */
  n = http_parser_execute(&h->parser, &settings, buf->base, (size_t)nread);
  if (!h->complete &&
      (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK || n != (size_t)nread)) {
    read_done(h);
    http_respond_error(h, 400, NULL,
                       http_errno_description(HTTP_PARSER_ERRNO(&h->parser)));
  }
  server_pump(h->sv);
}

/* ---- connections -------------------------------------------------------- */

static void http_close(http_t *h) {
  if (h->closing)
    return;
  h->closing = 1;
  mlfq_deadline_cancel(&h->read_due);
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
  mlfq_list_push_tail(&d->conns, &h->link);
  d->n++;
  mlfq_list_init(&h->flush.link);
  h->flush.flush = on_flush;
  mlfq_buf_init(&h->url, URL_MAX);
  mlfq_buf_init(&h->field, HEADER_MAX);
  mlfq_buf_init(&h->value, HEADER_MAX);
  mlfq_buf_init(&h->body, sv->opt.http_max_body_bytes);
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
    read_done(h);
    http_respond_error(h, server_err_http(SERVER_ERR_TOO_MANY_CONNECTIONS),
                       NULL, "too many connections (max-connections)");
    server_pump(sv);
    return;
  }
  if (uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read) != 0)
    http_close(h);
  else
    mlfq_deadline_set(&d->reads, &h->read_due);
}

/* door->reads: h's request was not read whole in time. */
static void on_read_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  http_t *h = MLFQ_CONTAINER_OF(d, http_t, read_due);

  (void)ds;
  read_done(h);
  mlfq_log_peer(MLFQ_LOG_INFO, "http %llu %s: no whole request within %g s",
                (unsigned long long)h->id, h->peer,
                h->sv->opt.http_read_timeout_s);
  http_respond_error(
      h, 408, NULL, "the request was not received in time (http-read-timeout)");
  server_pump(h->sv);
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
    sv->http = d;
  }
  rc = mlfq_tcp_listen(sv->loop, &d->listener, &d->listening, host, port,
                       on_connection, bound, boundlen, err, errlen);
  if (rc == 0) {
    rc = mlfq_deadlines_init(&d->reads, sv->loop,
                             (uint64_t)(sv->opt.http_read_timeout_s * 1e3),
                             on_read_due);
    if (rc != 0)
      snprintf(err, errlen, "HTTP read timer: %s", uv_strerror(rc));
  }
  return rc;
}

int http_listening(const http_door_t *d) { return d != NULL && d->listening; }

size_t http_conns(const http_door_t *d) { return d != NULL ? d->n : 0; }

void http_stop_listening(http_door_t *d) {
  if (d == NULL || !d->listening)
    return;
  uv_close((uv_handle_t *)&d->listener, NULL);
  mlfq_deadlines_close(&d->reads);
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
      uv_read_stop((uv_stream_t *)&h->tcp);
    }
  }
}

void http_free(http_door_t *d) { free(d); }
