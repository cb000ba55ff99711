/* mlfqd's HTTP streams: Figure 6 token timing, chat usage, disconnects. */
/* And malformed requests and the read timeout, over a raw HTTP client
 * (hd.h). Every wait has a deadline. */
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "server/hd.h"

/* Figure 6 as one completion with three prompts (J1 5 words, J2 1, J3 2;
 * 2 tokens each), so the three jobs arrive together as in the paper; the
 * linear model at 1 ms per unit and time scale 20. Each token's event
 * must come in the policy's order, at its model time (docs/MODEL.md, "Figure
 * 6") times 20 ms after the request, within 15 ms plus what the machine
 * adds (tc_slack_ns). */
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
  double slack;
  char *out;
  int fd;
  hd_t h;

  hd_start(&h, args);
  fd = hd_connect(h.port);
  t0 = hd_now_us();
  hd_post(fd, "/v1/completions", body);
  out = hd_read_all(fd, &stamps, &len, 10000);
  close(fd);
  slack = 15.0 + (double)tc_slack_ns(&h.d) / 1e6;
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_CONTAINS(out, "Content-Type: text/event-stream\r\n");
  ASSERT_CONTAINS(out, "Transfer-Encoding: chunked\r\n");
  for (p = strstr(out, "data: {"); p != NULL; p = strstr(p + 1, "data: {")) {
    const char *ix = strstr(p, "\"index\":");
    double ms = (double)(stamps[p - out] - t0) / 1000;

    ASSERT(ix != NULL);
    ASSERT_LT(k, 6);
    ASSERT_EQ(atoi(ix + 8), order[k]);
    ASSERT_NEAR(ms, times[k] * 20.0, slack);
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
  fd = hd_connect(h.port);
  hd_post(fd, "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}],"
          "\"max_tokens\":3,\"stream\":true,\"stream_options\":"
          "{\"include_usage\":true}}");
  out = hd_read_all(fd, &stamps, &len, 10000);
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
  fd = hd_connect(h.port);
  hd_post(
      fd, "/v1/completions",
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
    fd = hd_connect(h.port);
    hd_send_all(fd, inputs[i], strlen(inputs[i]));
    out = hd_read_all(fd, &stamps, &len, 5000);
    close(fd);
    ASSERT_CONTAINS(out, "HTTP/1.1 400 Bad Request\r\n");
    free(out);
    free(stamps);
  }
  ASSERT_EQ(hd_curl(&h, "GET", "/health", NULL, &out), 200);
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
    fd = hd_connect(h.port);
    hd_send_all(fd, partial[i], strlen(partial[i]));
    out = hd_read_all(fd, &stamps, &len, 10000);
    close(fd);
    ASSERT_CONTAINS(out, "HTTP/1.1 408 Request Timeout\r\n");
    ASSERT_CONTAINS(out, "http-read-timeout");
    ASSERT_GE(tc_now_ms() - t, 250); /* the loop's clock may lag a little */
    free(out);
    free(stamps);
  }
  /* 8 tokens at 100 ms: about 0.8 s, well past the timeout. */
  fd = hd_connect(h.port);
  hd_post(fd, "/v1/completions",
          "{\"prompt\":\"a b\",\"max_tokens\":8,\"stream\":true}");
  out = hd_read_all(fd, &stamps, &len, 20000);
  close(fd);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
  ASSERT_EQ(hd_curl(&h, "GET", "/health", NULL, &out), 200);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A scrape after some traffic parses with promtool (Debian's prometheus
 * package), and its only remarks are the lint on the colons of vLLM's
 * names (reserved for recording rules, but what vLLM exports). */
