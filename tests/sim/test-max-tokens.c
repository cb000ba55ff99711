/* mlfqsim --max-tokens (docs/MLFQSIM.md): the workload's output lengths are
 * capped as a client's max_tokens caps them, the run says how many ended
 * on their own ("stop") and how many at the cap ("length"), in its header
 * and its JSON, and a cap that binds nothing leaves the report as it was. */
#include <unistd.h>

#include <cJSON.h>

#include "base/rng.h"
#include "load/lengths.h"
#include "load/workload.h"

#include "task.h"

#define SIM MLFQ_BIN_DIR "/mlfqsim"
#define APPENDIX_B MLFQ_DATA_DIR "/appendix_b.csv"

TEST(mlfqsim, max_tokens_caps_and_counts) {
  char dir[] = "/tmp/mlfqsim-m-XXXXXX", jobs[256], json[256], cmd[300];
  char *argv[] = {SIM,   "--workload", APPENDIX_B,  "--rate",
                  "20",  "--policy",   "fcfs,mlfq", "--max-tokens",
                  "200", "--jobs-csv", jobs,        "--json",
                  json,  NULL};
  char *out, *text, *line, *save = NULL, want[128], f[32];
  unsigned id, in, ol, n = 0;
  size_t i, at_cap = 0;
  mlfq_workload_t w;
  cJSON *doc, *fr;

  ASSERT_OK(mlfq_workload_load(&w, APPENDIX_B, want, sizeof(want)));
  for (i = 0; i < w.n; i++)
    at_cap += w.reqs[i].output_len >= 200;
  ASSERT(at_cap > 0 && at_cap < w.n); /* the cap binds some, not all */
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(json, sizeof(json), "%s/run.json", dir);
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 30), 0);
  snprintf(want, sizeof(want),
           "max_tokens 200: %zu requests end on their own (stop), %zu at "
           "max_tokens (length)\n",
           w.n - at_cap, at_cap);
  ASSERT_CONTAINS(out, want);
  free(out);

  /* Each job ran min(L, 200) tokens (one file per policy). */
  snprintf(jobs, sizeof(jobs), "%s/jobs-mlfq.csv", dir);
  text = mlfq_test_slurp(jobs);
  line = strtok_r(text, "\n", &save);
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    ASSERT_EQ(sscanf(line, "%u,%31[^,],%u,%u,", &id, f, &in, &ol), 4);
    ASSERT_EQ(id, n);
    ASSERT_EQ(ol, w.reqs[id].output_len < 200 ? w.reqs[id].output_len : 200);
    n++;
  }
  ASSERT_EQ(n, w.n);
  free(text);

  text = mlfq_test_slurp(json);
  doc = cJSON_Parse(text);
  ASSERT(doc != NULL);
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(doc, "max_tokens")->valuedouble,
            200);
  fr = cJSON_GetObjectItemCaseSensitive(doc, "finish_reasons");
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(fr, "stop")->valuedouble,
            (double)(w.n - at_cap));
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(fr, "length")->valuedouble,
            (double)at_cap);
  cJSON_Delete(doc);
  free(text);
  mlfq_workload_free(&w);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
}

/* A cap above every length changes no result: the report's table is the
 * same as without one, and without one there is no count line. */
TEST(mlfqsim, max_tokens_that_binds_nothing) {
  char *a1[] = {SIM,  "--workload", APPENDIX_B, "--rate",
                "20", "--policy",   "all",      NULL};
  char *a2[] = {SIM,        "--workload", APPENDIX_B,     "--rate", "20",
                "--policy", "all",        "--max-tokens", "100000", NULL};
  char *o1, *o2;
  const char *t1, *t2;

  ASSERT_EQ(mlfq_test_run(a1, &o1, NULL, 30), 0);
  ASSERT_EQ(mlfq_test_run(a2, &o2, NULL, 30), 0);
  ASSERT(strstr(o1, "max_tokens") == NULL);
  ASSERT_CONTAINS(o2, "max_tokens 100000: 99 requests end on their own "
                      "(stop), 0 at max_tokens (length)\n");
  t1 = strstr(o1, "\n\n");
  t2 = strstr(o2, "\n\n");
  ASSERT(t1 != NULL && t2 != NULL);
  ASSERT_STR_EQ(t1, t2);
  free(o1);
  free(o2);
}

/* Synthetic lengths capped: the counts are those of the seed's draws. */
TEST(mlfqsim, max_tokens_counts_follow_the_seed) {
  char *a[] = {SIM,
               "--output-len",
               "uniform:1:512",
               "--max-tokens",
               "256",
               "--num-requests",
               "1000",
               "--policy",
               "fcfs",
               "--seed",
               "5",
               NULL};
  char *out, want[128], err[256];
  size_t i, at_cap = 0;
  mlfq_lengths_t l;
  mlfq_rng_t rng;

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:1:512", err, sizeof(err)));
  mlfq_rng_seed(&rng, 5, MLFQ_STREAM_OUTPUT_LEN);
  for (i = 0; i < 1000; i++)
    at_cap += mlfq_lengths_sample(&l, &rng) >= 256;
  mlfq_lengths_free(&l);
  snprintf(want, sizeof(want),
           "max_tokens 256: %zu requests end on their own (stop), %zu at "
           "max_tokens (length)\n",
           1000 - at_cap, at_cap);
  ASSERT_EQ(mlfq_test_run(a, &out, NULL, 30), 0);
  ASSERT_CONTAINS(out, want);
  free(out);
}
