/* mlfqd's failure injection (docs/HTTP.md, "Failure injection"). */
/* Each kind at rate 1 against a real daemon: the 429 with Retry-After, the
 * 500, a stream and a plain response cut after exactly the tokens
 * faults.c says, a first token late by at least --fault-slow-ms; and at
 * rate 0.5 the very faults the same seed gives in process, counted in
 * /metrics. Every wait has a deadline. */
#include <signal.h>
#include <unistd.h>

#include "client.h"
#include "faults.h"
#include "server/hd.h"

/* The whole answer to one completion with body, on a connection of its
 * own; *t0 (may be NULL) is when it was sent, in us. */
static char *ask(const hd_t *h, const char *body, int64_t **stamps, size_t *len,
                 int64_t *t0) {
  int fd = hd_connect(h->port);
  char *out;

  if (t0 != NULL)
    *t0 = hd_now_us();
  hd_post(fd, "/v1/completions", body);
  out = hd_read_all(fd, stamps, len, 20000);
  close(fd);
  return out;
}

/* The value of the sample of /metrics that starts with prefix. */
static double metric(const hd_t *h, const char *prefix) {
  char *out, line[512];
  double v;

  ASSERT_EQ(hd_curl(h, "GET", "/metrics", NULL, &out), 200);
  mlfq_test_find_line(out, prefix, line, sizeof(line));
  v = strtod(line + strlen(prefix), NULL);
  free(out);
  return v;
}

static double injected(const hd_t *h, const char *kind) {
  char prefix[128];

  snprintf(prefix, sizeof(prefix), "mlfqd_faults_injected_total{kind=\"%s\"} ",
           kind);
  return metric(h, prefix);
}

static size_t count(const char *s, const char *needle) {
  size_t n = 0;

  for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle))
    n++;
  return n;
}

TEST(http, fault_rate_limit) {
  const char *args[] = {"--fault-rate", "1", "--fault-kinds", "rate-limit",
                        NULL};
  int64_t *stamps;
  size_t len;
  char *out;
  hd_t h;

  hd_start(&h, args);
  out = ask(&h, "{\"prompt\":\"a b\",\"max_tokens\":4}", &stamps, &len, NULL);
  ASSERT_CONTAINS(out, "HTTP/1.1 429 Too Many Requests\r\n");
  ASSERT_CONTAINS(out, "\r\nRetry-After: 1\r\n");
  ASSERT_CONTAINS(out, "\"type\":\"rate_limit_error\"");
  ASSERT_CONTAINS(out, "\"code\":429");
  free(out);
  free(stamps);
  ASSERT_EQ(injected(&h, "rate-limit"), 1);
  ASSERT_EQ(injected(&h, "server-error"), 0);
  ASSERT_EQ(metric(&h, "mlfqd_requests_submitted_total "), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

TEST(http, fault_server_error) {
  const char *args[] = {"--fault-rate", "1", "--fault-kinds", "server-error",
                        NULL};
  char *out;
  hd_t h;

  hd_start(&h, args);
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    &out),
            500);
  hd_assert_error(out, 500);
  ASSERT_CONTAINS(out, "\"type\":\"server_error\"");
  free(out);
  /* A request that fails its checks gets its 400, not a fault. */
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions", "{\"max_tokens\":0}", &out),
            400);
  free(out);
  ASSERT_EQ(injected(&h, "server-error"), 1);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* The drop point of the first request of a daemon with seed and kinds, as
 * faults.c computes it for output tokens. */
static uint64_t drop_point(uint64_t seed, uint64_t output) {
  faults_opts_t o;
  faults_t f;
  fault_t ft;

  faults_opts_init(&o);
  o.rate = 1;
  o.kinds = 1u << FAULT_DROP;
  o.seed = seed;
  faults_init(&f, &o);
  ft = faults_draw(&f);
  ASSERT_EQ(ft.kind, FAULT_DROP);
  return faults_drop_after(&ft, output);
}

