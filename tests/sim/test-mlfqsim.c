/* The mlfqsim program, run as a user runs it. */
#include <unistd.h>

#include "load/options.h"

#include "task.h"

#define SIM MLFQ_BIN_DIR "/mlfqsim"

TEST(mlfqsim, figure6_all_policies) {
  char *argv[] = {SIM,
                  "--workload",
                  MLFQ_DATA_DIR "/figure6.csv",
                  "--policy",
                  "all",
                  "--prefill-ms-per-token",
                  "1",
                  "--decode-ms",
                  "1",
                  "--quantum-ms",
                  "1",
                  NULL};
  char *out, *err, line[256];

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  mlfq_test_find_line(out, "JCT mean (ms)", line, sizeof(line));
  ASSERT_STR_EQ(line, "JCT mean (ms)               8.33          10        "
                      "6.67           6");
  mlfq_test_find_line(out, "  ", line, sizeof(line));
  ASSERT_CONTAINS(line, "fcfs  naive-mlfq        mlfq        srpt");
  ASSERT_STR_EQ(err, "");
  free(out);
  free(err);
}

static void expect_bad_workload(const char *text, const char *where) {
  const char *path = mlfq_test_tmpfile(".csv", text);
  char *argv[] = {SIM, "--workload", (char *)path, NULL};
  char *out, *err, want[300];

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  snprintf(want, sizeof(want), "%s%s", path, where);
  ASSERT_CONTAINS(err, want);
  ASSERT_STR_EQ(out, "");
  free(out);
  free(err);
  remove(path);
}

TEST(mlfqsim, bad_workloads_name_file_and_line) {
  expect_bad_workload("input_length\n5\n", ":1:"); /* missing column */
  expect_bad_workload("input_length,output_length\n5,x\n", ":2:"); /* text */
  expect_bad_workload("input_length,output_length\n5,2\n0,2\n", ":3:");
  expect_bad_workload("input_length,output_length\n-4,2\n", ":2:");
  expect_bad_workload("input_length,output_length\n5,99999999999\n", ":2:");
  expect_bad_workload("", ": ");                             /* empty file */
  expect_bad_workload("input_length,output_length\n", ": "); /* header only */
  expect_bad_workload("input_length,output_length\n1,2\n3,4,5\n", ":3:");
}

TEST(mlfqsim, raw_and_clean_appendix_b_agree) {
  char *a1[] = {SIM,      "--workload", MLFQ_DATA_DIR "/appendix_b.csv",
                "--rate", "20",         "--policy",
                "all",    NULL};
  char *a2[] = {SIM,      "--workload", MLFQ_DATA_DIR "/appendix_b_raw.csv",
                "--rate", "20",         "--policy",
                "all",    NULL};
  char *o1, *o2;
  const char *t1, *t2;

  ASSERT_EQ(mlfq_test_run(a1, &o1, NULL, 30), 0);
  ASSERT_EQ(mlfq_test_run(a2, &o2, NULL, 30), 0);
  ASSERT_CONTAINS(o1, "99 requests");
  t1 = strstr(o1, "\n\n");
  t2 = strstr(o2, "\n\n");
  ASSERT(t1 != NULL && t2 != NULL);
  ASSERT_STR_EQ(t1, t2); /* the tables are identical */
  free(o1);
  free(o2);
}

/* Runs a synthetic Poisson workload writing every output into dir. */
static char *run_into(const char *dir, const char *seed) {
  char jobs[256], trace[256], json[256];
  char *argv[] = {SIM,          "--policy",    "fcfs,mlfq", "--num-requests",
                  "300",        "--rate",      "40",        "--dist",
                  "gamma",      "--cv",        "2",         "--seed",
                  (char *)seed, "--max-batch", "4",         "--jobs-csv",
                  jobs,         "--trace-csv", trace,       "--json",
                  json,         NULL};
  char *out;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(trace, sizeof(trace), "%s/trace.csv", dir);
  snprintf(json, sizeof(json), "%s/summary.json", dir);
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  return out;
}

static void expect_same_file(const char *d1, const char *d2, const char *f,
                             int same) {
  char p1[256], p2[256];
  char *a, *b;

  snprintf(p1, sizeof(p1), "%s/%s", d1, f);
  snprintf(p2, sizeof(p2), "%s/%s", d2, f);
  a = mlfq_test_slurp(p1);
  b = mlfq_test_slurp(p2);
  ASSERT(strlen(a) > 0);
  if (same)
    ASSERT(strcmp(a, b) == 0);
  else
    ASSERT(strcmp(a, b) != 0);
  free(a);
  free(b);
}

TEST(mlfqsim, same_seed_byte_identical) {
  char d1[] = "/tmp/mlfqsim-a-XXXXXX", d2[] = "/tmp/mlfqsim-b-XXXXXX";
  char d3[] = "/tmp/mlfqsim-c-XXXXXX";
  const char *files[] = {"jobs-fcfs.csv", "jobs-mlfq.csv", "trace-fcfs.csv",
                         "trace-mlfq.csv"};
  char *o1, *o2, *o3, cmd[256];
  size_t i;

  ASSERT(mkdtemp(d1) && mkdtemp(d2) && mkdtemp(d3));
  o1 = run_into(d1, "7");
  o2 = run_into(d2, "7");
  o3 = run_into(d3, "8");
  ASSERT_STR_EQ(o1, o2);
  ASSERT(strcmp(o1, o3) != 0);
  for (i = 0; i < 4; i++) {
    expect_same_file(d1, d2, files[i], 1);
    expect_same_file(d1, d3, files[i], 0);
  }
  expect_same_file(d1, d2, "summary.json", 1);
  free(o1);
  free(o2);
  free(o3);
  snprintf(cmd, sizeof(cmd), "rm -rf %s %s %s", d1, d2, d3);
  ASSERT_EQ(system(cmd), 0);
}

