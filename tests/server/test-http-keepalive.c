/* mlfqd's HTTP connections: keep-alive, pipelining, timeouts, the cap. */
/* docs/HTTP.md, "Connections", against a real daemon over raw sockets
 * (hd.h): pipelined requests answered in order (a stream among plain
 * ones), one connection reused for many requests, "Connection: close" and
 * HTTP/1.0 honoured, the idle timeout, --http-max-requests, a client that
 * leaves mid-pipeline; and HEAD, the probing endpoints, Retry-After and
 * param. Every wait has a deadline. */
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "server/hd.h"

#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"

/* Appends a POST of path with body (and extra headers) to b. */
static void put_post(mlfq_buf_t *b, const char *path, const char *body,
                     const char *extra) {
  char head[512];

  snprintf(head, sizeof(head),
           "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           "%sContent-Length: %zu\r\n\r\n",
           path, extra != NULL ? extra : "", strlen(body));
  ASSERT_OK(mlfq_buf_append(b, head, strlen(head)));
  ASSERT_OK(mlfq_buf_append(b, body, strlen(body)));
}

static void put_text(mlfq_buf_t *b, const char *text) {
  ASSERT_OK(mlfq_buf_append(b, text, strlen(text)));
}

static void send_buf(int fd, mlfq_buf_t *b) {
  hd_send_all(fd, (const char *)b->data, b->len);
  mlfq_buf_consume(b, b->len);
}

/* The number at o.a.b of a JSON text. */
static double json_num(const char *text, const char *a, const char *b) {
  cJSON *o = cJSON_Parse(text), *x;
  double v;

  ASSERT(o != NULL);
  x = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b != NULL)
    x = cJSON_GetObjectItemCaseSensitive(x, b);
  ASSERT(cJSON_IsNumber(x));
  v = x->valuedouble;
  cJSON_Delete(o);
  return v;
}

/* Occurrences of what in s. */
static int count(const char *s, const char *what) {
  int k = 0;

  while ((s = strstr(s, what)) != NULL) {
    k++;
    s += strlen(what);
  }
  return k;
}

/* Pipelined requests, all in one write: two, then 40 (completions of
 * distinct lengths, /tokenize, /health and one stream among them), each
 * answered in the order asked, on the one connection. */
TEST(http, pipelined_in_order) {
  const char *args[] = {FAST, "--policy", "mlfq", NULL};
  enum { N = 40, STREAM = 17 };
  hd_resp_t r[N];
  mlfq_buf_t b;
  char body[256];
  int fd, closed, i;
  hd_t h;

  hd_start(&h, args);
  mlfq_buf_init(&b, 1 << 20);
  fd = hd_connect(h.port);
  put_post(&b, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":9}", NULL);
  put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, r, 2, NULL, 10000, &closed), 2);
  ASSERT_EQ(r[0].status, 200);
  ASSERT_EQ(json_num(r[0].body, "usage", "completion_tokens"), 9);
  ASSERT(r[0].keep);
  ASSERT_STR_EQ(r[1].body, "{\"status\":\"ok\"}");
  hd_resp_free(r, 2);

  /* Longer jobs first: in the scheduler's order (mlfq) they would end
   * last, but each waits for the one before it. */
  for (i = 0; i < N; i++) {
    if (i == STREAM) {
      put_post(&b, "/v1/completions",
               "{\"prompt\":\"a b\",\"max_tokens\":5,\"stream\":true}", NULL);
    } else if (i % 5 == 3) {
      snprintf(
          body, sizeof(body), "{\"prompt\":\"%.*s\"}", 2 * (i + 1) - 1,
          "w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w "
          "w w w w w w w w w w w w w w w w w w w w w w w w w w w w");
      put_post(&b, "/tokenize", body, NULL);
    } else if (i % 5 == 4) {
      put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    } else {
      snprintf(body, sizeof(body), "{\"prompt\":\"a\",\"max_tokens\":%d}",
               N + 1 - i);
      put_post(&b, "/v1/completions", body, NULL);
    }
  }
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, r, N, NULL, 20000, &closed), N);
  for (i = 0; i < N; i++) {
    ASSERT_EQ(r[i].status, 200);
    ASSERT(r[i].keep);
    if (i == STREAM) {
      ASSERT(r[i].chunked);
      ASSERT_EQ(count(r[i].body, "\"text\":\" tok\""), 5);
      ASSERT_CONTAINS(r[i].body, "data: [DONE]\n\n");
    } else if (i % 5 == 3) {
      ASSERT_EQ(json_num(r[i].body, "count", NULL), i + 1);
    } else if (i % 5 == 4) {
      ASSERT_STR_EQ(r[i].body, "{\"status\":\"ok\"}");
    } else {
      ASSERT_EQ(json_num(r[i].body, "usage", "completion_tokens"), N + 1 - i);
    }
  }
  hd_resp_free(r, N);
  close(fd);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* One connection carries request after request (each sent once the last
 * is answered); the server counts one HTTP connection (and the protocol
 * client's) all along. */
TEST(http, keepalive_reuse) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  mlfq_buf_t b;
  hd_resp_t r;
  int fd, closed, i;
  hd_t h;

  hd_start(&h, args);
  c = tc_open(&h.d, 1);
  mlfq_buf_init(&b, 1 << 16);
  fd = hd_connect(h.port);
  for (i = 0; i < 300; i++) {
    put_post(&b, "/v1/completions", "{\"prompt\":\"a b c\",\"max_tokens\":2}",
             NULL);
    send_buf(fd, &b);
    ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 10000, &closed), 1);
    ASSERT_EQ(r.status, 200);
    ASSERT(r.keep);
    hd_resp_free(&r, 1);
  }
  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->connections, 2);
  ASSERT_EQ_U64(m->stats->completed, 300);
  mlfq__server_message__free_unpacked(m, NULL);
  close(fd);
  tc_close(c);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* "Connection: close" from an HTTP/1.1 client: that response says so and
 * the connection closes after it; a request pipelined behind it is not
 * answered. */
