/* mlfqd's memory: Done and Stats report preemptions; too large is refused. */
/* And loadgen's memory rows against such a daemon. */
#include <signal.h>

#include "wire/wire.h"

#include "client.h"

/* srpt, recompute, 210 tokens. A (10 in, 200 out) runs; B (200 in, 2 out)
 * arrives with less remaining time and needs 201 tokens while A holds at
 * least 11: A is evicted, B runs, A recomputes and finishes. */
TEST(memory, daemon_reports_preemptions_and_refuses_too_large) {
  const char *args[] = {"--decode-ms",
                        "1",
                        "--prefill-ms-per-token",
                        "0.01",
                        "--policy",
                        "srpt",
                        "--kv-capacity-tokens",
                        "210",
                        "--on-full",
                        "recompute",
                        NULL};
  mlfq_test_daemon_t d;
  Mlfq__ServerMessage *m;
  tc_client_t *c;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  tc_submit(c, 1, 10, 200);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_TOKEN, 1); /* A has run */
  tc_submit(c, 2, 200, 2);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 2);
  ASSERT_EQ(m->done->preemptions, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(m->done->preemptions, 1);
  ASSERT_EQ_U64(m->done->swapped_tokens, 0);
  ASSERT_EQ(m->done->iterations, 200);
  mlfq__server_message__free_unpacked(m, NULL);
  ASSERT_EQ(c->tokens[1], 200);

  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->preemptions, 1);
  ASSERT_EQ_U64(m->stats->swapped_tokens, 0);
  ASSERT_EQ_U64(m->stats->kv_used_tokens, 0);
  ASSERT_GT(m->stats->kv_peak_tokens, 200);
  ASSERT_LE_U64(m->stats->kv_peak_tokens, 210);
  ASSERT_EQ_U64(m->stats->config->kv_capacity_tokens, 210);
  ASSERT_STR_EQ(m->stats->config->on_full, "recompute");
  mlfq__server_message__free_unpacked(m, NULL);

  tc_submit(c, 3, 200, 11);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_ERROR, 3);
  ASSERT_EQ(m->error->code, MLFQ__ERROR_CODE__INVALID_REQUEST);
  ASSERT_CONTAINS(m->error->message, "needs 211 KV tokens");
  ASSERT_CONTAINS(m->error->message, "capacity is 210");
  mlfq__server_message__free_unpacked(m, NULL);
  tc_run(c, 4, 10, 3); /* the connection goes on */
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* loadgen against a daemon with a KV capacity: the memory rows (the peak
 * from a final Stats), the per-job columns, and a model replay that
 * includes the KV cache. */
TEST(memory, loadgen_reports_memory) {
  const char *args[] = {
      "--decode-ms", "0.2",  "--prefill-ms-per-token", "0.002",
      "--max-batch", "4",    "--kv-capacity-tokens",   "300",
      "--on-full",   "swap", "--swap-ms-per-token",    "0.0001",
      NULL};
  char dir[] = "/tmp/mlfq-mem-lg-XXXXXX", jobs[256], cmd[300], line[256];
  char *argv[] = {MLFQ_BIN_DIR "/loadgen",
                  "--server",
                  NULL,
                  "--input-len",
                  "uniform:1:120",
                  "--output-len",
                  "uniform:1:40",
                  "--num-requests",
                  "60",
                  "--rate",
                  "inf",
                  "--quiet",
                  "--jobs-csv",
                  jobs,
                  NULL};
  unsigned long long peak;
  mlfq_test_daemon_t d;
  char *out, *text;

  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  mlfq_test_daemon_start(&d, args);
  argv[2] = d.addr;
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  mlfq_test_find_line(out, "preemptions  ", line, sizeof(line));
  mlfq_test_find_line(out, "swapped tokens", line, sizeof(line));
  mlfq_test_find_line(out, "KV peak (tokens)", line, sizeof(line));
  ASSERT_EQ(sscanf(line, "KV peak (tokens) %llu", &peak), 1);
  ASSERT_GT(peak, 0);
  ASSERT_LE_U64(peak, 300);
  ASSERT_CONTAINS(out, "model error: mean JCT");
  text = mlfq_test_slurp(jobs);
  *strchr(text, '\n') = '\0';
  ASSERT_STR_EQ(text, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms,status,preemptions,"
                      "swapped_tokens");
  free(text);
  free(out);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}
