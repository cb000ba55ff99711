/* mlfqd's HTTP front door (docs/HTTP.md) against a real daemon: every
 * endpoint through curl, the status codes of errors and limits, Figure 6
 * streamed over HTTP (token order and timing), a client that disconnects,
 * malformed requests, the read timeout, and a scrape checked by promtool. Every
 * wait has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"

#define CURL "/usr/bin/curl"

typedef struct {
  mlfq_test_daemon_t d;
  int port; /* HTTP */
  char base[64];
} hd_t;

/* Starts mlfqd with HTTP on a free port and the options in args. */
static void hd_start(hd_t *h, const char *const *args) {
  const char *argv[48];
  const char *pf = mlfq_test_tmpfile(".port", "");
  char path[256], *text, *colon;
  int k = 0;

  snprintf(path, sizeof(path), "%s", pf);
  argv[k++] = "--http-listen";
  argv[k++] = "127.0.0.1:0";
  argv[k++] = "--http-port-file";
  argv[k++] = path;
  while (args != NULL && *args != NULL && k < 46)
    argv[k++] = *args++;
  argv[k] = NULL;
  mlfq_test_daemon_start(&h->d, argv);
  text = mlfq_test_slurp(path); /* written before the daemon says ready */
  colon = strrchr(text, ':');
  ASSERT(colon != NULL);
  h->port = atoi(colon + 1);
  ASSERT_GT(h->port, 0);
  free(text);
  unlink(path);
  snprintf(h->base, sizeof(h->base), "http://127.0.0.1:%d", h->port);
}

/* curl: method, path, body (NULL: none); returns the status code and the
 * body in *out (malloc'ed). */
static int curl(const hd_t *h, const char *method, const char *path,
                const char *body, char **out) {
  char url[256], *err = NULL;
  char *argv[16];
  int k = 0, rc, status;
  char *nl;

  snprintf(url, sizeof(url), "%s%s", h->base, path);
  argv[k++] = CURL;
  argv[k++] = "-s";
  argv[k++] = "-N";
  argv[k++] = "-X";
  argv[k++] = (char *)method;
  argv[k++] = "-w";
  argv[k++] = "\n%{http_code}";
  if (body != NULL) {
    argv[k++] = "-H";
    argv[k++] = "Content-Type: application/json";
    argv[k++] = "--data-binary";
    argv[k++] = (char *)body;
  }
  argv[k++] = url;
  argv[k] = NULL;
  rc = mlfq_test_run(argv, out, &err, 30);
  free(err);
  ASSERT_EQ(rc, 0);
  nl = strrchr(*out, '\n');
  ASSERT(nl != NULL);
  status = atoi(nl + 1);
  *nl = '\0';
  return status;
}

/* The error body's message, checked for OpenAI's shape. */
static void assert_error(const char *body, int code) {
  cJSON *o = cJSON_Parse(body), *e;

  ASSERT(o != NULL);
  e = cJSON_GetObjectItemCaseSensitive(o, "error");
  ASSERT(cJSON_IsObject(e));
  ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
  ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type")));
  ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "param")));
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e, "code")->valueint, code);
  cJSON_Delete(o);
}

static double num_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

  if (b != NULL)
    x = cJSON_GetObjectItemCaseSensitive(x, b);
  ASSERT(cJSON_IsNumber(x));
  return x->valuedouble;
}

TEST(http, health_models_metrics) {
  const char *args[] = {"--model-name", "opt-1.3b", NULL};
  char *out;
  cJSON *o, *m;
  hd_t h;

  hd_start(&h, args);
  ASSERT_EQ(curl(&h, "GET", "/health", NULL, &out), 200);
  ASSERT_STR_EQ(out, "{\"status\":\"ok\"}");
  free(out);
  ASSERT_EQ(curl(&h, "GET", "/v1/models", NULL, &out), 200);
  o = cJSON_Parse(out);
  ASSERT(o != NULL);
  m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "data"), 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(m, "id")->valuestring,
                "opt-1.3b");
  cJSON_Delete(o);
  free(out);
  ASSERT_EQ(curl(&h, "GET", "/metrics", NULL, &out), 200);
  ASSERT_CONTAINS(out, "# TYPE vllm:num_requests_running gauge\n");
  ASSERT_CONTAINS(out, "vllm:num_requests_waiting{model_name=\"opt-1.3b\"} 0");
  ASSERT_CONTAINS(out, "# TYPE vllm:e2e_request_latency_seconds histogram");
  ASSERT_CONTAINS(out, "mlfqd_queue_length{level=\"4\"} 0");
  ASSERT_CONTAINS(out, "policy=\"mlfq\"");
  free(out);
  ASSERT_EQ(curl(&h, "GET", "/nowhere", NULL, &out), 404);
  assert_error(out, 404);
  free(out);
  ASSERT_EQ(curl(&h, "GET", "/v1/completions", NULL, &out), 405);
  assert_error(out, 405);
  free(out);
  ASSERT_EQ(curl(&h, "POST", "/health", "{}", &out), 405);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

