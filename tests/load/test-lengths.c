/* Length distributions: strict spec parsing, the range and shape of each
 * distribution, canonical formatting. */
#include "load/lengths.h"
#include "task.h"

TEST(lengths, parse_every_form) {
  mlfq_lengths_t l;
  char err[256];

  ASSERT_OK(mlfq_lengths_parse(&l, "fixed:7", err, sizeof(err)));
  ASSERT_EQ(l.kind, MLFQ_LEN_FIXED);
  ASSERT_EQ(l.a, 7);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "fixed:4294967295", err, sizeof(err)));
  ASSERT_EQ_U64(l.a, UINT32_MAX);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:1:512", err, sizeof(err)));
  ASSERT_EQ(l.kind, MLFQ_LEN_UNIFORM);
  ASSERT_EQ(l.a, 1);
  ASSERT_EQ(l.b, 512);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:5:5", err, sizeof(err)));
  ASSERT_EQ(l.a, 5);
  ASSERT_EQ(l.b, 5);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:1.5:1000", err, sizeof(err)));
  ASSERT_EQ(l.kind, MLFQ_LEN_ZIPF);
  ASSERT(l.s == 1.5);
  ASSERT_EQ(l.b, 1000);
  ASSERT(l._cdf != NULL);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:0.25:1", err, sizeof(err)));
  ASSERT(l.s == 0.25);
  ASSERT_EQ(l.b, 1);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:2e0:10", err, sizeof(err)));
  ASSERT(l.s == 2.0);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "file", err, sizeof(err)));
  ASSERT_EQ(l.kind, MLFQ_LEN_FILE);
  ASSERT(l._cdf == NULL);
  mlfq_lengths_free(&l);
}

