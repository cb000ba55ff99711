/* server/faults.c: which fault a request gets. */
/* The decision alone, without a daemon: the same seed gives the same
 * faults; the rate and the uniform choice of kinds hold within a few
 * standard deviations over 10,000 draws; the drop point stays inside the
 * output; the counters and their /metrics lines; --fault-kinds. */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "faults.h"
#include "task.h"

#define DRAWS 10000

static void init(faults_t *f, double rate, unsigned kinds, uint64_t seed) {
  faults_opts_t o;

  faults_opts_init(&o);
  o.rate = rate;
  o.kinds = kinds;
  o.seed = seed;
  faults_init(f, &o);
}

TEST(faults, same_seed_same_faults) {
  faults_t a, b, c;
  fault_t x, y, z;
  int i, differ = 0;

  init(&a, 0.5, FAULTS_ALL, 42);
  init(&b, 0.5, FAULTS_ALL, 42);
  init(&c, 0.5, FAULTS_ALL, 43);
  for (i = 0; i < DRAWS; i++) {
    x = faults_draw(&a);
    y = faults_draw(&b);
    z = faults_draw(&c);
    ASSERT_EQ(x.kind, y.kind);
    ASSERT(x.at == y.at);
    differ += x.kind != z.kind;
  }
  ASSERT_GT(differ, DRAWS / 10); /* another seed, another sequence */
}

/* Binomial counts: within 5 standard deviations of n p. */
static void near_binomial(uint64_t count, double n, double p) {
  double sd = sqrt(n * p * (1 - p));

  ASSERT_NEAR((double)count, n * p, 5 * sd + 1);
}

TEST(faults, rate_and_kinds_hold) {
  static const double rates[] = {0.05, 0.3, 0.5, 0.9};
  uint64_t seen[FAULT_KINDS], faulted;
  faults_t f;
  fault_t ft;
  size_t r;
  int i, k;

  for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
    init(&f, rates[r], FAULTS_ALL, 7 + r);
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < DRAWS; i++) {
      ft = faults_draw(&f);
      seen[ft.kind]++;
      ASSERT(ft.at >= 0 && ft.at < 1);
    }
    faulted = DRAWS - seen[FAULT_NONE];
    near_binomial(faulted, DRAWS, rates[r]);
    for (k = FAULT_NONE + 1; k < FAULT_KINDS; k++) {
      near_binomial(seen[k], DRAWS, rates[r] / 4); /* uniform over 4 */
      ASSERT_EQ_U64(f.injected[k], seen[k]);
    }
    ASSERT_EQ_U64(f.drawn, DRAWS);
  }
}

/* Rate 0 never faults, rate 1 always does, and only with the kinds
 * chosen. */
TEST(faults, edges_and_subsets) {
  unsigned kinds = (1u << FAULT_DROP) | (1u << FAULT_RATE_LIMIT);
  uint64_t seen[FAULT_KINDS] = {0};
  faults_t f;
  int i;

  init(&f, 0, FAULTS_ALL, 1);
  for (i = 0; i < DRAWS; i++)
    ASSERT_EQ(faults_draw(&f).kind, FAULT_NONE);
  init(&f, 1, kinds, 1);
  for (i = 0; i < DRAWS; i++)
    seen[faults_draw(&f).kind]++;
  ASSERT_EQ_U64(seen[FAULT_NONE], 0);
  ASSERT_EQ_U64(seen[FAULT_SERVER_ERROR], 0);
  ASSERT_EQ_U64(seen[FAULT_SLOW_FIRST_TOKEN], 0);
  near_binomial(seen[FAULT_DROP], DRAWS, 0.5);
  ASSERT_EQ_U64(seen[FAULT_DROP] + seen[FAULT_RATE_LIMIT], DRAWS);
}

/* The drop point is in [1, output - 1], uniformly; 0 for one token. */
TEST(faults, drop_point) {
  uint64_t hits[11] = {0}, k, out;
  fault_t ft = {FAULT_DROP, 0};
  faults_t f;
  int i;

  ASSERT_EQ_U64(faults_drop_after(&ft, 1), 0);
  ASSERT_EQ_U64(faults_drop_after(&ft, 2), 1);
  ft.at = nextafter(1.0, 0.0);
  for (out = 2; out < 1000; out++)
    ASSERT_EQ_U64(faults_drop_after(&ft, out), out - 1);
  /* Past 2^53 the product rounds; the point stays inside. */
  ASSERT_LE_U64(faults_drop_after(&ft, UINT64_MAX), UINT64_MAX - 1);
  ASSERT_LE_U64(faults_drop_after(&ft, (1ull << 53) + 2), 1ull << 53);
  init(&f, 1, 1u << FAULT_DROP, 3);
  for (i = 0; i < DRAWS; i++) {
    ft = faults_draw(&f);
    k = faults_drop_after(&ft, 11);
    ASSERT(k >= 1 && k <= 10);
    hits[k]++;
  }
  for (k = 1; k <= 10; k++)
    near_binomial(hits[k], DRAWS, 0.1);
}

TEST(faults, kinds_option) {
  unsigned kinds = 0;
  char err[256];

  ASSERT_EQ(faults_parse_kinds("drop", &kinds, err, sizeof(err)), 0);
  ASSERT_EQ(kinds, 1u << FAULT_DROP);
  ASSERT_EQ(faults_parse_kinds("rate-limit,server-error,drop,slow-first-token",
                               &kinds, err, sizeof(err)),
            0);
  ASSERT_EQ(kinds, FAULTS_ALL);
  ASSERT_EQ(faults_parse_kinds("drop,slow", &kinds, err, sizeof(err)),
            MLFQ_EINVAL);
  ASSERT_CONTAINS(err, "'slow' in 'drop,slow'");
  ASSERT_EQ(faults_parse_kinds("drop,", &kinds, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_EQ(faults_parse_kinds("", &kinds, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(faults_name(FAULT_SLOW_FIRST_TOKEN), "slow-first-token");
}

TEST(faults, metrics_lines) {
  mlfq_buf_t b;
  faults_t f;
  int i;

  init(&f, 1, 1u << FAULT_SERVER_ERROR, 1);
  for (i = 0; i < 3; i++)
    faults_draw(&f);
  mlfq_buf_init(&b, 1 << 16);
  ASSERT_EQ(faults_metrics_write(&f, &b), 0);
  ASSERT_EQ(mlfq_buf_append(&b, "", 1), 0);
  ASSERT_CONTAINS((char *)b.data,
                  "# TYPE mlfqd_faults_injected_total counter\n");
  ASSERT_CONTAINS((char *)b.data,
                  "mlfqd_faults_injected_total{kind=\"server-error\"} 3\n");
  ASSERT_CONTAINS((char *)b.data,
                  "mlfqd_faults_injected_total{kind=\"drop\"} 0\n");
  mlfq_buf_free(&b);
}