TEST(http, completions_plain) {
  const char *args[] = {"--decode-ms", "1", "--prefill-ms-per-token", "0.01",
                        NULL};
  char *out;
  cJSON *o, *c;
  hd_t h;

  hd_start(&h, args);
  ASSERT_EQ(curl(&h, "POST", "/v1/completions",
                 "{\"model\":\"mlfqd\",\"prompt\":\"one two  three\","
                 "\"max_tokens\":5}",
                 &out),
            200);
  o = cJSON_Parse(out);
  ASSERT(o != NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(o, "object")->valuestring,
                "text_completion");
  c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring,
                " tok tok tok tok tok");
  ASSERT_STR_EQ(
      cJSON_GetObjectItemCaseSensitive(c, "finish_reason")->valuestring,
      "length");
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 3);
  ASSERT_EQ(num_at(o, "usage", "completion_tokens"), 5);
  ASSERT_EQ(num_at(o, "usage", "total_tokens"), 8);
  cJSON_Delete(o);
  free(out);

  /* Token ids count exactly; mlfq_input_length overrides; max_tokens
   * defaults to --http-max-tokens (16). */
  ASSERT_EQ(curl(&h, "POST", "/v1/completions", "{\"prompt\":[1,2,3,4]}", &out),
            200);
  o = cJSON_Parse(out);
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 4);
  ASSERT_EQ(num_at(o, "usage", "completion_tokens"), 16);
  cJSON_Delete(o);
  free(out);
  ASSERT_EQ(curl(&h, "POST", "/v1/completions",
                 "{\"prompt\":\"x\",\"mlfq_input_length\":300,"
                 "\"max_tokens\":1}",
                 &out),
            200);
  o = cJSON_Parse(out);
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 300);
  cJSON_Delete(o);
  free(out);

  ASSERT_EQ(curl(&h, "POST", "/v1/chat/completions",
                 "{\"messages\":[{\"role\":\"system\",\"content\":\"be "
                 "brief\"},{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"text\",\"text\":\"hello there world\"}]}],"
                 "\"max_completion_tokens\":2}",
                 &out),
            200);
  o = cJSON_Parse(out);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(o, "object")->valuestring,
                "chat.completion");
  c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
  c = cJSON_GetObjectItemCaseSensitive(c, "message");
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(c, "role")->valuestring,
                "assistant");
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(c, "content")->valuestring,
                " tok tok");
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 5);
  cJSON_Delete(o);
  free(out);

  /* What went through the scheduler, in /metrics. */
  ASSERT_EQ(curl(&h, "GET", "/metrics", NULL, &out), 200);
  ASSERT_CONTAINS(out, "vllm:generation_tokens_total{model_name=\"mlfqd\"} 24");
  ASSERT_CONTAINS(out, "vllm:prompt_tokens_total{model_name=\"mlfqd\"} 312");
  ASSERT_CONTAINS(out, "vllm:e2e_request_latency_seconds_count{model_name="
                       "\"mlfqd\"} 4");
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

