/* Fuzzes the daemon's HTTP front door end to end, in process: two real
 * servers (server/server.c, http.c, common/http/openai.c; fzserver.c) listening
 * for HTTP on 127.0.0.1, on one libuv loop, started once. Each input is one
 * HTTP client connection.
 *
 * Input: byte 0 is control: bit 0 picks the server (variant 0 or 1, see
 * fzserver.h), bit 1 closes the client as soon as response bytes arrive
 * (it goes mid-stream), bit 2 half-closes after the bytes, bit 3 writes
 * them in pieces of 1 + (byte 0 >> 4) bytes with the loop run between
 * them (otherwise all at once). The rest is written to the socket as it
 * is: one request, or several pipelined. The client reads until the server
 * closes, or, without a half-close, until the server is idle with every
 * byte read and what it sent ends with a whole response (or is nothing).
 *
 * What the server sent must parse as HTTP/1.1 responses: final responses
 * of known statuses, each at most after one 100 Continue, nothing after
 * one that says "Connection: close", no body in the answer to a HEAD
 * (which requests are HEADs: the input parsed as requests), every JSON
 * body valid JSON, each server-sent event JSON or [DONE] ([DONE] last);
 * a client that neither left early nor half-closed and saw the server
 * close has the last response whole. After each input the connection must be
 * gone, nothing in flight, and the server still listening; every 64 inputs a
 * fresh GET /health must get "HTTP/1.1 200". A hang aborts. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <cJSON.h>
#include <http_parser.h>

#include "fzserver.h"
#include "harness.h"

static struct {
  int ready;
  uv_loop_t loop;
  server_t sv[2];
  int port[2];
  unsigned long inputs;
  /* Whether each request of the input is a HEAD, whose response has no
   * body (requests); the server answers them in order. */
  unsigned char head[4096];
  size_t nhead;
} g;

static void start(void) {
  int v, port;

  fz_quiet();
  if (uv_loop_init(&g.loop) != 0)
    fz_die("loop");
  for (v = 0; v < 2; v++) {
    fz_server_start(&g.sv[v], &g.loop, v, &port);
    fz_server_http(&g.sv[v], &g.port[v]);
  }
  g.ready = 1;
}

/* ---- the server's side of the connection -------------------------------- */

typedef struct {
  int port; /* the client's local port: the server's peer */
  uv_os_fd_t fd;
} find_t;

static void find_one(uv_handle_t *hd, void *arg) {
  find_t *f = arg;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_os_fd_t fd;

  if (hd->type != UV_TCP || uv_is_closing(hd) ||
      uv_tcp_getpeername((uv_tcp_t *)hd, (struct sockaddr *)&ss, &len) != 0 ||
      ss.ss_family != AF_INET || uv_fileno(hd, &fd) != 0)
    return;
  if (ntohs(((struct sockaddr_in *)&ss)->sin_port) == f->port)
    f->fd = fd;
}

/* The local port of the client socket fd. */
static int local_port(int fd) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);

  if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    fz_die("getsockname");
  return ntohs(a.sin_port);
}

/* Bytes the server has not read yet from the connection of the client
 * whose local port is port; SIZE_MAX until the server has accepted it. */
static size_t server_unread(int port) {
  find_t f;

  f.port = port;
  f.fd = -1;
  uv_walk(&g.loop, find_one, &f);
  return f.fd >= 0 ? fz_unread(f.fd) : SIZE_MAX;
}

/* ---- what the client sent ----------------------------------------------- */

static int q_headers(http_parser *p) {
  if (g.nhead < sizeof(g.head))
    g.head[g.nhead++] = p->method == HTTP_HEAD;
  return 0;
}

/* Fills g.head from the requests in data (as far as they parse). */
static void requests(const uint8_t *data, size_t n) {
  static const http_parser_settings qsettings = {.on_headers_complete =
                                                     q_headers};
  http_parser qp;

  g.nhead = 0;
  http_parser_init(&qp, HTTP_REQUEST);
  if (n > 0)
    (void)http_parser_execute(&qp, &qsettings, (const char *)data, n);
}

/* ---- what the server sent ----------------------------------------------- */

typedef struct {
  int is_type; /* the last header field was Content-Type */
  char type[64];
  int status;   /* of the message being read */
  int messages; /* read whole */
  int finals;   /* final (not 1xx) responses begun */
  int conts;    /* 100 Continue since the last final response */
  int closed;   /* a final response said Connection: close */
  int whole;    /* the last final response has been read whole */
  int in_msg;   /* a message has begun and not ended */
  int is_head;  /* the response being read answers a HEAD: no body */
  mlfq_buf_t body;
} check_t;

#define CHECK_OF(p) ((check_t *)(p)->data)

static int r_begin(http_parser *p) {
  CHECK_OF(p)->in_msg = 1;
  return 0;
}

static int r_field(http_parser *p, const char *at, size_t n) {
  CHECK_OF(p)->is_type = n == 12 && strncasecmp(at, "content-type", 12) == 0;
  return 0;
}

