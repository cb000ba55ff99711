/* The log-linear histogram against sorted-array references. */
#include "base/hist.h"
#include "base/rng.h"
#include "task.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;

  return (x > y) - (x < y);
}

/* The nearest-rank percentile p of sorted xs[0..n). */
static uint64_t ref_percentile(const uint64_t *xs, size_t n, double p) {
  double r;
  size_t rank;

  r = ceil(p / 100.0 * (double)n);
  rank = r < 1.0 ? 1 : r > (double)n ? n : (size_t)r;
  return xs[rank - 1];
}

static const double PS[] = {0.001, 0.1, 1,  5,    10,    25,     50, 75,
                            90,    95,  99, 99.9, 99.99, 99.999, 100};
#define NPS (sizeof(PS) / sizeof(PS[0]))

/* Checks every percentile of PS against the sorted reference. */
static void check_against(const mlfq_hist_t *h, uint64_t *xs, size_t n,
                          double tol) {
  uint64_t got, want;
  size_t i;

  qsort(xs, n, sizeof(xs[0]), cmp_u64);
  ASSERT_EQ_U64(h->n, n);
  ASSERT_EQ_U64(h->min, xs[0]);
  ASSERT_EQ_U64(h->max, xs[n - 1]);
  for (i = 0; i < NPS; i++) {
    got = mlfq_hist_percentile(h, PS[i]);
    want = ref_percentile(xs, n, PS[i]);
    ASSERT_NEAR(got, want, tol * (double)want);
  }
}

TEST(hist, empty_is_zero) {
  mlfq_hist_t h;

  mlfq_hist_init(&h);
  ASSERT_EQ_U64(h.n, 0);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 50), 0);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 100), 0);
  ASSERT_NEAR(mlfq_hist_mean(&h), 0.0, 0.0);
}

TEST(hist, exact_small_values) {
  mlfq_hist_t h;
  uint64_t v, k;

  /* Every value below 64 (and in fact below 128) has its own bucket. */
  for (v = 0; v < 128; v++) {
    mlfq_hist_init(&h);
    mlfq_hist_add(&h, 0);
    mlfq_hist_add(&h, v);
    mlfq_hist_add(&h, v);
    mlfq_hist_add(&h, 1000);
    ASSERT_EQ_U64(mlfq_hist_percentile(&h, 50), v);
  }
  /* 0..63 once each: the k-th of 64 ranks is value k - 1. */
  mlfq_hist_init(&h);
  for (v = 0; v < 64; v++)
    mlfq_hist_add(&h, v);
  for (k = 1; k <= 64; k++)
    ASSERT_EQ_U64(mlfq_hist_percentile(&h, 100.0 * (double)k / 64.0), k - 1);
  ASSERT_NEAR(mlfq_hist_mean(&h), 31.5, 1e-12);
}

TEST(hist, relative_error_wide_range) {
  enum { N = 200000 };
  uint64_t *xs;
  mlfq_hist_t h;
  mlfq_rng_t r;
  size_t i;

  xs = malloc(N * sizeof(*xs));
  ASSERT(xs != NULL);
  mlfq_rng_seed(&r, 7, 0);

  /* Uniform over 1..1e9. */
  mlfq_hist_init(&h);
  for (i = 0; i < N; i++) {
    xs[i] = 1 + mlfq_rng_below(&r, 1000000000);
    mlfq_hist_add(&h, xs[i]);
  }
  check_against(&h, xs, N, 0.016);

  /* Log-uniform over 1..1e9, so that every power of two is exercised. */
  mlfq_hist_init(&h);
  for (i = 0; i < N; i++) {
    xs[i] = (uint64_t)exp(mlfq_rng_uniform(&r) * log(1e9));
    if (xs[i] < 1)
      xs[i] = 1;
    mlfq_hist_add(&h, xs[i]);
  }
  check_against(&h, xs, N, 0.016);
  free(xs);
}