TEST(http, bad_requests) {
  static const struct {
    const char *path, *body;
    int status;
  } cases[] = {
      {"/v1/completions", "{not json", 400},
      {"/v1/completions", "[1,2]", 400},
      {"/v1/completions", "{}", 400},
      {"/v1/completions", "{\"prompt\":7}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2.5}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":5000}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"stream\":\"yes\"}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"n\":2}", 400},
      {"/v1/completions", "{\"prompt\":\"a\",\"model\":\"gpt-4\"}", 404},
      {"/v1/completions", "{\"prompt\":\"a\",\"mlfq_input_length\":9999}", 400},
      /* A plain response over --max-queued-bytes (16 KiB here). */
      {"/v1/completions",
       "{\"prompt\":[\"a\",\"b\",\"c\",\"d\"],\"max_tokens\":1000}", 400},
      {"/v1/chat/completions", "{\"messages\":[]}", 400},
      {"/v1/chat/completions", "{\"messages\":[{\"content\":\"x\"}]}", 400},
      {"/v1/chat/completions",
       "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400},
  };
  const char *args[] = {"--max-output-length",
                        "1000",
                        "--max-input-length",
                        "1000",
                        "--http-max-body-bytes",
                        "1024",
                        "--max-queued-bytes",
                        "16384",
                        NULL};
  char *out, big[2048];
  size_t i;
  hd_t h;

  hd_start(&h, args);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_EQ(curl(&h, "POST", cases[i].path, cases[i].body, &out),
              cases[i].status);
    assert_error(out, cases[i].status);
    free(out);
  }
  /* 413: a body over --http-max-body-bytes. */
  memset(big, ' ', sizeof(big) - 1);
  big[0] = '{';
  big[sizeof(big) - 2] = '}';
  big[sizeof(big) - 1] = '\0';
  ASSERT_EQ(curl(&h, "POST", "/v1/completions", big, &out), 413);
  assert_error(out, 413);
  free(out);
  /* Nothing of that reached the scheduler; the server still serves. */
  ASSERT_EQ(curl(&h, "POST", "/v1/completions",
                 "{\"prompt\":\"a\",\"max_tokens\":1}", &out),
            200);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* ---- a raw HTTP client, for streams and timing -------------------------- */