static int r_value(http_parser *p, const char *at, size_t n) {
  check_t *c = CHECK_OF(p);

  if (c->is_type)
    snprintf(c->type, sizeof(c->type), "%.*s", (int)n, at);
  return 0;
}

static int r_headers(http_parser *p) {
  static const int known[] = {200, 400, 404, 405, 413, 429, 500, 503};
  check_t *c = CHECK_OF(p);
  size_t i;

  c->status = p->status_code;
  if (p->http_major != 1 || p->http_minor != 1)
    fz_die("a response of HTTP/%u.%u", p->http_major, p->http_minor);
  if (c->closed)
    fz_die("a response after Connection: close");
  if (c->status / 100 == 1) {
    if (c->status != 100 || c->conts++ != 0)
      fz_die("a %d response after %d", c->status, c->messages);
    return 0;
  }
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (c->status == known[i])
      break;
  if (i == sizeof(known) / sizeof(known[0]))
    fz_die("a response of status %d", c->status);
  c->finals++;
  c->conts = 0;
  c->whole = 0;
  c->closed = !http_should_keep_alive(p);
  /* The answer to a HEAD has no body. */
  c->is_head = (size_t)c->finals <= g.nhead && g.head[c->finals - 1];
  return c->is_head;
}

static int r_body(http_parser *p, const char *at, size_t n) {
  if (mlfq_buf_append(&CHECK_OF(p)->body, at, n) != 0)
    fz_die("a response body too large");
  return 0;
}

/* body is server-sent events "data: X\n\n", X JSON or [DONE] (the last),
 * and the comment ": mlfqd late-ms MS\n\n" of a server behind its model
 * (docs/HTTP.md), which a loaded fuzzing machine may see; whole: the
 * stream ended, and [DONE] must have come. */
static void check_events(const mlfq_buf_t *body, int whole) {
  const char *s = (const char *)body->data, *end, *e;
  cJSON *j;
  int done = 0;

  if (body->len == 0) {
    if (whole)
      fz_die("a stream that ended without [DONE]");
    return;
  }
  end = s + body->len;
  while (s < end) {
    if (done)
      fz_die("an event after [DONE]");
    if ((size_t)(end - s) > 16 && memcmp(s, ": mlfqd late-ms ", 16) == 0) {
      e = s + 16;
      while (e < end && ((*e >= '0' && *e <= '9') || *e == '.'))
        e++;
      if (e == s + 16 || end - e < 2 || e[0] != '\n' || e[1] != '\n')
        fz_die("a comment that is not ': mlfqd late-ms MS'");
      s = e + 2;
      continue;
    }
    if ((size_t)(end - s) < 6 || memcmp(s, "data: ", 6) != 0)
      fz_die("an event without 'data: '");
    s += 6;
    e = s;
    while (e + 1 < end && !(e[0] == '\n' && e[1] == '\n'))
      e++;
    if (e + 1 >= end)
      fz_die("an event without its blank line");
    if (e - s == 6 && memcmp(s, "[DONE]", 6) == 0) {
      done = 1;
    } else {
      j = cJSON_ParseWithLength(s, (size_t)(e - s));
      if (j == NULL)
        fz_die("an event that is not JSON: %.*s", (int)(e - s), s);
      cJSON_Delete(j);
    }
    s = e + 2;
  }
  if (whole && !done)
    fz_die("a stream that ended without [DONE]");
}

static int r_complete(http_parser *p) {
  check_t *c = CHECK_OF(p);
  char *text;
  cJSON *j;

  c->messages++;
  c->in_msg = 0;
  if (c->status / 100 != 1) {
    if (c->is_head) {
      if (c->body.len != 0)
        fz_die("a body in the answer to a HEAD");
    } else if (strncmp(c->type, "application/json", 16) == 0) {
      text = malloc(c->body.len + 1);
      if (text == NULL)
        fz_die("out of memory");
      if (c->body.len > 0)
        memcpy(text, c->body.data, c->body.len);
      text[c->body.len] = '\0';
      j = cJSON_Parse(text);
      if (j == NULL)
        fz_die("a %d response whose body is not JSON: %s", c->status, text);
      cJSON_Delete(j);
      free(text);
    } else if (strncmp(c->type, "text/event-stream", 17) == 0) {
      check_events(&c->body, 1);
    } else if (strncmp(c->type, "text/plain", 10) != 0) {
      fz_die("a response of Content-Type '%s'", c->type);
    }
    c->whole = 1;
  }
  mlfq_buf_consume(&c->body, c->body.len);
  c->type[0] = '\0';
  return 0;
}

static const http_parser_settings rsettings = {
    .on_message_begin = r_begin,
    .on_header_field = r_field,
    .on_header_value = r_value,
    .on_headers_complete = r_headers,
    .on_body = r_body,
    .on_message_complete = r_complete,
};