TEST(http, connection_close_honoured) {
  hd_resp_t r;
  mlfq_buf_t b;
  int fd, closed;
  hd_t h;

  hd_start(&h, NULL);
  mlfq_buf_init(&b, 1 << 16);
  fd = hd_connect(h.port);
  put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
               "GET /version HTTP/1.1\r\nHost: t\r\n\r\n");
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 5000, &closed), 1);
  ASSERT_EQ(r.status, 200);
  ASSERT(!r.keep);
  hd_resp_free(&r, 1);
  hd_expect_eof(fd, 5000);
  close(fd);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* HTTP/1.0: without "Connection: keep-alive" one request and the close;
 * with it the connection goes on; a stream has no chunks and is ended by
 * the close. */
TEST(http, http10) {
  const char *args[] = {FAST, NULL};
  const char *sbody = "{\"prompt\":\"a\",\"max_tokens\":3,\"stream\":true}";
  hd_resp_t r[2];
  char req[512];
  int fd, closed;
  hd_t h;

  hd_start(&h, args);
  fd = hd_connect(h.port);
  hd_send_all(fd, "GET /health HTTP/1.0\r\n\r\n", 24);
  ASSERT_EQ(hd_read_responses(fd, r, 1, NULL, 5000, &closed), 1);
  ASSERT(!r[0].keep);
  hd_resp_free(r, 1);
  hd_expect_eof(fd, 5000);
  close(fd);

  fd = hd_connect(h.port);
  snprintf(req, sizeof(req),
           "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
           "POST /v1/completions HTTP/1.0\r\nConnection: keep-alive\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           strlen(sbody), sbody);
  hd_send_all(fd, req, strlen(req));
  ASSERT_EQ(hd_read_responses(fd, r, 2, NULL, 10000, &closed), 2);
  ASSERT(closed); /* the stream's end */
  ASSERT(r[0].keep);
  ASSERT_STR_EQ(r[0].body, "{\"status\":\"ok\"}");
  ASSERT_EQ(r[1].status, 200);
  ASSERT(!r[1].keep);
  ASSERT(!r[1].chunked);
  ASSERT_EQ(r[1].content_length, -1);
  ASSERT_EQ(count(r[1].body, "data: {"), 3);
  ASSERT_CONTAINS(r[1].body, "data: [DONE]\n\n");
  hd_resp_free(r, 2);
  close(fd);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* --http-idle-timeout: a kept-alive connection with no request closes,
 * not before the timeout; a stream longer than it is not cut. */
TEST(http, idle_timeout) {
  const char *args[] = {"--http-idle-timeout",    "0.3",  "--decode-ms", "100",
                        "--prefill-ms-per-token", "0.01", NULL};
  hd_resp_t r;
  mlfq_buf_t b;
  int64_t t;
  int fd, closed;
  hd_t h;

  hd_start(&h, args);
  mlfq_buf_init(&b, 1 << 16);
  fd = hd_connect(h.port);
  put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 5000, &closed), 1);
  t = tc_now_ms();
  ASSERT(r.keep);
  hd_resp_free(&r, 1);
  hd_expect_eof(fd, 10000);
  ASSERT_GE(tc_now_ms() - t, 250); /* the loop's clock may lag a little */
  close(fd);

  /* 8 tokens at 100 ms: about 0.8 s, well past the idle timeout. */
  fd = hd_connect(h.port);
  put_post(&b, "/v1/completions",
           "{\"prompt\":\"a\",\"max_tokens\":8,\"stream\":true}", NULL);
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 20000, &closed), 1);
  ASSERT(!closed);
  ASSERT_EQ(count(r.body, "data: {"), 8);
  hd_resp_free(&r, 1);
  hd_expect_eof(fd, 10000);
  close(fd);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* --http-max-requests 3: of five pipelined requests three are answered,
 * the third saying "Connection: close", and the connection closes. */
