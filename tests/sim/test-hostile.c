/* Overflowing simulated times: mlfqsim refuses what it cannot hold. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. */
#include "task.h"

#define HOSTILE_SIM MLFQ_BIN_DIR "/mlfqsim"

/* Runs mlfqsim with argv (NULL-terminated, after the program) and expects
 * exit status 2, nothing on stdout past the header, and want on stderr. */
static void sim_refuses(char **args, const char *want) {
  char *argv[16], *out, *err;
  size_t i;

  argv[0] = HOSTILE_SIM;
  for (i = 0; args[i] != NULL && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
    argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 60), 2);
  ASSERT_CONTAINS(err, want);
  ASSERT(strstr(out, "requests") == NULL || strstr(out, "JCT") == NULL);
  free(out);
  free(err);
}

TEST(hostile, mlfqsim_tiny_rate_is_an_error) {
  /* The second arrival, 10^10 s away, saturated to "no time": the job
   * came out with an empty arrival and finish 0, and counted as ok. */
  char *args[] = {"--rate", "1e-10", "--num-requests", "5", NULL};

  sim_refuses(args, "--rate 1e-10: request 1 would arrive past the largest "
                    "arrival time (1000000000000 ms");
}

TEST(hostile, mlfqsim_huge_decode_is_an_error) {
  /* 10^12 ms per token: the engine's end time wrapped past 2^64 ns. */
  char *args[] = {"--decode-ms", "1e12", "--num-requests", "20", NULL};

  sim_refuses(args, "--decode-ms 1e+12");
  sim_refuses(args, "would end past the largest time (about 292 years");
}

TEST(hostile, mlfqsim_large_valid_times_work) {
  /* Near the limits but inside them: every time is real and in order. */
  const char *csv = mlfq_test_tmpfile(".csv", "");
  char path[256], *out, *err, *line, *text;
  char *argv[] = {HOSTILE_SIM, "--decode-ms",
                  "1e9",       "--num-requests",
                  "9",         "--output-len",
                  "fixed:100", "--jobs-csv",
                  path,        NULL};
  char *argv2[] = {
      HOSTILE_SIM,      "--rate", "1e-9",       "--dist", "uniform",
      "--num-requests", "2",      "--jobs-csv", path,     NULL};
  unsigned long long id, in, outl;
  double arr, first, fin, jct;
  size_t rows = 0;
  FILE *f;

  snprintf(path, sizeof(path), "%s", csv);
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 60), 0);
  ASSERT_CONTAINS(out, "failed                         0");
  free(out);
  free(err);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  text = calloc(1, 1 << 16);
  ASSERT(text != NULL);
  ASSERT(fread(text, 1, (1 << 16) - 1, f) > 0);
  fclose(f);
  line = strchr(text, '\n');
  while (line != NULL && line[1] != '\0') {
    ASSERT_EQ(sscanf(line + 1, "%llu,%lf,%llu,%llu,%lf,%lf,%lf", &id, &arr, &in,
                     &outl, &first, &fin, &jct),
              7);
    ASSERT(first > arr && fin > first && fin > 1e11 && fin < 1e12);
    rows++;
    line = strchr(line + 1, '\n');
  }
  ASSERT_EQ(rows, 9);
  free(text);

  /* The largest arrival time itself is valid. */
  ASSERT_EQ(mlfq_test_run(argv2, &out, &err, 60), 0);
  free(out);
  free(err);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  text = calloc(1, 4096);
  ASSERT(text != NULL);
  ASSERT(fread(text, 1, 4095, f) > 0);
  fclose(f);
  ASSERT_CONTAINS(text, "\n1,1000000000000,");
  free(text);
  remove(path);
}
