/* Arrival processes (docs/MODEL.md, "Arrivals"): gap statistics, exact uniform
 * spacing, the all-at-once rates, seeding and configuration checks. */
#include "load/arrival.h"
#include "task.h"

typedef struct {
  double mean; /* mean gap, ns */
  double cv;
} gap_stats_t;

/* Mean and CV of the first n gaps of a. */
static gap_stats_t gap_stats(const mlfq_arrival_t *a, size_t n) {
  mlfq_arrivals_t g;
  gap_stats_t st;
  double sum = 0, sum2 = 0, gap, var;
  uint64_t prev, t;
  size_t i;

  mlfq_arrivals_init(&g, a);
  ASSERT_OK(mlfq_arrivals_next(&g, &prev));
  ASSERT_EQ_U64(prev, 0);
  for (i = 0; i < n; i++) {
    ASSERT_OK(mlfq_arrivals_next(&g, &t));
    ASSERT_LE_U64(prev, t);
    gap = (double)(t - prev);
    sum += gap;
    sum2 += gap * gap;
    prev = t;
  }
  st.mean = sum / (double)n;
  var = sum2 / (double)n - st.mean * st.mean;
  st.cv = sqrt(var) / st.mean;
  return st;
}

/* Mean gap within 1% of 1/rate and CV within 3% of cv, for several seeds.
 * The sample count must suit the tail: the relative sd of the mean gap is
 * cv / sqrt(n), so cv 4 needs millions of gaps to sit well inside 1%. */
static void check_gaps(mlfq_dist_t dist, double rate, double cv, size_t n) {
  static const uint64_t seeds[] = {1, 2, 20240601};
  mlfq_arrival_t a;
  gap_stats_t st;
  size_t i;

  for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
    a.dist = dist;
    a.rate = rate;
    a.cv = dist == MLFQ_DIST_GAMMA ? cv : 1.0;
    a.seed = seeds[i];
    st = gap_stats(&a, n);
    if (fabs(st.mean * rate / 1e9 - 1.0) > 0.01 ||
        fabs(st.cv / cv - 1.0) > 0.03)
      MLFQ_TEST_FAIL("%s rate %g cv %g seed %" PRIu64 ": mean gap %.6g ns "
                     "(want %.6g), cv %.4f",
                     mlfq_dist_name(dist), rate, cv, seeds[i], st.mean,
                     1e9 / rate, st.cv);
  }
}

TEST(arrival, poisson_mean_and_cv) {
  check_gaps(MLFQ_DIST_POISSON, 10.0, 1.0, 1000000);
  check_gaps(MLFQ_DIST_POISSON, 2500.0, 1.0, 200000);
}

TEST(arrival, gamma_cv1_mean_and_cv) {
  check_gaps(MLFQ_DIST_GAMMA, 10.0, 1.0, 1000000);
}

TEST(arrival, gamma_cv2_mean_and_cv) {
  check_gaps(MLFQ_DIST_GAMMA, 10.0, 2.0, 1000000);
}

TEST(arrival, gamma_cv4_mean_and_cv) {
  check_gaps(MLFQ_DIST_GAMMA, 10.0, 4.0, 4000000);
}

TEST(arrival, gamma_bursty_is_burstier) {
  /* At cv 4 many gaps are tiny: far more gaps than with cv 1 fall below a
   * tenth of the mean. */
  mlfq_arrival_t a = {MLFQ_DIST_GAMMA, 10.0, 4.0, 5};
  uint64_t out[10001];
  int i, small4 = 0, small1 = 0;

  mlfq_arrival_schedule(&a, out, 10001);
  for (i = 1; i <= 10000; i++)
    small4 += out[i] - out[i - 1] < 10000000;
  a.cv = 1.0;
  mlfq_arrival_schedule(&a, out, 10001);
  for (i = 1; i <= 10000; i++)
    small1 += out[i] - out[i - 1] < 10000000;
  /* P(gap < mean/10): 0.095 at cv 1, about 0.75 at cv 4. */
  ASSERT_NEAR(small1, 950, 150);
  ASSERT_GT(small4, 7000);
}

TEST(arrival, uniform_exactly_evenly_spaced) {
  static const double rates[] = {3.0, 7.5, 10.0, 1000.0, 0.001, 123456.789};
  enum { N = 100000 };
  uint64_t *out = malloc(N * sizeof(*out));
  mlfq_arrival_t a;
  size_t i, j;

  ASSERT(out != NULL);
  for (j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
    a.dist = MLFQ_DIST_UNIFORM;
    a.rate = rates[j];
    a.cv = 1.0;
    a.seed = 1;
    mlfq_arrival_schedule(&a, out, N);
    for (i = 0; i < N; i++)
      ASSERT_EQ_U64(out[i], (uint64_t)llround((double)i * 1e9 / rates[j]));
  }
  /* No accumulated rounding: at 3 per second every third arrival falls on a
   * whole second. */
  a.rate = 3.0;
  mlfq_arrival_schedule(&a, out, N);
  ASSERT_EQ_U64(out[1], 333333333);
  ASSERT_EQ_U64(out[2], 666666667);
  ASSERT_EQ_U64(out[3], 1000000000);
  ASSERT_EQ_U64(out[99999], UINT64_C(33333000000000));
  free(out);
}

