/* mlfqd's HTTP front door through curl: endpoints, errors, limits, promtool. */
/* docs/HTTP.md against a real daemon: every endpoint, the status codes of
 * errors and limits, the drain, and a scrape checked by promtool. Every
 * wait has a deadline. */
#include <signal.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "server/hd.h"

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
  ASSERT_EQ(hd_curl(&h, "GET", "/health", NULL, &out), 200);
  ASSERT_STR_EQ(out, "{\"status\":\"ok\"}");
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/models", NULL, &out), 200);
  o = cJSON_Parse(out);
  ASSERT(o != NULL);
  m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "data"), 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(m, "id")->valuestring,
                "opt-1.3b");
  cJSON_Delete(o);
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/metrics", NULL, &out), 200);
  ASSERT_CONTAINS(out, "# TYPE vllm:num_requests_running gauge\n");
  ASSERT_CONTAINS(out, "vllm:num_requests_waiting{model_name=\"opt-1.3b\","
                       "engine=\"0\"} 0");
  ASSERT_CONTAINS(out, "# TYPE vllm:e2e_request_latency_seconds histogram");
  ASSERT_CONTAINS(out, "mlfqd_queue_length{level=\"4\"} 0");
  ASSERT_CONTAINS(out, "policy=\"mlfq\"");
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/nowhere", NULL, &out), 404);
  hd_assert_error(out, 404);
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/v1/completions", NULL, &out), 405);
  hd_assert_error(out, 405);
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/health", "{}", &out), 405);
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
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
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
  ASSERT_EQ(
      hd_curl(&h, "POST", "/v1/completions", "{\"prompt\":[1,2,3,4]}", &out),
      200);
  o = cJSON_Parse(out);
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 4);
  ASSERT_EQ(num_at(o, "usage", "completion_tokens"), 16);
  cJSON_Delete(o);
  free(out);
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
                    "{\"prompt\":\"x\",\"mlfq_input_length\":300,"
                    "\"max_tokens\":1}",
                    &out),
            200);
  o = cJSON_Parse(out);
  ASSERT_EQ(num_at(o, "usage", "prompt_tokens"), 300);
  cJSON_Delete(o);
  free(out);

  ASSERT_EQ(hd_curl(&h, "POST", "/v1/chat/completions",
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
  ASSERT_EQ(hd_curl(&h, "GET", "/metrics", NULL, &out), 200);
  ASSERT_CONTAINS(out, "vllm:generation_tokens_total{model_name=\"mlfqd\","
                       "engine=\"0\"} 24");
  ASSERT_CONTAINS(out, "vllm:prompt_tokens_total{model_name=\"mlfqd\","
                       "engine=\"0\"} 312");
  ASSERT_CONTAINS(out, "vllm:e2e_request_latency_seconds_count{model_name="
                       "\"mlfqd\",engine=\"0\"} 4");
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
    ASSERT_EQ(hd_curl(&h, "POST", cases[i].path, cases[i].body, &out),
              cases[i].status);
    hd_assert_error(out, cases[i].status);
    free(out);
  }
  /* 413: a body over --http-max-body-bytes. */
  memset(big, ' ', sizeof(big) - 1);
  big[0] = '{';
  big[sizeof(big) - 2] = '}';
  big[sizeof(big) - 1] = '\0';
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions", big, &out), 413);
  hd_assert_error(out, 413);
  free(out);
  /* Nothing of that reached the scheduler; the server still serves. */
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
                    "{\"prompt\":\"a\",\"max_tokens\":1}", &out),
            200);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

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
  fd = hd_connect(h.port);
  hd_post(fd, "/v1/completions",
          "{\"prompt\":[\"a\",\"b\"],\"max_tokens\":100,\"stream\":true}");
  tc_wait_submitted(c, 2);
  tc_submit(c, 1, 4, 100000); /* 2,000 s, after the stream's 4 s */
  tc_wait_submitted(c, 3);
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions", "{\"prompt\":\"a\"}", &out),
            429);
  hd_assert_error(out, 429);
  free(out);
  ASSERT_EQ(kill(h.d.pid, SIGTERM), 0);
  tc_wait_draining(c);
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions", "{\"prompt\":\"a\"}", &out),
            503);
  hd_assert_error(out, 503);
  free(out);
  ASSERT_EQ(hd_curl(&h, "GET", "/health", NULL, &out), 503);
  free(out);
  out = hd_read_all(fd, &stamps, &len, 10000);
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
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
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
    /* vLLM's names have colons, and one histogram's ends in _total. */
    if (strncmp(line, "vllm:", 5) == 0 &&
        strstr(line, "metric names should not contain ':'") != NULL)
      lines++;
    else if (strcmp(line, "vllm:iteration_tokens_total non-counter metrics "
                          "should not have \"_total\" suffix") != 0)
      MLFQ_TEST_FAIL("promtool: %s", line);
  }
  ASSERT_EQ(lines, 26); /* the vllm: families */
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}

/* A daemon behind the model says so to HTTP clients: at --time-scale 1e-6
 * a 5.5 ms decode lasts 5.5 ns of wall time, which no loop keeps up with:
 * 30,000 of them are 0.17 ms of wall time, and handling them takes the
 * loop milliseconds on any machine, past the 1 ms floor of a late end
 * (3,000 did not always pass it).
 * A plain answer carries X-Mlfqd-Late-Ms, a stream a comment before its
 * end, and /metrics counts the late iterations and shows the server
 * behind. */
TEST(http, behind_the_model_is_said) {
  const char *args[] = {"--time-scale", "1e-6", NULL};
  const char *body = "{\"prompt\":\"a b\",\"max_tokens\":30000}";
  const char *stream = "{\"prompt\":\"a b\",\"max_tokens\":30000,"
                       "\"stream\":true}";
  char *out, *p;
  int64_t *stamps;
  size_t len;
  hd_t h;
  int fd;

  hd_start(&h, args);
  fd = hd_connect(h.port);
  hd_post(fd, "/v1/completions", body);
  out = hd_read_all(fd, &stamps, &len, 30000);
  close(fd);
  ASSERT_CONTAINS(out, "HTTP/1.1 200 ");
  p = strstr(out, "\r\nX-Mlfqd-Late-Ms: ");
  ASSERT(p != NULL && strstr(out, "\r\n\r\n") > p);
  ASSERT_LT_DBL(0, atof(p + strlen("\r\nX-Mlfqd-Late-Ms: ")));
  free(out);
  free(stamps);

  fd = hd_connect(h.port);
  hd_post(fd, "/v1/completions", stream);
  out = hd_read_all(fd, &stamps, &len, 30000);
  close(fd);
  p = strstr(out, "\n: mlfqd late-ms ");
  ASSERT(p != NULL && strstr(p, "data: [DONE]") != NULL);
  free(out);
  free(stamps);

  ASSERT_EQ(hd_curl(&h, "GET", "/metrics", NULL, &out), 200);
  ASSERT_CONTAINS(out, "\nmlfqd_behind_model 1\n");
  p = strstr(out, "\nmlfqd_late_iterations_total ");
  ASSERT(p != NULL);
  ASSERT_LT_DBL(0, atof(p + strlen("\nmlfqd_late_iterations_total ")));
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}
