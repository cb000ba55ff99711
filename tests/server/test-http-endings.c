/* mlfqd's natural endings over HTTP (docs/HTTP.md, docs/MODEL.md "Natural
 * endings"): with --output-len a completion ends on its own below
 * max_tokens ("stop", with as many tokens and that usage), min_tokens
 * raises the end, ignore_eos runs to max_tokens ("length"); each prompt
 * draws its own length, in request order, from --seed or from a
 * workload's rows. Every wait has a deadline. */
#include <signal.h>
#include <unistd.h>

#include <cJSON.h>

#include "base/rng.h"
#include "load/lengths.h"
#include "load/workload.h"
#include "server/hd.h"

#define MLFQD MLFQ_BIN_DIR "/mlfqd"

static const char *const fast[] = {"--decode-ms", "1", "--prefill-ms-per-token",
                                   "0.01", NULL};

/* POSTs body to /v1/completions (chat: /v1/chat/completions), expects 200
 * and n choices, and returns the parsed response. */
static cJSON *complete(const hd_t *h, int chat, const char *body, int n) {
  char *out;
  cJSON *o;

  ASSERT_EQ(hd_curl(h, "POST",
                    chat ? "/v1/chat/completions" : "/v1/completions", body,
                    &out),
            200);
  o = cJSON_Parse(out);
  ASSERT(o != NULL);
  free(out);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "choices")),
            n);
  return o;
}

static double usage(const cJSON *o, const char *what) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(o, "usage"), what);

  ASSERT(cJSON_IsNumber(x));
  return x->valuedouble;
}

/* Choice i of o has `tokens` tokens of text and finish_reason why. */
static void expect_choice(const cJSON *o, int i, unsigned tokens,
                          const char *why) {
  const cJSON *c =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), i);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
  char want[4096] = "";
  unsigned k;

  if (t == NULL)
    t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(c, "message"), "content");
  ASSERT(cJSON_IsString(t));
  ASSERT_LT(tokens, 1000);
  for (k = 0; k < tokens; k++)
    strcat(want, " tok");
  ASSERT_STR_EQ(t->valuestring, want);
  ASSERT_STR_EQ(
      cJSON_GetObjectItemCaseSensitive(c, "finish_reason")->valuestring, why);
}

/* One prompt's plain completion: its tokens, finish reason and usage. */
static void expect_plain(const hd_t *h, const char *body, unsigned tokens,
                         const char *why) {
  cJSON *o = complete(h, 0, body, 1);

  expect_choice(o, 0, tokens, why);
  ASSERT_EQ(usage(o, "completion_tokens"), tokens);
  cJSON_Delete(o);
}

/* A streamed completion of one prompt: its token events, the last one's
 * finish reason, and the usage chunk. */
static void expect_stream(const hd_t *h, const char *body, unsigned tokens,
                          const char *why) {
  const char *p;
  char want[64];
  int64_t *stamps;
  unsigned k = 0;
  size_t len;
  char *out;
  int fd;

  fd = hd_connect(h->port);
  hd_post(fd, "/v1/completions", body);
  out = hd_read_all(fd, &stamps, &len, 10000);
  close(fd);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
  for (p = strstr(out, "\"text\":\" tok\""); p != NULL;
       p = strstr(p + 1, "\"text\":\" tok\""))
    k++;
  ASSERT_EQ(k, tokens);
  /* Only the last token's event has a reason. */
  snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", why);
  ASSERT_CONTAINS(out, want);
  p = strstr(out, want);
  ASSERT(strstr(p + 1, "\"finish_reason\":\"") == NULL);
  ASSERT(strstr(out, "\"finish_reason\":\"") == p);
  snprintf(want, sizeof(want), "\"completion_tokens\":%u,", tokens);
  ASSERT_CONTAINS(out, want);
  ASSERT_CONTAINS(out, "data: [DONE]");
  free(out);
  free(stamps);
}