TEST(arrival, uniform_ignores_seed) {
  mlfq_arrival_t a = {MLFQ_DIST_UNIFORM, 4.0, 1.0, 1};
  uint64_t x[100], y[100];

  mlfq_arrival_schedule(&a, x, 100);
  a.seed = 2;
  mlfq_arrival_schedule(&a, y, 100);
  ASSERT(memcmp(x, y, sizeof(x)) == 0);
  ASSERT_EQ_U64(x[99], UINT64_C(24750000000));
}

TEST(arrival, rate_zero_and_infinity_all_at_once) {
  static const mlfq_dist_t dists[] = {MLFQ_DIST_POISSON, MLFQ_DIST_UNIFORM,
                                      MLFQ_DIST_GAMMA};
  const double rates[] = {0.0, INFINITY};
  mlfq_arrival_t a;
  uint64_t out[1000];
  size_t d, k, i;

  for (d = 0; d < 3; d++) {
    for (k = 0; k < 2; k++) {
      a.dist = dists[d];
      a.rate = rates[k];
      a.cv = 2.0;
      a.seed = 9;
      memset(out, 0xff, sizeof(out));
      mlfq_arrival_schedule(&a, out, 1000);
      for (i = 0; i < 1000; i++)
        ASSERT_EQ_U64(out[i], 0);
    }
  }
}

TEST(arrival, first_gap_comes_from_arrival_stream) {
  /* Arrival 1 is one exponential gap (mean 1/rate) drawn from stream
   * MLFQ_STREAM_ARRIVAL of the seed, rounded to a whole ns. */
  mlfq_arrival_t a = {MLFQ_DIST_POISSON, 50.0, 1.0, 777};
  mlfq_rng_t r;
  uint64_t out[3], want1, want2;

  mlfq_arrival_schedule(&a, out, 3);
  mlfq_rng_seed(&r, 777, MLFQ_STREAM_ARRIVAL);
  want1 = (uint64_t)llround(mlfq_rng_exp(&r, 1e9 / 50.0));
  want2 = want1 + (uint64_t)llround(mlfq_rng_exp(&r, 1e9 / 50.0));
  ASSERT_EQ_U64(out[0], 0);
  ASSERT_EQ_U64(out[1], want1);
  ASSERT_EQ_U64(out[2], want2);

  /* gamma: shape 1/cv^2, scale cv^2/rate. */
  a.dist = MLFQ_DIST_GAMMA;
  a.cv = 2.0;
  mlfq_arrival_schedule(&a, out, 3);
  mlfq_rng_seed(&r, 777, MLFQ_STREAM_ARRIVAL);
  want1 = (uint64_t)llround(mlfq_rng_gamma(&r, 0.25, 4.0 * 1e9 / 50.0));
  ASSERT_EQ_U64(out[1], want1);
}

TEST(arrival, same_seed_same_schedule) {
  static const mlfq_dist_t dists[] = {MLFQ_DIST_POISSON, MLFQ_DIST_GAMMA};
  enum { N = 5000 };
  uint64_t x[N], y[N], z[N];
  mlfq_arrival_t a;
  size_t d, i, same;

  for (d = 0; d < 2; d++) {
    a.dist = dists[d];
    a.rate = 20.0;
    a.cv = 3.0;
    a.seed = 1234;
    mlfq_arrival_schedule(&a, x, N);
    mlfq_arrival_schedule(&a, y, N);
    ASSERT(memcmp(x, y, sizeof(x)) == 0);
    a.seed = 1235;
    mlfq_arrival_schedule(&a, z, N);
    ASSERT_EQ_U64(z[0], 0);
    same = 0;
    for (i = 1; i < N; i++)
      same += x[i] == z[i];
    ASSERT_LT(same, 10);
  }
}

TEST(arrival, next_matches_schedule) {
  static const mlfq_dist_t dists[] = {MLFQ_DIST_POISSON, MLFQ_DIST_UNIFORM,
                                      MLFQ_DIST_GAMMA};
  enum { N = 2000 };
  uint64_t out[N], t;
  mlfq_arrival_t a;
  mlfq_arrivals_t g;
  size_t d, i;

  for (d = 0; d < 3; d++) {
    a.dist = dists[d];
    a.rate = 7.0;
    a.cv = 0.5;
    a.seed = 42;
    ASSERT_OK(mlfq_arrival_schedule(&a, out, N));
    mlfq_arrivals_init(&g, &a);
    for (i = 0; i < N; i++) {
      ASSERT_OK(mlfq_arrivals_next(&g, &t));
      ASSERT_EQ_U64(t, out[i]);
      ASSERT_EQ_U64(g.i, i + 1);
      ASSERT_EQ_U64(g.t_ns, out[i]);
      if (i > 0)
        ASSERT_LE_U64(out[i - 1], out[i]);
    }
  }
}

