/* The seeded generator: determinism, stream independence and the moments of
 * every distribution. Every test uses fixed seeds, so a pass is a pass. */
#include "base/rng.h"
#include "task.h"

#define N_DRAWS 1000000

typedef struct {
  double mean;
  double var;
} moments_t;

/* Sample mean and (population) variance of xs[0..n). */
static moments_t moments(const double *xs, size_t n) {
  moments_t m = {0.0, 0.0};
  double d;
  size_t i;

  for (i = 0; i < n; i++)
    m.mean += xs[i];
  m.mean /= (double)n;
  for (i = 0; i < n; i++) {
    d = xs[i] - m.mean;
    m.var += d * d;
  }
  m.var /= (double)n;
  return m;
}

TEST(rng, xoshiro_known_answers) {
  /* Reference outputs of xoshiro256** from the state {1, 2, 3, 4}. */
  mlfq_rng_t r = {{1, 2, 3, 4}};

  ASSERT_EQ_U64(mlfq_rng_next(&r), UINT64_C(11520));
  ASSERT_EQ_U64(mlfq_rng_next(&r), UINT64_C(0));
  ASSERT_EQ_U64(mlfq_rng_next(&r), UINT64_C(1509978240));
  ASSERT_EQ_U64(mlfq_rng_next(&r), UINT64_C(1215971899390074240));
}

TEST(rng, same_seed_and_stream_same_sequence) {
  mlfq_rng_t a, b;
  int i;

  mlfq_rng_seed(&a, 12345, MLFQ_STREAM_ARRIVAL);
  mlfq_rng_seed(&b, 12345, MLFQ_STREAM_ARRIVAL);
  for (i = 0; i < 10000; i++)
    ASSERT_EQ_U64(mlfq_rng_next(&a), mlfq_rng_next(&b));
}

TEST(rng, streams_and_seeds_differ) {
  /* (seed, stream) pairs that a naive seed + stream or seed ^ stream mix
   * would confuse. */
  static const uint64_t pairs[][2] = {{1, 1}, {1, 2},         {2, 1},  {0, 3},
                                      {3, 0}, {42, 1},        {43, 1}, {42, 2},
                                      {0, 0}, {UINT64_MAX, 1}};
  enum { NP = sizeof(pairs) / sizeof(pairs[0]), NV = 64 };
  uint64_t v[NP][NV];
  mlfq_rng_t r;
  size_t i, j, k, same;

  for (i = 0; i < NP; i++) {
    mlfq_rng_seed(&r, pairs[i][0], pairs[i][1]);
    for (k = 0; k < NV; k++)
      v[i][k] = mlfq_rng_next(&r);
  }
  for (i = 0; i < NP; i++) {
    for (j = i + 1; j < NP; j++) {
      same = 0;
      for (k = 0; k < NV; k++)
        same += v[i][k] == v[j][k];
      if (same != 0)
        MLFQ_TEST_FAIL("pairs %zu and %zu share %zu of %d outputs", i, j, same,
                       (int)NV);
    }
  }
}