TEST(hist, p100_is_max) {
  mlfq_hist_t h;
  mlfq_rng_t r;
  uint64_t v, max;
  int i;

  mlfq_rng_seed(&r, 11, 0);
  mlfq_hist_init(&h);
  max = 0;
  for (i = 0; i < 10000; i++) {
    v = mlfq_rng_below(&r, UINT64_C(1) << 40);
    max = v > max ? v : max;
    mlfq_hist_add(&h, v);
    ASSERT_EQ_U64(mlfq_hist_percentile(&h, 100), max);
  }
  /* A value just below a power of two sits low in a wide bucket. */
  mlfq_hist_init(&h);
  mlfq_hist_add(&h, 1000);
  mlfq_hist_add(&h, (UINT64_C(1) << 40) - 1);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 100), (UINT64_C(1) << 40) - 1);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 50), 1000);
}

TEST(hist, extreme_values) {
  mlfq_hist_t h;

  mlfq_hist_init(&h);
  mlfq_hist_add(&h, UINT64_MAX);
  mlfq_hist_add(&h, UINT64_MAX - 1);
  mlfq_hist_add(&h, UINT64_C(1) << 63);
  mlfq_hist_add(&h, 0);
  ASSERT_EQ_U64(h.min, 0);
  ASSERT_EQ_U64(h.max, UINT64_MAX);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 25), 0);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 100), UINT64_MAX);
  ASSERT_NEAR((double)mlfq_hist_percentile(&h, 50), 0x1p63, 0x1p63 / 128);
  ASSERT_NEAR((double)mlfq_hist_percentile(&h, 75), 0x1p64, 0x1p64 / 128);
  /* Out-of-contract p falls to the ends rather than misbehaving. */
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 0), 0);
  ASSERT_EQ_U64(mlfq_hist_percentile(&h, 1000), UINT64_MAX);
}

TEST(hist, mean) {
  mlfq_hist_t h;

  mlfq_hist_init(&h);
  mlfq_hist_add(&h, 10);
  mlfq_hist_add(&h, 20);
  mlfq_hist_add(&h, 1000000007);
  ASSERT_NEAR(mlfq_hist_mean(&h), (10.0 + 20.0 + 1000000007.0) / 3.0, 1e-6);
}

TEST(hist, merge_equals_adding_all) {
  static mlfq_hist_t a, b, all, empty;
  mlfq_rng_t r;
  uint64_t v;
  size_t i;

  mlfq_rng_seed(&r, 3, 0);
  mlfq_hist_init(&a);
  mlfq_hist_init(&b);
  mlfq_hist_init(&all);
  mlfq_hist_init(&empty);
  for (i = 0; i < 50000; i++) {
    v = mlfq_rng_below(&r, UINT64_C(1) << (1 + mlfq_rng_below(&r, 50)));
    mlfq_hist_add(i % 3 == 0 ? &a : &b, v);
    mlfq_hist_add(&all, v);
  }
  mlfq_hist_merge(&a, &empty);
  mlfq_hist_merge(&a, &b);
  ASSERT(memcmp(a.counts, all.counts, sizeof(a.counts)) == 0);
  ASSERT_EQ_U64(a.n, all.n);
  ASSERT_EQ_U64(a.min, all.min);
  ASSERT_EQ_U64(a.max, all.max);
  ASSERT_NEAR(a.sum, all.sum, 1e-9 * all.sum);
  for (i = 0; i < NPS; i++)
    ASSERT_EQ_U64(mlfq_hist_percentile(&a, PS[i]),
                  mlfq_hist_percentile(&all, PS[i]));
  ASSERT_NEAR(mlfq_hist_mean(&a), mlfq_hist_mean(&all),
              1e-9 * mlfq_hist_mean(&all));

  /* Into an empty histogram, min and max come from src alone. */
  mlfq_hist_init(&empty);
  mlfq_hist_merge(&empty, &b);
  ASSERT_EQ_U64(empty.min, b.min);
  ASSERT_EQ_U64(empty.max, b.max);
  ASSERT_EQ_U64(empty.n, b.n);
}