/* A stream is cut after k tokens, k the drop point: its chunks stop, the
 * connection closes with neither [DONE] nor the last chunk; a plain
 * response gets nothing at all. The jobs leave the server. */
TEST(http, fault_drop) {
  static const char *const seeds[] = {"1", "5", "9"};
  const char *args[] = {
      "--fault-rate", "1", "--fault-kinds",          "drop", "--seed", NULL,
      "--decode-ms",  "1", "--prefill-ms-per-token", "0.01", NULL};
  int64_t *stamps;
  uint64_t k;
  size_t i, len;
  char *out;
  hd_t h;

  for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
    args[5] = seeds[i];
    hd_start(&h, args);
    k = drop_point(strtoull(seeds[i], NULL, 10), 20);
    ASSERT(k >= 1 && k <= 19);
    out = ask(&h, "{\"prompt\":\"a b\",\"max_tokens\":20,\"stream\":true}",
              &stamps, &len, NULL);
    ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    ASSERT_EQ(count(out, "data: {"), (int64_t)k);
    ASSERT(strstr(out, "[DONE]") == NULL);
    ASSERT(strstr(out, "\r\n0\r\n\r\n") == NULL);
    free(out);
    free(stamps);
    out =
        ask(&h, "{\"prompt\":\"a b\",\"max_tokens\":20}", &stamps, &len, NULL);
    ASSERT_EQ(len, 0);
    free(out);
    free(stamps);
    ASSERT_EQ(injected(&h, "drop"), 2);
    /* Gone from the server: cancelled at the close, or finished if the
     * last token came before the output was written. */
    ASSERT_EQ(metric(&h, "mlfqd_requests_submitted_total "), 2);
    ASSERT_EQ(
        metric(&h,
               "vllm:num_requests_running{model_name=\"mlfqd\",engine=\"0\"} "),
        0);
    ASSERT_EQ(
        metric(&h,
               "vllm:num_requests_waiting{model_name=\"mlfqd\",engine=\"0\"} "),
        0);
    ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
  }
}

/* The first token comes at least --fault-slow-ms after the request (the
 * model's own time is a few ms), and the stream is whole. */