TEST(rng, streams_are_uncorrelated) {
  /* Uniforms from two streams of one seed: correlation near 0. */
  mlfq_rng_t a, b;
  double x, y, sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0, n = 200000, corr;
  int i;

  mlfq_rng_seed(&a, 7, MLFQ_STREAM_INPUT_LEN);
  mlfq_rng_seed(&b, 7, MLFQ_STREAM_OUTPUT_LEN);
  for (i = 0; i < (int)n; i++) {
    x = mlfq_rng_uniform(&a);
    y = mlfq_rng_uniform(&b);
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  corr = (sxy / n - sx / n * sy / n) /
         sqrt((sxx / n - sx / n * sx / n) * (syy / n - sy / n * sy / n));
  /* sd of the estimate is 1/sqrt(n) ~ 0.0022. */
  ASSERT_NEAR(corr, 0.0, 0.01);
}

TEST(rng, uniform_in_unit_interval) {
  mlfq_rng_t r;
  double *xs = malloc(N_DRAWS * sizeof(*xs));
  moments_t m;
  int i;

  ASSERT(xs != NULL);
  mlfq_rng_seed(&r, 1, 0);
  for (i = 0; i < N_DRAWS; i++) {
    xs[i] = mlfq_rng_uniform(&r);
    ASSERT_LE_DBL(0.0, xs[i]);
    ASSERT_LT_DBL(xs[i], 1.0);
  }
  m = moments(xs, N_DRAWS);
  ASSERT_NEAR(m.mean, 0.5, 0.002);
  ASSERT_NEAR(m.var, 1.0 / 12.0, 0.001);
  free(xs);
}

TEST(rng, uniform_uses_53_bits) {
  /* The top 53 bits of one draw, scaled by 2^-53. */
  mlfq_rng_t a, b;
  uint64_t x;
  int i;

  mlfq_rng_seed(&a, 99, 5);
  mlfq_rng_seed(&b, 99, 5);
  for (i = 0; i < 1000; i++) {
    x = mlfq_rng_next(&a);
    ASSERT(mlfq_rng_uniform(&b) == (double)(x >> 11) / 9007199254740992.0);
  }
}

/* Chi-square statistic of draws of below(n) over n cells. */
static double chi_square_below(uint64_t seed, uint64_t n, int draws) {
  uint64_t counts[64] = {0};
  mlfq_rng_t r;
  double expect = (double)draws / (double)n, chi = 0, d;
  uint64_t v;
  int i;

  ASSERT(n <= 64);
  mlfq_rng_seed(&r, seed, 0);
  for (i = 0; i < draws; i++) {
    v = mlfq_rng_below(&r, n);
    ASSERT(v < n);
    counts[v]++;
  }
  for (v = 0; v < n; v++) {
    d = (double)counts[v] - expect;
    chi += d * d / expect;
  }
  return chi;
}

TEST(rng, below_bounds_and_uniformity) {
  const uint64_t big = UINT64_C(0xAAAAAAAAAAAAAAAB);
  mlfq_rng_t r;
  uint64_t v;
  int i, lo = 0;

  mlfq_rng_seed(&r, 3, 0);
  for (i = 0; i < 1000; i++)
    ASSERT_EQ_U64(mlfq_rng_below(&r, 1), 0);
  /* n = 2/3 of 2^64, where a plain x % n is most biased: it would put
   * 2/3 of the draws below n/2 instead of 1/2 (5000 +- 50 here). */
  for (i = 0; i < 10000; i++) {
    v = mlfq_rng_below(&r, big);
    ASSERT(v < big);
    lo += v < big / 2;
    ASSERT(mlfq_rng_below(&r, UINT64_MAX) < UINT64_MAX);
    ASSERT(mlfq_rng_below(&r, (UINT64_C(1) << 63) + 1) <= (UINT64_C(1) << 63));
  }
  ASSERT_NEAR(lo, 5000, 250);
  /* Chi-square with n - 1 degrees of freedom: mean n - 1, sd sqrt(2(n-1)).
   * Every bound is at least 5 sd above the mean. */
  ASSERT_LT_DBL(chi_square_below(1, 2, 200000), 25.0);
  ASSERT_LT_DBL(chi_square_below(2, 3, 300000), 30.0);
  ASSERT_LT_DBL(chi_square_below(3, 10, 500000), 40.0);
  ASSERT_LT_DBL(chi_square_below(4, 37, 1000000), 100.0);
  ASSERT_LT_DBL(chi_square_below(5, 64, 1000000), 150.0);
}

TEST(rng, exp_mean_and_variance) {
  mlfq_rng_t r;
  double *xs = malloc(N_DRAWS * sizeof(*xs));
  moments_t m;
  int i;

  ASSERT(xs != NULL);
  mlfq_rng_seed(&r, 11, 0);
  for (i = 0; i < N_DRAWS; i++) {
    xs[i] = mlfq_rng_exp(&r, 2.5);
    ASSERT(xs[i] >= 0.0 && isfinite(xs[i]));
  }
  m = moments(xs, N_DRAWS);
  /* sd of the mean is 0.1%; of the variance about 0.3%. */
  ASSERT_NEAR(m.mean / 2.5, 1.0, 0.01);
  ASSERT_NEAR(m.var / (2.5 * 2.5), 1.0, 0.02);
  free(xs);
}

TEST(rng, normal_mean_and_variance) {
  mlfq_rng_t r;
  double *xs = malloc(N_DRAWS * sizeof(*xs));
  moments_t m;
  int i, beyond2 = 0;

  ASSERT(xs != NULL);
  mlfq_rng_seed(&r, 13, 0);
  for (i = 0; i < N_DRAWS; i++) {
    xs[i] = mlfq_rng_normal(&r);
    ASSERT(isfinite(xs[i]));
    beyond2 += fabs(xs[i]) > 2.0;
  }
  m = moments(xs, N_DRAWS);
  ASSERT_NEAR(m.mean, 0.0, 0.005);
  ASSERT_NEAR(m.var, 1.0, 0.01);
  /* P(|Z| > 2) = 0.0455. */
  ASSERT_NEAR((double)beyond2 / N_DRAWS, 0.0455, 0.001);
  free(xs);
}

TEST(rng, normal_depends_only_on_generator) {
  /* A sampler that caches the second value of a pair in a static would hand
   * b's second value to c. */
  mlfq_rng_t a, b, c;
  double a1, a2, b1, b2;

  mlfq_rng_seed(&a, 17, 1);
  mlfq_rng_seed(&b, 17, 1);
  mlfq_rng_seed(&c, 18, 1);
  a1 = mlfq_rng_normal(&a);
  a2 = mlfq_rng_normal(&a);
  b1 = mlfq_rng_normal(&b);
  (void)mlfq_rng_normal(&c);
  b2 = mlfq_rng_normal(&b);
  ASSERT(a1 == b1);
  ASSERT(a2 == b2);
  ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
}

static void check_gamma(uint64_t seed, double k, double theta) {
  mlfq_rng_t r;
  double *xs = malloc(N_DRAWS * sizeof(*xs));
  moments_t m;
  int i;

  ASSERT(xs != NULL);
  mlfq_rng_seed(&r, seed, 0);
  for (i = 0; i < N_DRAWS; i++) {
    xs[i] = mlfq_rng_gamma(&r, k, theta);
    ASSERT(xs[i] >= 0.0 && isfinite(xs[i]));
  }
  m = moments(xs, N_DRAWS);
  /* Relative sd of the mean is 1/sqrt(k n) (0.4% at k = 1/16); of the
   * variance sqrt((2 + 6/k) / n) (1% at k = 1/16). */
  if (fabs(m.mean / (k * theta) - 1.0) > 0.02 ||
      fabs(m.var / (k * theta * theta) - 1.0) > 0.05)
    MLFQ_TEST_FAIL("gamma(k %g, theta %g): mean %g (want %g), var %g (want %g)",
                   k, theta, m.mean, k * theta, m.var, k * theta * theta);
  free(xs);
}

TEST(rng, gamma_mean_and_variance) {
  check_gamma(21, 0.0625, 2.0);
  check_gamma(22, 0.25, 2.0);
  check_gamma(23, 1.0, 2.0);
  check_gamma(24, 3.0, 2.0);
  check_gamma(25, 3.0, 0.001);
  check_gamma(26, 0.25, 1e6);
}