TEST(lengths, parse_rejects_malformed) {
  static const char *const bad[][2] = {
      {"", "expected fixed:N, uniform:A:B, zipf:S:MAX or file"},
      {"fixed", "expected fixed:N, uniform:A:B"},
      {"fixed:", "expected fixed:N"},
      {"fixed:0", "N must be >= 1"},
      {"fixed:-1", "expected fixed:N"},
      {"fixed:+1", "expected fixed:N"},
      {"fixed:4294967296", "N must be <= 4294967295"},
      {"fixed:99999999999999999999999", "N must be <= 4294967295"},
      {"fixed:1x", "expected fixed:N"},
      {"fixed: 1", "expected fixed:N"},
      {"fixed:1 ", "expected fixed:N"},
      {"fixed:1.0", "expected fixed:N"},
      {"fixed:1:2", "expected fixed:N"},
      {" fixed:1", "expected fixed:N, uniform:A:B"},
      {"Fixed:1", "expected fixed:N, uniform:A:B"},
      {"uniform", "expected fixed:N, uniform:A:B"},
      {"uniform:", "expected uniform:A:B"},
      {"uniform:5", "expected uniform:A:B"},
      {"uniform:5:", "expected uniform:A:B"},
      {"uniform::5", "expected uniform:A:B"},
      {"uniform:0:5", "A must be >= 1"},
      {"uniform:1:0", "B must be >= 1"},
      {"uniform:6:5", "A must be <= B"},
      {"uniform:1:2:3", "expected uniform:A:B"},
      {"uniform:1:4294967296", "B must be <= 4294967295"},
      {"uniform:4294967296:4294967297", "A must be <= 4294967295"},
      {"uniform:1:5x", "expected uniform:A:B"},
      {"uniform:-1:5", "expected uniform:A:B"},
      {"zipf", "expected fixed:N, uniform:A:B"},
      {"zipf:", "expected zipf:S:MAX"},
      {"zipf:1", "expected zipf:S:MAX"},
      {"zipf:1:", "expected zipf:S:MAX"},
      {"zipf::10", "expected zipf:S:MAX"},
      {"zipf:-1:10", "S must be > 0"},
      {"zipf:0:10", "S must be > 0"},
      {"zipf:-0:10", "S must be > 0"},
      {"zipf:nan:10", "expected zipf:S:MAX"},
      {"zipf:inf:10", "expected zipf:S:MAX"},
      {"zipf:1e999:10", "expected zipf:S:MAX"},
      {"zipf:0x1p0:10", "expected zipf:S:MAX"},
      {"zipf: 1:10", "expected zipf:S:MAX"},
      {"zipf:1x:10", "expected zipf:S:MAX"},
      {"zipf:1:10x", "expected zipf:S:MAX"},
      {"zipf:1:0", "MAX must be between 1 and 10000000"},
      {"zipf:1:10000001", "MAX must be between 1 and 10000000"},
      {"zipf:1:99999999999999999999999", "MAX must be between 1 and"},
      {"zipf:1:10:3", "expected zipf:S:MAX"},
      {"file:x", "expected fixed:N, uniform:A:B"},
      {"files", "expected fixed:N, uniform:A:B"},
      {"normal:1:2", "expected fixed:N, uniform:A:B"},
  };
  mlfq_lengths_t l;
  char err[256], want[300];
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    l._cdf = (double *)&l; /* parse must reset it */
    if (mlfq_lengths_parse(&l, bad[i][0], err, sizeof(err)) != MLFQ_EINVAL)
      MLFQ_TEST_FAIL("'%s' was accepted", bad[i][0]);
    snprintf(want, sizeof(want), "bad length spec '%s': ", bad[i][0]);
    ASSERT_CONTAINS(err, want);
    ASSERT_CONTAINS(err, bad[i][1]);
    ASSERT(l._cdf == NULL);
    mlfq_lengths_free(&l);
  }
  ASSERT_STR_EQ(err, "bad length spec 'normal:1:2': expected fixed:N, "
                     "uniform:A:B, zipf:S:MAX or file");
  ASSERT_EQ(mlfq_lengths_parse(&l, "uniform:5", err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "bad length spec 'uniform:5': expected uniform:A:B");
  ASSERT_EQ(mlfq_lengths_parse(&l, "fixed:0", err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "bad length spec 'fixed:0': N must be >= 1");
  ASSERT_EQ(mlfq_lengths_parse(&l, NULL, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_lengths_parse(&l, "fixed:0", NULL, 0), MLFQ_EINVAL);
}

TEST(lengths, fixed_always_n) {
  mlfq_lengths_t l;
  mlfq_rng_t r;
  char err[256];
  int i;

  ASSERT_OK(mlfq_lengths_parse(&l, "fixed:300", err, sizeof(err)));
  mlfq_rng_seed(&r, 1, MLFQ_STREAM_INPUT_LEN);
  for (i = 0; i < 10000; i++)
    ASSERT_EQ(mlfq_lengths_sample(&l, &r), 300);
  mlfq_lengths_free(&l);
}

TEST(lengths, uniform_within_bounds_and_hits_both_ends) {
  mlfq_lengths_t l;
  mlfq_rng_t r;
  char err[256];
  uint32_t v;
  int counts[8] = {0};
  int i, k;

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:3:7", err, sizeof(err)));
  mlfq_rng_seed(&r, 2, MLFQ_STREAM_OUTPUT_LEN);
  for (i = 0; i < 100000; i++) {
    v = mlfq_lengths_sample(&l, &r);
    ASSERT(v >= 3 && v <= 7);
    counts[v]++;
  }
  /* 20000 each, sd 126. */
  for (k = 3; k <= 7; k++)
    ASSERT_NEAR(counts[k], 20000, 700);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:5:5", err, sizeof(err)));
  for (i = 0; i < 1000; i++)
    ASSERT_EQ(mlfq_lengths_sample(&l, &r), 5);
  mlfq_lengths_free(&l);

  /* The full range: every draw in [1, 2^32 - 1], spread over both halves. */
  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:1:4294967295", err, sizeof(err)));
  k = 0;
  for (i = 0; i < 10000; i++) {
    v = mlfq_lengths_sample(&l, &r);
    ASSERT(v >= 1);
    k += v > UINT32_C(2147483648);
  }
  ASSERT_NEAR(k, 5000, 300);
  mlfq_lengths_free(&l);

  ASSERT_OK(mlfq_lengths_parse(&l, "uniform:4294967294:4294967295", err,
                               sizeof(err)));
  k = 0;
  for (i = 0; i < 1000; i++) {
    v = mlfq_lengths_sample(&l, &r);
    ASSERT(v >= UINT32_C(4294967294));
    k += v == UINT32_MAX;
  }
  ASSERT_NEAR(k, 500, 100);
  mlfq_lengths_free(&l);
}

/* Draws n zipf samples from spec and checks the range and P(1)/P(2). */
static void check_zipf(const char *spec, double s, uint32_t max, int n) {
  mlfq_lengths_t l;
  mlfq_rng_t r;
  char err[256];
  int *counts = calloc((size_t)max + 1, sizeof(*counts));
  double ratio;
  uint32_t v, k;
  int i;

  ASSERT(counts != NULL);
  ASSERT_OK(mlfq_lengths_parse(&l, spec, err, sizeof(err)));
  ASSERT(l._cdf[max - 1] == 1.0);
  for (k = 1; k < max; k++)
    ASSERT_LE_DBL(l._cdf[k - 1], l._cdf[k]);
  mlfq_rng_seed(&r, 3, MLFQ_STREAM_INPUT_LEN);
  for (i = 0; i < n; i++) {
    v = mlfq_lengths_sample(&l, &r);
    ASSERT(v >= 1 && v <= max);
    counts[v]++;
  }
  ratio = (double)counts[1] / counts[2];
  if (fabs(ratio / pow(2.0, s) - 1.0) > 0.03)
    MLFQ_TEST_FAIL("%s: P(1)/P(2) = %g, want %g", spec, ratio, pow(2.0, s));
  ASSERT_GT(counts[max], 0);
  mlfq_lengths_free(&l);
  free(counts);
}

TEST(lengths, zipf_within_bounds_and_ratio) {
  mlfq_lengths_t l;
  mlfq_rng_t r;
  char err[256];
  int i;

  check_zipf("zipf:1.2:100", 1.2, 100, 1000000);
  check_zipf("zipf:0.5:1000", 0.5, 1000, 4000000);
  check_zipf("zipf:2:20", 2.0, 20, 1000000);
  check_zipf("zipf:1:2", 1.0, 2, 100000);

  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:1:1", err, sizeof(err)));
  mlfq_rng_seed(&r, 4, 0);
  for (i = 0; i < 1000; i++)
    ASSERT_EQ(mlfq_lengths_sample(&l, &r), 1);
  mlfq_lengths_free(&l);

  /* A steep exponent: P(2) = 2^-500 / H is below double precision next to
   * P(1), and most of the tail underflows to 0; every draw is 1. */
  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:500:1000", err, sizeof(err)));
  for (i = 0; i < 1000; i++)
    ASSERT_EQ(mlfq_lengths_sample(&l, &r), 1);
  mlfq_lengths_free(&l);
}

TEST(lengths, format_round_trips) {
  static const char *const specs[] = {
      "fixed:7",       "fixed:4294967295", "uniform:1:512", "uniform:9:9",
      "zipf:1.5:1000", "zipf:0.25:1",      "zipf:2:50",     "file"};
  mlfq_lengths_t l, m;
  char err[256], buf[64], buf2[64];
  size_t i;
  int n;

  for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
    ASSERT_OK(mlfq_lengths_parse(&l, specs[i], err, sizeof(err)));
    n = mlfq_lengths_format(&l, buf, sizeof(buf));
    ASSERT_EQ(n, strlen(specs[i]));
    ASSERT_STR_EQ(buf, specs[i]);
    ASSERT_OK(mlfq_lengths_parse(&m, buf, err, sizeof(err)));
    ASSERT_EQ(m.kind, l.kind);
    ASSERT_EQ(m.a, l.a);
    ASSERT_EQ(m.b, l.b);
    ASSERT(m.s == l.s);
    mlfq_lengths_format(&m, buf2, sizeof(buf2));
    ASSERT_STR_EQ(buf2, buf);
    mlfq_lengths_free(&l);
    mlfq_lengths_free(&m);
  }

  /* Canonical form: "zipf:2e0:10" prints as "zipf:2:10". */
  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:2e0:10", err, sizeof(err)));
  mlfq_lengths_format(&l, buf, sizeof(buf));
  ASSERT_STR_EQ(buf, "zipf:2:10");
  /* Truncation reports the full length, as snprintf. */
  ASSERT_EQ(mlfq_lengths_format(&l, buf, 4), 9);
  ASSERT_STR_EQ(buf, "zip");
  mlfq_lengths_free(&l);
}

TEST(lengths, free_twice_is_safe) {
  mlfq_lengths_t l;
  char err[256];

  ASSERT_OK(mlfq_lengths_parse(&l, "zipf:1.1:500", err, sizeof(err)));
  mlfq_lengths_free(&l);
  ASSERT(l._cdf == NULL);
  mlfq_lengths_free(&l);
}
