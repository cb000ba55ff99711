/* mlfqsim's memory options and reports: capacity, on_full, preemptions. */
#include "task.h"

#define SIM MLFQ_BIN_DIR "/mlfqsim"

static void expect_sim_error(char **argv, const char *msg) {
  char *out, *err;

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  ASSERT_CONTAINS(err, msg);
  ASSERT(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
  ASSERT_STR_EQ(out, "");
  free(out);
  free(err);
}

TEST(memory, mlfqsim_bad_values_exit_2) {
  char *a1[] = {SIM, "--on-full", "evict", NULL};
  char *a2[] = {SIM, "--swap-ms-per-token", "-1", NULL};
  char *a3[] = {SIM, "--kv-capacity-tokens", "lots", NULL};
  char *a4[] = {SIM, "--kv-capacity-tokens", "-5", NULL};
  char *a5[] = {
      SIM, "--workload", MLFQ_DATA_DIR "/figure6.csv", "--kv-capacity-tokens",
      "6", NULL};

  expect_sim_error(a1, "--on-full: 'evict' is not defer, recompute or swap");
  expect_sim_error(a2, "--swap-ms-per-token: -1 is not in");
  expect_sim_error(a3, "--kv-capacity-tokens: 'lots' is not a whole number");
  expect_sim_error(a4, "--kv-capacity-tokens:");
  /* J1 (5 + 2 tokens) can never fit in 6 */
  expect_sim_error(a5, "request 0: needs 7 KV tokens (input_length 5 + "
                       "output_length 2), more than the KV capacity of 6");
}

/* The options parse, a small capacity shows in the table, the per-job CSV
 * and the JSON, and the per-job counts add up to the totals. */
TEST(memory, mlfqsim_reports_preemptions) {
  char dir[] = "/tmp/mlfq-mem-XXXXXX", jobs[256], json[256], cmd[300];
  char *argv[] = {SIM,
                  "--workload",
                  MLFQ_DATA_DIR "/appendix_b.csv",
                  "--rate",
                  "20",
                  "--max-batch",
                  "8",
                  "--policy",
                  "fcfs,mlfq",
                  "--kv-capacity-tokens",
                  "4096",
                  "--on-full",
                  "swap",
                  "--swap-ms-per-token",
                  "0.002",
                  "--jobs-csv",
                  jobs,
                  "--json",
                  json,
                  NULL};
  char *out, *text, *line, *save = NULL, *comma, path[300], row[256];
  unsigned long long total_pre = 0, total_sw = 0, a, b;
  unsigned n = 0;

  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(json, sizeof(json), "%s/run.json", dir);
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  ASSERT_CONTAINS(out, "KV cache: 4096 tokens, on full: swap, 0.002 ms per "
                       "token moved\n");
  mlfq_test_find_line(out, "preemptions  ", row, sizeof(row));
  ASSERT_EQ(sscanf(row, "preemptions %llu %llu", &a, &b), 2);
  ASSERT_GT(b, 0); /* mlfq */
  mlfq_test_find_line(out, "KV peak (tokens)", row, sizeof(row));
  ASSERT_CONTAINS(row, "4096");

  snprintf(path, sizeof(path), "%s/jobs-mlfq.csv", dir);
  text = mlfq_test_slurp(path);
  line = strtok_r(text, "\n", &save);
  ASSERT_STR_EQ(line, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms,preemptions,"
                      "swapped_tokens");
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    comma = strrchr(line, ','); /* ...,preemptions,swapped_tokens */
    total_sw += strtoull(comma + 1, NULL, 10);
    *comma = '\0';
    total_pre += strtoull(strrchr(line, ',') + 1, NULL, 10);
    n++;
  }
  ASSERT_EQ(n, 99);
  ASSERT_EQ_U64(total_pre, b);
  ASSERT_GT(total_sw, 0);
  free(text);

  text = mlfq_test_slurp(json);
  ASSERT_CONTAINS(text, "\"kv_capacity_tokens\":\t4096");
  ASSERT_CONTAINS(text, "\"on_full\":\t\"swap\"");
  ASSERT_CONTAINS(text, "\"preemption_rate\":");
  ASSERT_CONTAINS(text, "\"kv_peak_tokens\":\t4096");
  free(text);
  free(out);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}

/* Without a capacity nothing of the memory shows: the output is as it was
 * before the KV cache existed. */
TEST(memory, mlfqsim_without_capacity_unchanged) {
  char *a1[] = {SIM,      "--workload", MLFQ_DATA_DIR "/appendix_b.csv",
                "--rate", "20",         "--policy",
                "all",    NULL};
  char *a2[] = {SIM,
                "--workload",
                MLFQ_DATA_DIR "/appendix_b.csv",
                "--rate",
                "20",
                "--policy",
                "all",
                "--kv-capacity-tokens",
                "0",
                "--on-full",
                "recompute",
                NULL};
  char *o1, *o2;

  ASSERT_EQ(mlfq_test_run(a1, &o1, NULL, 30), 0);
  ASSERT_EQ(mlfq_test_run(a2, &o2, NULL, 30), 0);
  ASSERT_STR_EQ(o1, o2);
  ASSERT(strstr(o1, "preemptions") == NULL);
  ASSERT(strstr(o1, "KV") == NULL);
  free(o1);
  free(o2);
}