TEST(arrival, tiny_rate_is_a_range_error) {
  /* An arrival past the largest time is an error, never a saturated time
   * (UINT64_MAX, which reads as "never"). At 1e-9 per second the gap is
   * 10^18 ns: arrival 1 is the largest time itself, arrival 2 is past. */
  mlfq_arrival_t a = {MLFQ_DIST_UNIFORM, 1e-9, 1.0, 1};
  mlfq_arrivals_t g;
  uint64_t out[4], t = 7;

  ASSERT_OK(mlfq_arrival_schedule(&a, out, 2));
  ASSERT_EQ_U64(out[0], 0);
  ASSERT_EQ_U64(out[1], MLFQ_ARRIVAL_MAX_NS);
  ASSERT_EQ(mlfq_arrival_schedule(&a, out, 3), MLFQ_ERANGE);
  mlfq_arrivals_init(&g, &a);
  ASSERT_OK(mlfq_arrivals_next(&g, &t));
  ASSERT_OK(mlfq_arrivals_next(&g, &t));
  ASSERT_EQ(mlfq_arrivals_next(&g, &t), MLFQ_ERANGE);
  ASSERT_EQ(mlfq_arrivals_next(&g, &t), MLFQ_ERANGE); /* and stays so */
  ASSERT_EQ_U64(t, MLFQ_ARRIVAL_MAX_NS);              /* t untouched */
  a.rate = 1e-12;
  ASSERT_EQ(mlfq_arrival_schedule(&a, out, 4), MLFQ_ERANGE);
  a.dist = MLFQ_DIST_POISSON;
  a.rate = 1e-15;
  ASSERT_EQ(mlfq_arrival_schedule(&a, out, 4), MLFQ_ERANGE);
  a.dist = MLFQ_DIST_GAMMA;
  ASSERT_EQ(mlfq_arrival_schedule(&a, out, 4), MLFQ_ERANGE);
}

TEST(arrival, check_rejects_bad_values) {
  mlfq_arrival_t a = {MLFQ_DIST_GAMMA, 10.0, 2.0, 1};
  char err[128];

  ASSERT_OK(mlfq_arrival_check(&a, err, sizeof(err)));
  a.rate = 0.0;
  ASSERT_OK(mlfq_arrival_check(&a, err, sizeof(err)));
  a.rate = INFINITY;
  ASSERT_OK(mlfq_arrival_check(&a, err, sizeof(err)));

  a.rate = -1.0;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "--rate: -1 is negative");
  a.rate = -INFINITY;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "--rate");
  a.rate = NAN;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "--rate");
  ASSERT_CONTAINS(err, "not a number");

  a.rate = 10.0;
  a.cv = 0.0;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "--cv: 0 must be > 0");
  a.cv = -2.0;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "--cv");
  a.cv = NAN;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "--cv");
  a.cv = INFINITY;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "--cv");

  /* cv must be valid whatever the distribution. */
  a.dist = MLFQ_DIST_POISSON;
  a.cv = 0.0;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  a.cv = 1.0;
  ASSERT_OK(mlfq_arrival_check(&a, err, sizeof(err)));

  a.dist = (mlfq_dist_t)7;
  ASSERT_EQ(mlfq_arrival_check(&a, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "distribution");
  /* err may be absent. */
  ASSERT_EQ(mlfq_arrival_check(&a, NULL, 0), MLFQ_EINVAL);
}

TEST(arrival, dist_parse_and_name) {
  static const char *const names[] = {"poisson", "uniform", "gamma"};
  mlfq_dist_t d;
  size_t i;

  for (i = 0; i < 3; i++) {
    ASSERT_OK(mlfq_dist_parse(names[i], &d));
    ASSERT_EQ(d, (int)i);
    ASSERT_STR_EQ(mlfq_dist_name(d), names[i]);
  }
  d = MLFQ_DIST_GAMMA;
  ASSERT_EQ(mlfq_dist_parse("Poisson", &d), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_dist_parse("", &d), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_dist_parse("gammas", &d), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_dist_parse("uniform ", &d), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_dist_parse(NULL, &d), MLFQ_EINVAL);
  ASSERT_EQ(d, MLFQ_DIST_GAMMA);
  ASSERT_STR_EQ(mlfq_dist_name((mlfq_dist_t)9), "unknown");
}