TEST(http, fault_slow_first_token) {
  const char *args[] = {"--fault-rate",
                        "1",
                        "--fault-kinds",
                        "slow-first-token",
                        "--fault-slow-ms",
                        "400",
                        "--decode-ms",
                        "1",
                        "--prefill-ms-per-token",
                        "0.01",
                        NULL};
  int64_t *stamps, t0;
  const char *first;
  double ms;
  size_t len;
  char *out;
  hd_t h;

  hd_start(&h, args);
  out = ask(&h, "{\"prompt\":\"a b\",\"max_tokens\":3,\"stream\":true}",
            &stamps, &len, &t0);
  first = strstr(out, "data: {");
  ASSERT(first != NULL);
  ms = (double)(stamps[first - out] - t0) / 1000;
  ASSERT_GE(ms, 400);
  ASSERT_LT(ms, 400 + 10000);
  ASSERT_EQ(count(out, "data: {"), 3);
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
  ASSERT_EQ(injected(&h, "slow-first-token"), 1);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* Rate 0.5 over 200 requests: the daemon faults exactly the requests that
 * faults.c faults for the same seed, about half, and /metrics counts
 * them. */
TEST(http, fault_rate_half) {
  const char *args[] = {"--fault-rate",
                        "0.5",
                        "--fault-kinds",
                        "rate-limit,server-error",
                        "--seed",
                        "7",
                        "--decode-ms",
                        "1",
                        NULL};
  uint64_t want[FAULT_KINDS] = {0}, got[FAULT_KINDS] = {0};
  faults_opts_t o;
  faults_t f;
  fault_t ft;
  int64_t *stamps;
  size_t len;
  char *out;
  int i;
  hd_t h;

  faults_opts_init(&o);
  o.rate = 0.5;
  o.kinds = (1u << FAULT_RATE_LIMIT) | (1u << FAULT_SERVER_ERROR);
  o.seed = 7;
  faults_init(&f, &o);
  hd_start(&h, args);
  for (i = 0; i < 200; i++) {
    ft = faults_draw(&f);
    want[ft.kind]++;
    out = ask(&h, "{\"prompt\":\"a\",\"max_tokens\":1}", &stamps, &len, NULL);
    if (strncmp(out, "HTTP/1.1 429 ", 13) == 0)
      got[FAULT_RATE_LIMIT]++;
    else if (strncmp(out, "HTTP/1.1 500 ", 13) == 0)
      got[FAULT_SERVER_ERROR]++;
    else if (strncmp(out, "HTTP/1.1 200 ", 13) == 0)
      got[FAULT_NONE]++;
    ASSERT_EQ(ft.kind == FAULT_RATE_LIMIT,
              strncmp(out, "HTTP/1.1 429 ", 13) == 0);
    free(out);
    free(stamps);
  }
  ASSERT_EQ_U64(
      got[FAULT_NONE] + got[FAULT_RATE_LIMIT] + got[FAULT_SERVER_ERROR], 200);
  ASSERT_EQ_U64(got[FAULT_RATE_LIMIT], want[FAULT_RATE_LIMIT]);
  ASSERT_EQ_U64(got[FAULT_SERVER_ERROR], want[FAULT_SERVER_ERROR]);
  /* About half: 100 +- 5 standard deviations (7.1). */
  ASSERT_GE(200 - got[FAULT_NONE], 65);
  ASSERT_LE(200 - got[FAULT_NONE], 135);
  ASSERT_EQ(injected(&h, "rate-limit"), (double)got[FAULT_RATE_LIMIT]);
  ASSERT_EQ(injected(&h, "server-error"), (double)got[FAULT_SERVER_ERROR]);
  ASSERT_EQ(metric(&h, "mlfqd_requests_submitted_total "),
            (double)got[FAULT_NONE]);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* mlfqd refuses a bad fault or preset option with status 2 and a message
 * that names the option and the value. */
TEST(faults, options_refused) {
  static const struct {
    const char *opt, *val, *msg;
  } bad[] = {
      {"--fault-rate", "1.5", "--fault-rate: 1.5 is not in [0, 1]"},
      {"--fault-rate", "half", "--fault-rate: 'half' is not a number"},
      {"--fault-kinds", "drop,slow",
       "--fault-kinds: 'slow' in 'drop,slow' is not rate-limit"},
      {"--fault-slow-ms", "-1", "--fault-slow-ms: -1 is not in"},
      {"--seed", "x", "--seed: "},
      {"--preset", "tgi", "--preset: 'tgi' is not a preset (vllm)"},
      {"--gpu-memory-gib", "24", "--gpu-memory-gib: needs --preset"},
  };
  char *argv[6], *out, *err;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    argv[0] = MLFQ_BIN_DIR "/mlfqd";
    argv[1] = (char *)bad[i].opt;
    argv[2] = (char *)bad[i].val;
    argv[3] = NULL;
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
    ASSERT_CONTAINS(err, bad[i].msg);
    free(out);
    free(err);
  }
  /* The weights of OPT-1.3B do not fit 90% of 2 GiB. */
  argv[1] = "--preset";
  argv[2] = "vllm";
  argv[3] = "--gpu-memory-gib";
  argv[4] = "2";
  argv[5] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  ASSERT_CONTAINS(err, "--gpu-memory-gib: 2 GiB at 90% does not hold");
  free(out);
  free(err);
  /* --help lists them. */
  argv[1] = "--help";
  argv[2] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  ASSERT_CONTAINS(out, "--fault-rate P");
  ASSERT_CONTAINS(out, "--fault-kinds LIST");
  ASSERT_CONTAINS(out, "--preset NAME");
  free(out);
  free(err);
}