static int64_t now_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int http_connect(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ASSERT_GE(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

static void send_all(int fd, const char *p, size_t n) {
  ssize_t w;

  while (n > 0) {
    w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    ASSERT_GT(w, 0);
    p += w;
    n -= (size_t)w;
  }
}

static void post(int fd, const char *path, const char *body) {
  char head[512];

  snprintf(head, sizeof(head),
           "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
           "application/json\r\nContent-Length: %zu\r\n\r\n",
           path, strlen(body));
  ASSERT_LT(strlen(head) + strlen(body), 4096);
  {
    char all[4096];

    snprintf(all, sizeof(all), "%s%s", head, body);
    send_all(fd, all, strlen(all)); /* one write: one read, one arrival */
  }
}

/* Reads fd until it closes (within timeout_ms); each read's bytes are
 * stamped. Returns the bytes (NUL-terminated, malloc'ed); stamps[i] is
 * when byte i arrived, in us. */
static char *read_all(int fd, int64_t **stamps, size_t *len, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  size_t cap = 1 << 16, n = 0, i;
  char *buf = malloc(cap);
  int64_t *ts = malloc(cap * sizeof(*ts)), t;
  struct pollfd p;
  ssize_t r;

  ASSERT(buf != NULL && ts != NULL);
  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    ASSERT_GT(poll(&p, 1, tc_left_ms(deadline)), 0);
    if (n + 4096 > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ts = realloc(ts, cap * sizeof(*ts));
      ASSERT(buf != NULL && ts != NULL);
    }
    r = recv(fd, buf + n, cap - n - 1, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    t = now_us();
    for (i = 0; i < (size_t)r; i++)
      ts[n + i] = t;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *stamps = ts;
  *len = n;
  return buf;
}

/* Figure 6 as one completion with three prompts (J1 5 words, J2 1, J3 2;
 * 2 tokens each), so the three jobs arrive together as in the paper; the
 * linear model at 1 ms per unit and time scale 20. Each token's event
 * must come in the policy's order, at its model time (docs/MODEL.md, "Figure
 * 6") times 20 ms after the request, within 15 ms. */
static void figure6_over_http(const char *policy, const int *order,
                              const int *times) {
  const char *args[] = {"--policy",
                        policy,
                        "--prefill-ms-per-token",
                        "1",
                        "--decode-ms",
                        "1",
                        "--quantum-ms",
                        "1",
                        "--time-scale",
                        "20",
                        NULL};
  const char *p, *body = "{\"prompt\":[\"a b c d e\",\"a\",\"a b\"],"
                         "\"max_tokens\":2,\"stream\":true}";
  int64_t *stamps, t0;
  size_t len, k = 0;
  char *out;
  int fd;
  hd_t h;

  hd_start(&h, args);
  fd = http_connect(h.port);
  t0 = now_us();
  post(fd, "/v1/completions", body);
  out = read_all(fd, &stamps, &len, 10000);
  close(fd);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_CONTAINS(out, "Content-Type: text/event-stream\r\n");
  ASSERT_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
  for (p = strstr(out, "data: {"); p != NULL; p = strstr(p + 1, "data: {")) {
    const char *ix = strstr(p, "\"index\":");
    double ms = (double)(stamps[p - out] - t0) / 1000;

    ASSERT(ix != NULL);
    ASSERT_LT(k, 6);
    ASSERT_EQ(atoi(ix + 8), order[k]);
    ASSERT_NEAR(ms, times[k] * 20.0, 15.0);
    k++;
  }
  ASSERT_EQ(k, 6);
  ASSERT_CONTAINS(out, "data: [DONE]\n\n\r\n0\r\n\r\n");
  free(out);
  free(stamps);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

TEST(http, figure6_stream_mlfq) {
  /* J2 T1, J3 T1, J2 T2, J3 T2, J1 T1, J1 T2 (prompt indices 1, 2, 0). */
  static const int order[] = {1, 2, 1, 2, 0, 0};
  static const int times[] = {1, 3, 4, 5, 10, 11};

  figure6_over_http("mlfq", order, times);
}

TEST(http, figure6_stream_fcfs) {
  static const int order[] = {0, 0, 1, 1, 2, 2};
  static const int times[] = {5, 6, 7, 8, 10, 11};

  figure6_over_http("fcfs", order, times);
}

/* The chat stream: the role comes in the first chunk, usage at the end
 * when asked for. */
TEST(http, chat_stream_usage) {
  const char *args[] = {"--decode-ms", "1", "--prefill-ms-per-token", "0.01",
                        NULL};
  int64_t *stamps;
  char *out;
  size_t len;
  int fd;
  hd_t h;

  hd_start(&h, args);
  fd = http_connect(h.port);
  post(fd, "/v1/chat/completions",
       "{\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}],"
       "\"max_tokens\":3,\"stream\":true,\"stream_options\":"
       "{\"include_usage\":true}}");
  out = read_all(fd, &stamps, &len, 10000);
  close(fd);
  ASSERT_CONTAINS(out, "\"object\":\"chat.completion.chunk\"");
  ASSERT_CONTAINS(out,
                  "\"delta\":{\"role\":\"assistant\",\"content\":\" tok\"}");
  ASSERT_CONTAINS(out, "\"finish_reason\":\"length\"");
  ASSERT_CONTAINS(out, "\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                       "\"completion_tokens\":3,\"total_tokens\":6}");
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A client that goes away mid-stream cancels its jobs. */
TEST(http, disconnect_cancels) {
  const char *args[] = {"--decode-ms", "1", "--prefill-ms-per-token", "0.01",
                        NULL};
  Mlfq__ServerMessage *m;
  char buf[4096];
  tc_client_t *c;
  ssize_t n;
  int fd;
  hd_t h;

  hd_start(&h, args);
  c = tc_open(&h.d, 1);
  fd = http_connect(h.port);
  post(fd, "/v1/completions",
       "{\"prompt\":[\"a\",\"b c\"],\"max_tokens\":1000000,\"stream\":true}");
  n = recv(fd, buf, sizeof(buf), 0); /* the headers, at least */
  ASSERT_GT(n, 0);
  close(fd);
  m = tc_wait_idle(c, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->submitted, 2);
  ASSERT_EQ_U64(m->stats->cancelled, 2);
  ASSERT_EQ_U64(m->stats->completed, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* 429 over --max-pending; 503 while draining, for completions and
 * /health, while the request in flight finishes its stream. A protocol
 * request behind it (fcfs) and far longer keeps the drain open until the
 * test has seen all that, however slowly it runs; then it is cancelled.
 * The first request's two prompts count as one connection's
 * (--max-pending-per-conn). */
TEST(http, overloaded_and_draining) {
  const char *args[] = {"--decode-ms",
                        "20",
                        "--prefill-ms-per-token",
                        "0.01",
                        "--max-pending",
                        "3",
                        "--max-pending-per-conn",
                        "3",
                        "--policy",
                        "fcfs",
                        NULL};
  int64_t *stamps;
  tc_client_t *c;
  char *out;
  size_t len;
  int fd;
  hd_t h;

  hd_start(&h, args);
  c = tc_open(&h.d, 1);
  fd = http_connect(h.port);
  post(fd, "/v1/completions",
       "{\"prompt\":[\"a\",\"b\"],\"max_tokens\":100,\"stream\":true}");
  tc_wait_submitted(c, 2);
  tc_submit(c, 1, 4, 100000); /* 2,000 s, after the stream's 4 s */
  tc_wait_submitted(c, 3);
  ASSERT_EQ(curl(&h, "POST", "/v1/completions", "{\"prompt\":\"a\"}", &out),
            429);
  assert_error(out, 429);
  free(out);
  ASSERT_EQ(kill(h.d.pid, SIGTERM), 0);
  tc_wait_draining(c);
  ASSERT_EQ(curl(&h, "POST", "/v1/completions", "{\"prompt\":\"a\"}", &out),
            503);
  assert_error(out, 503);
  free(out);
  ASSERT_EQ(curl(&h, "GET", "/health", NULL, &out), 503);
  free(out);
  out = read_all(fd, &stamps, &len, 10000);
  close(fd);
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
  tc_cancel(c, 1);
  tc_expect_error(c, 1, MLFQ__ERROR_CODE__CANCELLED);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, 0, 10), 0);
}

/* Bytes that are not HTTP get a 400 and lose their connection; the
 * server goes on. */
TEST(http, malformed) {
  static const char *const inputs[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nContent-Length: x\r\n\r\n",
      "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: "
      "chunked\r\n\r\nzz\r\n",
  };
  int64_t *stamps;
  char *out;
  size_t i, len;
  int fd;
  hd_t h;

  hd_start(&h, NULL);
  for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    fd = http_connect(h.port);
    send_all(fd, inputs[i], strlen(inputs[i]));
    out = read_all(fd, &stamps, &len, 5000);
    close(fd);
    ASSERT_CONTAINS(out, "HTTP/1.1 400 Bad Request\r\n");
    free(out);
    free(stamps);
  }
  ASSERT_EQ(curl(&h, "GET", "/health", NULL, &out), 200);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A client that does not send its whole request within --http-read-timeout
 * of connecting (half a header, or nothing) gets 408 and loses its
 * connection, not before the timeout; a request read in time streams
 * on for longer than that; the server goes on. */
TEST(http, read_timeout) {
  const char *args[] = {"--http-read-timeout", "0.3", "--decode-ms", "100",
                        NULL};
  static const char *const partial[] = {"", "GET /health HTTP/1.1\r\nHo"};
  int64_t *stamps, t;
  char *out;
  size_t i, len;
  int fd;
  hd_t h;

  hd_start(&h, args);
  for (i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
    t = tc_now_ms();
    fd = http_connect(h.port);
    send_all(fd, partial[i], strlen(partial[i]));
    out = read_all(fd, &stamps, &len, 10000);
    close(fd);
    ASSERT_CONTAINS(out, "HTTP/1.1 408 Request Timeout\r\n");
    ASSERT_CONTAINS(out, "http-read-timeout");
    ASSERT_GE(tc_now_ms() - t, 250); /* the loop's clock may lag a little */
    free(out);
    free(stamps);
  }
  /* 8 tokens at 100 ms: about 0.8 s, well past the timeout. */
  fd = http_connect(h.port);
  post(fd, "/v1/completions",
       "{\"prompt\":\"a b\",\"max_tokens\":8,\"stream\":true}");
  out = read_all(fd, &stamps, &len, 20000);
  close(fd);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
  ASSERT_EQ(curl(&h, "GET", "/health", NULL, &out), 200);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A scrape after some traffic parses with promtool (Debian's prometheus
 * package), and its only remarks are the lint on the colons of vLLM's
 * names (reserved for recording rules, but what vLLM exports). */
TEST(http, metrics_promtool) {
  const char *args[] = {"--decode-ms", "1",        "--prefill-ms-per-token",
                        "0.01",        "--policy", "mlfq",
                        NULL};
  char *argv[] = {"/bin/sh", "-c", NULL, NULL};
  char cmd[512], *out, *err, *line, *save = NULL;
  int lines = 0;
  hd_t h;

  ASSERT(access("/usr/bin/promtool", X_OK) == 0);
  hd_start(&h, args);
  ASSERT_EQ(curl(&h, "POST", "/v1/completions",
                 "{\"prompt\":[\"a b\",\"c\"],\"max_tokens\":20}", &out),
            200);
  free(out);
  snprintf(cmd, sizeof(cmd),
           CURL " -s %s/metrics | /usr/bin/promtool check metrics 2>&1; "
                "echo \"rc=$?\"",
           h.base);
  argv[2] = cmd;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  /* 0: clean; 3: lint remarks only; 1 would be a parse error. */
  ASSERT(strstr(out, "rc=0\n") != NULL || strstr(out, "rc=3\n") != NULL);
  for (line = strtok_r(out, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "rc=", 3) == 0)
      continue;
    lines++;
    if (strncmp(line, "vllm:", 5) != 0 ||
        strstr(line, "metric names should not contain ':'") == NULL)
      MLFQ_TEST_FAIL("promtool: %s", line);
  }
  ASSERT_EQ(lines, 8); /* the eight vllm: families */
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}