/* Checks everything the server sent on one connection; whole: it must
 * hold the last response whole. Returns whether it ends with a whole
 * final response (or is empty). */
static int check_response(const mlfq_buf_t *in, int whole) {
  http_parser rp;
  check_t c;
  size_t n;

  memset(&c, 0, sizeof(c));
  mlfq_buf_init(&c.body, 1u << 24);
  http_parser_init(&rp, HTTP_RESPONSE);
  rp.data = &c;
  if (in->len > 0) {
    n = http_parser_execute(&rp, &rsettings, (const char *)in->data, in->len);
    if (HTTP_PARSER_ERRNO(&rp) != HPE_OK || n != in->len)
      fz_die("the server sent bad HTTP (%s at byte %zu of %zu)",
             http_errno_name(HTTP_PARSER_ERRNO(&rp)), n, in->len);
  }
  /* The close ends a body without a length (a stream to HTTP/1.0). */
  if (whole && c.in_msg && c.finals > 0)
    (void)http_parser_execute(&rp, &rsettings, NULL, 0);
  /* A stream cut short: its whole events must still be well formed. */
  if (c.finals > 0 && !c.whole &&
      strncmp(c.type, "text/event-stream", 17) == 0) {
    while (c.body.len >= 2 && !(c.body.data[c.body.len - 1] == '\n' &&
                                c.body.data[c.body.len - 2] == '\n'))
      c.body.len--; /* drops an event cut in the middle */
    if (c.body.len < 2)
      c.body.len = 0;
    check_events(&c.body, 0);
  }
  if (whole && (!c.whole || c.in_msg))
    fz_die("the server closed without a whole response (%zu bytes)", in->len);
  mlfq_buf_free(&c.body);
  return !c.in_msg;
}

/* ---- inputs ------------------------------------------------------------- */

static void wait_closed(server_t *sv, uint64_t deadline) {
  while (http_conns(sv->http) != 0) {
    if (fz_now_ms() > deadline)
      fz_die("the server kept a closed connection");
    fz_pump(&g.loop, 1);
  }
}

static void check_alive(server_t *sv, int port) {
  static const char req[] =
      "GET /health HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  fz_peer_t p;

  if (!http_listening(sv->http) || sv->stopping || sv->draining)
    fz_die("the server stopped listening for HTTP");
  g.nhead = 0;
  fz_peer_connect(&p, port);
  if (fz_peer_write(&p, &g.loop, req, sizeof(req) - 1) != 0)
    fz_die("the server dropped a new HTTP client");
  while (!p.eof) {
    if (fz_now_ms() > deadline)
      fz_die("no answer to GET /health");
    fz_pump(&g.loop, 1);
    fz_peer_read(&p);
  }
  if (p.in.len < 12 || memcmp(p.in.data, "HTTP/1.1 200", 12) != 0)
    fz_die("GET /health did not get HTTP/1.1 200");
  check_response(&p.in, 1);
  fz_peer_close(&p);
  wait_closed(sv, deadline);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  size_t off, piece, n;
  server_t *sv;
  fz_peer_t p;
  int v, leave, half, lport, left = 0;

  if (!g.ready)
    start();
  if (size < 1)
    return 0;
  v = data[0] & 1;
  leave = (data[0] & 2) != 0;
  half = (data[0] & 4) != 0;
  piece = (data[0] & 8) ? 1 + (size_t)(data[0] >> 4) : size;
  sv = &g.sv[v];
  requests(data + 1, size - 1);

  fz_peer_connect(&p, g.port[v]);
  lport = local_port(p.fd);
  for (off = 1; off < size; off += n) {
    n = size - off < piece ? size - off : piece;
    if (fz_peer_write(&p, &g.loop, data + off, n) != 0)
      break;
    if (piece < size) {
      fz_pump(&g.loop, 0);
      fz_peer_read(&p);
    }
    if (leave && p.in.len > 0)
      break;
  }
  if (half)
    (void)shutdown(p.fd, SHUT_WR);
  while (!p.eof) {
    if (fz_now_ms() > deadline)
      fz_die("the server neither closed nor went idle");
    if (leave && p.in.len > 0) {
      left = 1;
      break;
    }
    fz_pump(&g.loop, 1);
    fz_peer_read(&p);
    if (p.eof)
      break;
    if (!half && fz_server_idle(sv) && server_unread(lport) == 0 &&
        check_response(&p.in, 0))
      break;
  }
  check_response(&p.in, p.eof && !half && !left);
  fz_peer_close(&p);
  wait_closed(sv, deadline);
  if (sv->inflight != 0 || !mlfq_list_empty(&sv->pending))
    fz_die("requests in flight with no connection");
  while (!fz_server_idle(sv)) {
    if (fz_now_ms() > deadline)
      fz_die("the server did not go idle");
    fz_pump(&g.loop, 1);
  }
  if (++g.inputs % 64 == 1) /* the first input too: replays are short */
    check_alive(sv, g.port[v]);
  return 0;
}