TEST(http, endings_fixed_length) {
  const char *args[] = {fast[0],        fast[1],   fast[2], fast[3],
                        "--output-len", "fixed:3", NULL};
  cJSON *o;
  hd_t h;

  hd_start(&h, args);
  /* Below max_tokens the answer ends on its own. */
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5}", 3, "stop");
  /* At or under its natural length, max_tokens ends it. */
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":3}", 3, "length");
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":2}", 2, "length");
  /* ignore_eos runs to max_tokens. */
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5,\"ignore_eos\":true}",
               5, "length");
  expect_plain(&h, "{\"prompt\":\"a\",\"max_tokens\":5,\"ignore_eos\":false}",
               3, "stop");
  /* min_tokens raises the end, up to max_tokens. */
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5,\"min_tokens\":4}", 4,
               "stop");
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5,\"min_tokens\":5}", 5,
               "length");
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5,\"min_tokens\":2}", 3,
               "stop");
  /* max_tokens absent: --http-max-tokens (16). */
  expect_plain(&h, "{\"prompt\":\"a b\"}", 3, "stop");
  /* Every prompt of a request, and chat. */
  o = complete(&h, 0, "{\"prompt\":[\"a\",\"b c\"],\"max_tokens\":5}", 2);
  expect_choice(o, 0, 3, "stop");
  expect_choice(o, 1, 3, "stop");
  ASSERT_EQ(usage(o, "completion_tokens"), 6);
  ASSERT_EQ(usage(o, "total_tokens"), 9);
  cJSON_Delete(o);
  o = complete(&h, 1,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
               "\"max_completion_tokens\":8}",
               1);
  expect_choice(o, 0, 3, "stop");
  cJSON_Delete(o);
  /* Streams end at the same token, with the same reasons. */
  expect_stream(&h,
                "{\"prompt\":\"a b\",\"max_tokens\":5,\"stream\":true,"
                "\"stream_options\":{\"include_usage\":true}}",
                3, "stop");
  expect_stream(&h,
                "{\"prompt\":\"a b\",\"max_tokens\":5,\"stream\":true,"
                "\"ignore_eos\":true,\"stream_options\":{\"include_usage\":"
                "true}}",
                5, "length");
  expect_stream(&h,
                "{\"prompt\":\"a b\",\"max_tokens\":5,\"stream\":true,"
                "\"min_tokens\":4,\"stream_options\":{\"include_usage\":"
                "true}}",
                4, "stop");
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* Without --output-len every completion runs to max_tokens, as before. */
TEST(http, endings_off_by_default) {
  hd_t h;

  hd_start(&h, fast);
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5}", 5, "length");
  expect_plain(&h, "{\"prompt\":\"a b\",\"max_tokens\":5,\"min_tokens\":1}", 5,
               "length");
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* The k-th prompt accepted gets the k-th draw of --seed's output-length
 * stream, as mlfqsim's k-th request does; max_tokens caps it. */
TEST(http, endings_seeded_in_request_order) {
  const char *args[] = {fast[0],  fast[1],        fast[2],
                        fast[3],  "--output-len", "uniform:1:40",
                        "--seed", "11",           NULL};
  mlfq_lengths_t l;
  mlfq_rng_t rng;
  unsigned want, i, j, stops = 0;
  char err[256];
  cJSON *o;
  hd_t h;

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:1:40", err, sizeof(err)));
  mlfq_rng_seed(&rng, 11, MLFQ_STREAM_OUTPUT_LEN);
  hd_start(&h, args);
  for (i = 0; i < 15; i++) {
    o = complete(&h, 0, "{\"prompt\":[\"a\",\"b\"],\"max_tokens\":30}", 2);
    for (j = 0; j < 2; j++) {
      want = mlfq_lengths_sample(&l, &rng);
      want = want < 30 ? want : 30;
      expect_choice(o, (int)j, want, want < 30 ? "stop" : "length");
      stops += want < 30;
    }
    cJSON_Delete(o);
  }
  /* Both reasons occurred (uniform:1:40 ends 29 times in 40 below 30). */
  ASSERT_GT(stops, 0);
  ASSERT_LT(stops, 30);
  mlfq_lengths_free(&l);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* --output-len file takes the workload's output_length rows in order. */
TEST(http, endings_from_workload_rows) {
  const char *args[] = {fast[0],
                        fast[1],
                        fast[2],
                        fast[3],
                        "--time-scale",
                        "0.01",
                        "--workload",
                        MLFQ_DATA_DIR "/appendix_b.csv",
                        NULL};
  mlfq_workload_t w;
  char err[256], body[128];
  unsigned want, i;
  hd_t h;

  ASSERT_OK(mlfq_workload_load(&w, MLFQ_DATA_DIR "/appendix_b.csv", err,
                               sizeof(err)));
  ASSERT_GT(w.n, 5);
  hd_start(&h, args);
  for (i = 0; i < 5; i++) {
    want = w.reqs[i].output_len;
    snprintf(body, sizeof(body), "{\"prompt\":\"a\",\"max_tokens\":%u}",
             want + 1);
    expect_plain(&h, body, want, "stop");
  }
  mlfq_workload_free(&w);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

static void expect_refused(char **argv, const char *msg) {
  char *out, *err;

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 2);
  ASSERT_CONTAINS(err, msg);
  free(out);
  free(err);
}

TEST(http, endings_bad_options) {
  char *a1[] = {MLFQD, "--output-len", "file", NULL};
  char *a2[] = {MLFQD, "--output-len", "uniform:9", NULL};
  char *a3[] = {MLFQD,
                "--output-len",
                "fixed:2",
                "--workload",
                MLFQ_DATA_DIR "/figure6.csv",
                NULL};
  char *a4[] = {MLFQD, "--workload", "/nonexistent/w.csv", NULL};

  expect_refused(a1, "--output-len file needs --workload");
  expect_refused(a2, "--output-len: bad length spec 'uniform:9'");
  expect_refused(a3, "--workload: only --output-len file reads it");
  expect_refused(a4, "/nonexistent/w.csv");
}

TEST(http, endings_min_tokens_over_max_tokens) {
  char *out;
  hd_t h;

  hd_start(&h, fast);
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
                    "{\"prompt\":\"a\",\"max_tokens\":3,\"min_tokens\":4}",
                    &out),
            400);
  hd_assert_error(out, 400);
  ASSERT_CONTAINS(out, "'min_tokens' must be a whole number from 0 to "
                       "max_tokens (3)");
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}