/* The trace has exactly output_length lines per job, tokens in order, and
 * agrees with the per-job CSV's finish times. */
TEST(mlfqsim, trace_matches_jobs) {
  char dir[] = "/tmp/mlfqsim-t-XXXXXX", jobs[256], trace[256], cmd[256];
  char *argv[] = {SIM,          "--workload", MLFQ_DATA_DIR "/appendix_b.csv",
                  "--rate",     "20",         "--max-batch",
                  "8",          "--workers",  "2",
                  "--jobs-csv", jobs,         "--trace-csv",
                  trace,        NULL};
  unsigned out_len[100], seen[100] = {0}, id, tok, in, ol;
  char finish[100][32], last[100][32], *text, *line, *save = NULL;
  char a[32], f[32], ft[32], j[32], t[32];
  size_t n = 0;

  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(trace, sizeof(trace), "%s/trace.csv", dir);
  ASSERT_EQ(mlfq_test_run(argv, NULL, NULL, 30), 0);

  text = mlfq_test_slurp(jobs);
  line = strtok_r(text, "\n", &save);
  ASSERT_STR_EQ(line, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms");
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    ASSERT_EQ(sscanf(line, "%u,%31[^,],%u,%u,%31[^,],%31[^,],%31s", &id, a, &in,
                     &ol, ft, f, j),
              7);
    ASSERT_EQ(id, n);
    out_len[id] = ol;
    snprintf(finish[id], 32, "%s", f);
    n++;
  }
  ASSERT_EQ(n, 99);
  free(text);

  text = mlfq_test_slurp(trace);
  save = NULL;
  line = strtok_r(text, "\n", &save);
  ASSERT_STR_EQ(line, "t_ms,job,token");
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    ASSERT_EQ(sscanf(line, "%31[^,],%u,%u", t, &id, &tok), 3);
    ASSERT(id < n);
    ASSERT_EQ(tok, seen[id] + 1);
    seen[id] = tok;
    snprintf(last[id], 32, "%s", t);
  }
  for (id = 0; id < n; id++) {
    ASSERT_EQ(seen[id], out_len[id]);
    ASSERT_STR_EQ(last[id], finish[id]);
  }
  free(text);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}

TEST(mlfqsim, help_lists_every_option) {
  const mlfq_cli_opt_t *tables[] = {mlfq_model_options, mlfq_load_options,
                                    mlfq_output_options};
  char *argv[] = {SIM, "--help", NULL};
  char *out, want[64];
  const mlfq_cli_opt_t *o;
  size_t t;

  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 10), 0);
  ASSERT_CONTAINS(out, "Usage: mlfqsim");
  for (t = 0; t < 3; t++) {
    for (o = tables[t]; o->name != NULL; o++) {
      snprintf(want, sizeof(want), "--%s", o->name);
      ASSERT_CONTAINS(out, want);
    }
  }
  free(out);
}

TEST(mlfqsim, version) {
  char *argv[] = {SIM, "--version", NULL};
  char *out;

  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 10), 0);
  ASSERT(strncmp(out, "mlfqsim ", 8) == 0);
  free(out);
}

static void expect_usage_error(char **argv, const char *msg) {
  char *out, *err;

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 2);
  ASSERT_CONTAINS(err, msg);
  ASSERT(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
  free(out);
  free(err);
}

TEST(mlfqsim, bad_options_exit_2) {
  char *a1[] = {SIM, "--bogus", NULL};
  char *a2[] = {SIM, "--rate", "abc", NULL};
  char *a3[] = {SIM, "--policy", "lifo", NULL};
  char *a4[] = {SIM, "--max-batch", "0", NULL};
  char *a5[] = {SIM, "--workload", "/nonexistent/w.csv", NULL};
  char *a6[] = {SIM, "--input-len", "uniform:5", NULL};
  char *a7[] = {SIM, "--profile", MLFQ_DATA_DIR "/figure6.csv", NULL};
  char *a8[] = {SIM, "--decode-ms", NULL};
  char *a9[] = {SIM, "--profile", "x.csv", "--decode-ms", "1", NULL};

  expect_usage_error(a1, "unknown option '--bogus'");
  expect_usage_error(a2, "--rate: 'abc' is not a number");
  expect_usage_error(a3, "--policy: unknown 'lifo'");
  expect_usage_error(a4, "--max-batch: 0 is not in");
  expect_usage_error(a5, "/nonexistent/w.csv");
  expect_usage_error(a6, "--input-len:");
  expect_usage_error(a7, "figure6.csv:1:");
  expect_usage_error(a8, "--decode-ms needs a value");
  expect_usage_error(a9, "--profile excludes");
}
