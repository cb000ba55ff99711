/* loadgen --max-tokens: every request's output_length is the workload's,
 * capped; the daemon generates exactly that many tokens, and loadgen says
 * how many requests end on their own and how many at the cap. */
#include "load/workload.h"

#include "client/lg.h"

TEST(loadgen, max_tokens_caps_output_lengths) {
  char *dir = lg_tmpdir();
  const char *jobs = lg_in_dir(dir, "jobs.csv");
  const char *const names[] = {"jobs.csv", NULL};
  char *argv[] = {LOADGEN,
                  "--server",
                  NULL,
                  "--workload",
                  MLFQ_DATA_DIR "/appendix_b.csv",
                  "--rate",
                  "inf",
                  "--max-tokens",
                  "200",
                  "--jobs-csv",
                  (char *)jobs,
                  NULL};
  mlfq_test_daemon_t d;
  job_row_t rows[MAXJOBS];
  mlfq_workload_t w;
  char *out, want[128];
  size_t at_cap = 0;
  int n, i;

  ASSERT_OK(mlfq_workload_load(&w, MLFQ_DATA_DIR "/appendix_b.csv", want,
                               sizeof(want)));
  for (i = 0; i < (int)w.n; i++)
    at_cap += w.reqs[i].output_len >= 200;
  lg_start_zero(&d);
  argv[2] = d.addr;
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 60), 0);
  snprintf(want, sizeof(want),
           "max_tokens 200: %zu requests end on their own (stop), %zu at "
           "max_tokens (length)\n",
           w.n - at_cap, at_cap);
  ASSERT_CONTAINS(out, want);
  n = lg_read_jobs(jobs, rows);
  ASSERT_EQ(n, (int)w.n);
  for (i = 0; i < n; i++) {
    ASSERT_STR_EQ(rows[i].status, "ok");
    ASSERT_EQ(rows[i].output_length,
              w.reqs[i].output_len < 200 ? w.reqs[i].output_len : 200);
  }
  free(out);
  mlfq_workload_free(&w);
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
}