TEST(http, max_requests) {
  const char *args[] = {"--http-max-requests", "3", NULL};
  hd_resp_t r[5];
  mlfq_buf_t b;
  int fd, closed, i;
  hd_t h;

  hd_start(&h, args);
  mlfq_buf_init(&b, 1 << 16);
  fd = hd_connect(h.port);
  for (i = 0; i < 5; i++)
    put_text(&b, "GET /version HTTP/1.1\r\nHost: t\r\n\r\n");
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, r, 5, NULL, 5000, &closed), 3);
  ASSERT(closed);
  ASSERT(r[0].keep && r[1].keep && !r[2].keep);
  hd_resp_free(r, 5);
  close(fd);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A client that goes while the first of three pipelined completions
 * streams cancels it; the two behind it never reach the scheduler. */
TEST(http, disconnect_mid_pipeline_cancels) {
  const char *args[] = {FAST, NULL};
  const char *body = "{\"prompt\":\"a\",\"max_tokens\":1000000,"
                     "\"stream\":true}";
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  mlfq_buf_t b;
  char buf[4096];
  int fd;
  hd_t h;

  hd_start(&h, args);
  c = tc_open(&h.d, 1);
  mlfq_buf_init(&b, 1 << 16);
  fd = hd_connect(h.port);
  put_post(&b, "/v1/completions", body, NULL);
  put_post(&b, "/v1/completions", body, NULL);
  put_post(&b, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":5}", NULL);
  send_buf(fd, &b);
  ASSERT_GT(recv(fd, buf, sizeof(buf), 0), 0); /* the stream has begun */
  tc_wait_submitted(c, 1);
  close(fd);
  m = tc_wait_idle(c, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->submitted, 1);
  ASSERT_EQ_U64(m->stats->cancelled, 1);
  ASSERT_EQ_U64(m->stats->completed, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* More pipelined requests than the input buffer holds (64 KiB), in one
 * write: the server stops reading while it is full, and answers them all,
 * in order. */
TEST(http, pipeline_past_input_buffer) {
  const char *args[] = {"--http-max-requests", "0", NULL};
  enum { N = 3000 }; /* 33 bytes each: 99,000 bytes */
  static hd_resp_t r[N];
  mlfq_buf_t b;
  int fd, closed, i;
  hd_t h;

  hd_start(&h, args);
  mlfq_buf_init(&b, 1 << 20);
  fd = hd_connect(h.port);
  for (i = 0; i < N; i++)
    put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_GT(b.len, 64 * 1024);
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, r, N, NULL, 30000, &closed), N);
  for (i = 0; i < N; i++)
    ASSERT_EQ(r[i].status, 200);
  hd_resp_free(r, N);
  close(fd);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* HEAD on every GET endpoint: the GET's headers and Content-Length, no
 * body (the GET pipelined behind each proves it). HEAD of a POST endpoint
 * is 405, of no endpoint 404, both without a body. */
TEST(http, head) {
  static const char *const paths[] = {"/health", "/version", "/v1/models",
                                      "/v1/models/mlfqd", "/metrics"};
  static const int heads[] = {1, 0};
  hd_resp_t r[2];
  char req[256];
  int fd, closed;
  size_t i;
  hd_t h;

  hd_start(&h, NULL);
  fd = hd_connect(h.port);
  for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    snprintf(req, sizeof(req),
             "HEAD %s HTTP/1.1\r\nHost: t\r\n\r\nGET %s HTTP/1.1\r\nHost: "
             "t\r\n\r\n",
             paths[i], paths[i]);
    hd_send_all(fd, req, strlen(req));
    ASSERT_EQ(hd_read_responses(fd, r, 2, heads, 5000, &closed), 2);
    ASSERT_EQ(r[0].status, 200);
    ASSERT_EQ(r[1].status, 200);
    ASSERT_EQ(r[0].len, 0);
    ASSERT_GT(r[0].content_length, 0);
    ASSERT_EQ(r[1].content_length, (long)r[1].len);
    /* /metrics and the models' "created" may change between the two. */
    if (i < 2)
      ASSERT_EQ(r[0].content_length, r[1].content_length);
    hd_resp_free(r, 2);
  }
  /* Errors to a HEAD have no body either: the GET behind them is read
   * as the next response. */
  snprintf(req, sizeof(req),
           "HEAD /tokenize HTTP/1.1\r\nHost: t\r\n\r\nHEAD /nope "
           "HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: "
           "t\r\n\r\n");
  hd_send_all(fd, req, strlen(req));
  {
    static const int errs[] = {1, 1, 0};
    hd_resp_t e[3];

    ASSERT_EQ(hd_read_responses(fd, e, 3, errs, 5000, &closed), 3);
    ASSERT_EQ(e[0].status, 405);
    ASSERT_EQ(e[0].len, 0);
    ASSERT_EQ(e[1].status, 404);
    ASSERT_EQ(e[1].len, 0);
    ASSERT_EQ(e[2].status, 200);
    ASSERT_CONTAINS(e[2].body, "\"status\"");
    hd_resp_free(e, 3);
  }
  close(fd);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* /tokenize (prompt or messages; the same word the same id), /detokenize,
 * /version, /v1/models/{id} (a name with a slash; another is 404 naming
 * "model"). */
TEST(http, probe_endpoints) {
  const char *args[] = {"--model-name",
                        "facebook/opt-1.3b",
                        "--max-input-length",
                        "100",
                        "--max-output-length",
                        "50",
                        NULL};
  cJSON *o, *t;
  char *out;
  hd_t h;

  hd_start(&h, args);
  ASSERT_EQ(hd_curl(&h, "POST", "/tokenize",
                    "{\"model\":\"facebook/opt-1.3b\",\"prompt\":\"to be  or "
                    "not to be\"}",
                    &out),
            200);
  o = cJSON_Parse(out);
  ASSERT(o != NULL);
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(o, "count")->valueint, 6);
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(o, "max_model_len")->valueint,
            150);
  t = cJSON_GetObjectItemCaseSensitive(o, "tokens");
  ASSERT_EQ(cJSON_GetArraySize(t), 6);
  ASSERT_EQ(cJSON_GetArrayItem(t, 0)->valueint,
            cJSON_GetArrayItem(t, 4)->valueint); /* "to" */
  ASSERT_NE(cJSON_GetArrayItem(t, 0)->valueint,
            cJSON_GetArrayItem(t, 1)->valueint);
  cJSON_Delete(o);
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/tokenize",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"a b "
                    "c\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                    "\"text\":\"d\"}]}]}",
                    &out),
            200);
  ASSERT_EQ(json_num(out, "count", NULL), 4);
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/tokenize", "{\"prompt\":5}", &out), 400);
  hd_assert_param(out, "prompt");
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/tokenize",
                    "{\"model\":\"gpt-4\",\"prompt\":\"a\"}", &out),
            404);
  hd_assert_param(out, "model");
  free(out);
  ASSERT_EQ(
      hd_curl(&h, "POST", "/detokenize", "{\"tokens\":[7,7,50000]}", &out),
      200);
  ASSERT_STR_EQ(out, "{\"prompt\":\"tok tok tok\"}");
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/detokenize", "{\"tokens\":[-1]}", &out), 400);
  hd_assert_param(out, "tokens");
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/version", NULL, &out), 200);
  ASSERT_CONTAINS(out, "{\"version\":\"");
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/models/facebook/opt-1.3b", NULL, &out),
            200);
  ASSERT_CONTAINS(out, "\"id\":\"facebook/opt-1.3b\",\"object\":\"model\"");
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/models/facebook%2Fopt-1.3b", NULL, &out),
            200);
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/models/gpt-4", NULL, &out), 404);
  hd_assert_error(out, 404);
  hd_assert_param(out, "model");
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* Errors name the field at fault in "param"; malformed JSON names none. */
TEST(http, error_param) {
  static const struct {
    const char *path, *body, *param;
  } cases[] = {
      {"/v1/completions", "{not json", NULL},
      {"/v1/completions", "{}", "prompt"},
      {"/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}", "max_tokens"},
      {"/v1/completions", "{\"prompt\":\"a\",\"n\":3}", "n"},
      {"/v1/completions", "{\"prompt\":\"a\",\"min_tokens\":-1}", "min_tokens"},
      {"/v1/completions", "{\"prompt\":\"a\",\"ignore_eos\":3}", "ignore_eos"},
      {"/v1/completions", "{\"prompt\":\"a\",\"stream\":1}", "stream"},
      {"/v1/completions", "{\"prompt\":\"a\",\"model\":\"x\"}", "model"},
      {"/v1/completions", "{\"prompt\":\"a\",\"mlfq_input_length\":0}",
       "mlfq_input_length"},
      {"/v1/chat/completions", "{\"messages\":[]}", "messages"},
      {"/v1/chat/completions",
       "{\"messages\":[{\"role\":\"u\"}],\"max_completion_tokens\":0}",
       "max_completion_tokens"},
  };
  char *out;
  size_t i;
  hd_t h;

  hd_start(&h, NULL);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_GE(hd_curl(&h, "POST", cases[i].path, cases[i].body, &out), 400);
    hd_assert_param(out, cases[i].param);
    free(out);
  }
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* Retry-After on a 429 (--max-pending) and on a 503 (draining). */
TEST(http, retry_after) {
  const char *args[] = {
      "--decode-ms", "20", "--prefill-ms-per-token", "0.01", "--max-pending",
      "1",           NULL};
  tc_client_t *c;
  mlfq_buf_t b;
  hd_resp_t r;
  int fd, busy, closed;
  hd_t h;

  hd_start(&h, args);
  c = tc_open(&h.d, 1);
  mlfq_buf_init(&b, 1 << 16);
  busy = hd_connect(h.port);
  put_post(&b, "/v1/completions",
           "{\"prompt\":\"a\",\"max_tokens\":100000,\"stream\":true}", NULL);
  send_buf(busy, &b);
  tc_wait_submitted(c, 1);
  fd = hd_connect(h.port);
  put_post(&b, "/v1/completions", "{\"prompt\":\"a\"}", NULL);
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 5000, &closed), 1);
  ASSERT_EQ(r.status, 429);
  ASSERT_STR_EQ(r.retry_after, "1");
  ASSERT(r.keep);
  hd_resp_free(&r, 1);
  ASSERT_EQ(kill(h.d.pid, SIGTERM), 0);
  tc_wait_draining(c);
  put_text(&b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
  send_buf(fd, &b);
  ASSERT_EQ(hd_read_responses(fd, &r, 1, NULL, 5000, &closed), 1);
  ASSERT_EQ(r.status, 503);
  ASSERT_STR_EQ(r.retry_after, "1");
  ASSERT(!r.keep); /* a draining server closes after each response */
  hd_resp_free(&r, 1);
  close(fd);
  close(busy); /* its job goes, and with it the drain */
  tc_close(c);
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, 0, 10), 0);
}
