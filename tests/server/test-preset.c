/* mlfqd --preset vllm (docs/HTTP.md, "Preset vllm"). */
/* The values it sets, read back from /metrics and /v1/models; that
 * options given override them wherever they stand; and that it batches
 * up to 256 requests together, no more. Every wait has a deadline. */
#include <signal.h>
#include <unistd.h>

#include "client.h"
#include "server/hd.h"

/* KV tokens of OPT-1.3B in gib GiB at 0.9, less 1,315,758,080 fp16
 * parameters, at 2 * 24 layers * 2048 * 2 bytes a token, in blocks of 16:
 * the formula of docs/HTTP.md, written out again. */
static uint64_t kv_tokens(double gib) {
  double left = gib * 1073741824.0 * 0.9 - 1315758080.0 * 2;

  return (uint64_t)(left / (2.0 * 24 * 2048 * 2)) / 16 * 16;
}

/* The text of /metrics. */
static char *scrape(const hd_t *h) {
  char *out;

  ASSERT_EQ(hd_curl(h, "GET", "/metrics", NULL, &out), 200);
  return out;
}

static void assert_info(const hd_t *h, const char *policy, unsigned batch,
                        uint64_t kv, const char *model) {
  char want[128], *out = scrape(h);

  snprintf(want, sizeof(want), "policy=\"%s\"", policy);
  ASSERT_CONTAINS(out, want);
  snprintf(want, sizeof(want), "max_batch=\"%u\"", batch);
  ASSERT_CONTAINS(out, want);
  snprintf(want, sizeof(want), "kv_capacity_tokens=\"%llu\"",
           (unsigned long long)kv);
  ASSERT_CONTAINS(out, want);
  snprintf(want, sizeof(want), "model_name=\"%s\"}", model);
  ASSERT_CONTAINS(out, want);
  free(out);
}

TEST(http, preset_vllm_values) {
  const char *args[] = {"--preset", "vllm", NULL};
  char *out;
  hd_t h;

  ASSERT_EQ(kv_tokens(40), 183216);
  hd_start(&h, args);
  assert_info(&h, "fcfs", 256, kv_tokens(40), "facebook/opt-1.3b");
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/models", NULL, &out), 200);
  ASSERT_CONTAINS(out, "\"id\":\"facebook/opt-1.3b\"");
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* Options before and after --preset win over it; --gpu-memory-gib sets
 * the capacity it computes, and --kv-capacity-tokens replaces it. */
TEST(http, preset_vllm_overridden) {
  const char *a1[] = {
      "--policy",     "mlfq", "--max-batch",      "8",  "--preset", "vllm",
      "--model-name", "m",    "--gpu-memory-gib", "24", NULL};
  const char *a2[] = {"--kv-capacity-tokens", "5000", "--preset", "vllm", NULL};
  hd_t h;

  hd_start(&h, a1);
  assert_info(&h, "mlfq", 8, kv_tokens(24), "m");
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
  hd_start(&h, a2);
  assert_info(&h, "fcfs", 256, 5000, "facebook/opt-1.3b");
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* The value of a sample in a scrape. */
static double sample(const char *text, const char *prefix) {
  char line[512];

  mlfq_test_find_line(text, prefix, line, sizeof(line));
  return strtod(line + strlen(prefix), NULL);
}

/* 300 prompts arrive together, 60 in each of 5 requests (a request holds
 * at most 64): 256 run together (max_num_seqs), 44 wait; no scrape ever
 * sees more than 256 running; all 300 finish. */
TEST(http, preset_vllm_batches_256) {
  const char *args[] = {"--preset", "vllm", "--time-scale", "5", NULL};
  static const char running[] = "vllm:num_requests_running{model_name="
                                "\"facebook/opt-1.3b\",engine=\"0\"} ";
  static const char waiting[] = "vllm:num_requests_waiting{model_name="
                                "\"facebook/opt-1.3b\",engine=\"0\"} ";
  char body[4096], *out;
  int64_t *stamps, deadline;
  double run, most = 0, wait_at_most = -1;
  size_t len, n = 0;
  int i, fd[5];
  hd_t h;

  n += (size_t)snprintf(body, sizeof(body), "{\"prompt\":[");
  for (i = 0; i < 60; i++)
    n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"a\"",
                          i > 0 ? "," : "");
  snprintf(body + n, sizeof(body) - n, "],\"max_tokens\":40}");
  hd_start(&h, args);
  for (i = 0; i < 5; i++) {
    fd[i] = hd_connect(h.port);
    hd_post(fd[i], "/v1/completions", body);
  }
  deadline = tc_now_ms() + 20000;
  do {
    out = scrape(&h);
    run = sample(out, running);
    if (run > most) {
      most = run;
      wait_at_most = sample(out, waiting);
    }
    free(out);
    ASSERT_LE(run, 256);
  } while (most < 256 && tc_left_ms(deadline) > 0);
  ASSERT_EQ(most, 256);
  ASSERT_EQ(wait_at_most, 44);
  for (i = 0; i < 5; i++) {
    out = hd_read_all(fd[i], &stamps, &len, 30000);
    close(fd[i]);
    ASSERT_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    ASSERT_CONTAINS(out, "\"completion_tokens\":2400");
    free(out);
    free(stamps);
  }
  out = scrape(&h);
  ASSERT_EQ(sample(out, "mlfqd_requests_submitted_total "), 300);
  ASSERT_EQ(sample(out, "mlfqd_preemptions_total "), 0);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}
