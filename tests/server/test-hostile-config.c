/* Oversized configuration of mlfqd: a long model name, a huge profile. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. */
#include <signal.h>

#include "core/cost.h"

#include "client.h"
#include "server/hd.h"

#define OV_MLFQD MLFQ_BIN_DIR "/mlfqd"
#define OV_PROMTOOL "/usr/bin/promtool"

/* Runs mlfqd with args (NULL-terminated, at most 16) and asserts that it
 * refuses them at start: exit status 2 and a line on stderr that contains
 * why. */
static void ov_refused(const char *const *args, const char *why) {
  char *argv[20], *out = NULL, *err = NULL;
  int k = 0;

  argv[k++] = OV_MLFQD;
  argv[k++] = "--listen";
  argv[k++] = "127.0.0.1:0";
  while (*args != NULL && k < 19)
    argv[k++] = (char *)*args++;
  argv[k] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  ASSERT_CONTAINS(err, why);
  ASSERT_STR_EQ(out, "");
  free(out);
  free(err);
}

/* A shell command's exit status, its output in *out (freed by the caller). */
static int ov_sh(const char *cmd, char **out) {
  char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
  char *err = NULL;
  int rc = mlfq_test_run(argv, out, &err, 60);

  free(err);
  return rc;
}

/* A model name of the longest length (256 bytes), every allowed character
 * in it:
 * /metrics answers 200 with the name whole in every vllm: sample (it
 * answered 500 "value out of range" past ~200 bytes: a 512-byte line
 * buffer held the name twice on _sum/_count), promtool parses it,
 * /v1/models lists it and a completion for it names it. */
TEST(hostile, long_model_name_scrapes) {
  static const char chars[] = "abcXYZ019._-/:+@";
  char name[257], cmd[1024], want[512], *out;
  const char *args[] = {"--model-name", name, NULL};
  hd_t h;
  size_t i;
  int port;

  for (i = 0; i < sizeof(name) - 1; i++)
    name[i] = chars[i % (sizeof(chars) - 1)];
  name[sizeof(name) - 1] = '\0';
  hd_start(&h, args);
  port = h.port;
  snprintf(cmd, sizeof(cmd),
           CURL " -s -o /dev/null -w '%%{http_code}' "
                "http://127.0.0.1:%d/metrics",
           port);
  ASSERT_EQ(ov_sh(cmd, &out), 0);
  ASSERT_STR_EQ(out, "200");
  free(out);
  snprintf(cmd, sizeof(cmd), CURL " -s http://127.0.0.1:%d/metrics", port);
  ASSERT_EQ(ov_sh(cmd, &out), 0);
  snprintf(want, sizeof(want),
           "\nvllm:e2e_request_latency_seconds_count{model_name=\"%s\","
           "engine=\"0\"} 0\n",
           name);
  ASSERT_CONTAINS(out, want);
  snprintf(want, sizeof(want), ",model_name=\"%s\"} 1\n", name);
  ASSERT_CONTAINS(out, want); /* mlfqd_info, last */
  free(out);
  /* promtool (Debian's prometheus package), as http/metrics_promtool
   * uses it: 0 is clean, 3 only the lint on the colons of vLLM's names;
   * "none" where it is not installed. */
  snprintf(cmd, sizeof(cmd),
           "[ -x " OV_PROMTOOL " ] || { echo none; exit 0; }; " CURL
           " -s http://127.0.0.1:%d/metrics | " OV_PROMTOOL
           " check metrics >/dev/null 2>&1; echo $?",
           port);
  ASSERT_EQ(ov_sh(cmd, &out), 0);
  ASSERT(strcmp(out, "0\n") == 0 || strcmp(out, "3\n") == 0 ||
         strcmp(out, "none\n") == 0);
  free(out);
  snprintf(cmd, sizeof(cmd), CURL " -s http://127.0.0.1:%d/v1/models", port);
  ASSERT_EQ(ov_sh(cmd, &out), 0);
  snprintf(want, sizeof(want), "\"id\":\"%s\"", name);
  ASSERT_CONTAINS(out, want);
  free(out);
  snprintf(cmd, sizeof(cmd),
           CURL " -s -H 'Content-Type: application/json' --data-binary "
                "'{\"model\":\"%s\",\"prompt\":\"a\",\"max_tokens\":1}' "
                "http://127.0.0.1:%d/v1/completions",
           name, port);
  ASSERT_EQ(ov_sh(cmd, &out), 0);
  snprintf(want, sizeof(want), "\"model\":\"%s\"", name);
  ASSERT_CONTAINS(out, want);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A name one byte too long, an empty one, and names with a byte that a
 * label value, JSON or a path would have to escape are refused at start,
 * the message naming the option (escaping silently cut a name at 253
 * bytes). */
TEST(hostile, bad_model_name_refused) {
  char name[258];
  const char *longer[] = {"--model-name", name, NULL};
  const char *empty[] = {"--model-name", "", NULL};
  const char *quote[] = {"--model-name", "opt\"1", NULL};
  const char *newline[] = {"--model-name", "opt\n1", NULL};
  const char *space[] = {"--model-name", "opt 1", NULL};
  const char *utf8[] = {"--model-name", "opt-\xc3\xa9", NULL};

  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  ov_refused(longer, "--model-name: 257 bytes long; a model name is 1 to 256");
  ov_refused(empty, "--model-name: 0 bytes long");
  ov_refused(quote, "--model-name: byte 4 (0x22) is not a letter, a digit");
  ov_refused(newline, "--model-name: byte 4 (0x0a)");
  ov_refused(space, "--model-name: byte 4 (0x20)");
  ov_refused(utf8, "--model-name: byte 5 (0xc3)");
}

/* The issue's profiles, of 400,000 and 100,000 rows, are refused at start
 * with the line and the bound: mlfqd took them, then dropped every client
 * after Hello as a slow reader (a 10 MB Welcome), or failed every Stats
 * through a router over three such replicas. A profile within the bound
 * whose Welcome would not fit half of --max-queued-bytes is refused too,
 * naming the option and the size to give; and so are as many engines. */
TEST(hostile, huge_profile_refused) {
  char big[256], mid[256], at[256];
  const char *a400k[] = {"--profile", big, NULL};
  const char *a100k[] = {"--profile", mid, NULL};
  const char *small[] = {"--profile", at, "--max-queued-bytes", "65536", NULL};
  const char *engines[] = {"--workers",          "1024", "--queues", "64",
                           "--max-queued-bytes", "4096", NULL};
  char want[64];

  tc_profile(400000, big, sizeof(big));
  tc_profile(100000, mid, sizeof(mid));
  tc_profile(MLFQ_COST_MAX_ROWS, at, sizeof(at));
  snprintf(want, sizeof(want), ":%d: more than %d rows", MLFQ_COST_MAX_ROWS + 2,
           MLFQ_COST_MAX_ROWS);
  ov_refused(a400k, want);
  ov_refused(a100k, want);
  ov_refused(small, "--max-queued-bytes: a StatsReply would be up to");
  ov_refused(small, "more than half of 65536");
  ov_refused(engines, "engines: 1024, levels: 64), more than half of 4096");
  remove(big);
  remove(mid);
  remove(at);
}
