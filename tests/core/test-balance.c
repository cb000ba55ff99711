/* The routing policies of common/core/balance.h: each policy's choices, down
 * replicas, the token accounting of a request's life, and bursts of picks
 * with no reply in between (loads change at dispatch). */
#include "core/balance.h"

#include "task.h"

#define ALL_POLICIES 5

/* A balancer over n replicas, all up. */
static void setup(mlfq_balance_t *b, mlfq_balance_policy_t p, size_t n,
                  uint64_t seed) {
  size_t i;

  ASSERT_OK(mlfq_balance_init(b, p, n, seed));
  for (i = 0; i < n; i++)
    mlfq_balance_set_up(b, i, 1);
}

/* Picks and dispatches a request of in + out tokens; returns the pick. */
static int send_one(mlfq_balance_t *b, mlfq_balance_load_t *l, uint32_t in,
                    uint32_t out) {
  int i = mlfq_balance_pick(b);

  ASSERT_GE(i, 0);
  mlfq_balance_dispatch(b, (size_t)i, l, in, out);
  return i;
}

TEST(balance, names) {
  mlfq_balance_policy_t p;
  int i;

  for (i = 0; i < ALL_POLICIES; i++) {
    ASSERT_OK(
        mlfq_balance_parse(mlfq_balance_name((mlfq_balance_policy_t)i), &p));
    ASSERT_EQ(p, i);
  }
  ASSERT_STR_EQ(mlfq_balance_name(MLFQ_BALANCE_LEAST_TOKENS), "least-tokens");
  ASSERT_STR_EQ(mlfq_balance_name(MLFQ_BALANCE_POWER_OF_TWO), "power-of-two");
  ASSERT_EQ(mlfq_balance_parse("least", &p), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_balance_parse("", &p), MLFQ_EINVAL);
}

/* With no replica up every policy answers -1; one up is always picked. */
TEST(balance, none_up) {
  mlfq_balance_t b;
  int p, k;

  for (p = 0; p < ALL_POLICIES; p++) {
    ASSERT_OK(mlfq_balance_init(&b, (mlfq_balance_policy_t)p, 4, 1));
    ASSERT_EQ(mlfq_balance_pick(&b), -1);
    mlfq_balance_set_up(&b, 2, 1);
    for (k = 0; k < 20; k++)
      ASSERT_EQ(mlfq_balance_pick(&b), 2);
    mlfq_balance_set_up(&b, 2, 0);
    ASSERT_EQ(mlfq_balance_pick(&b), -1);
    mlfq_balance_free(&b);
  }
}

TEST(balance, round_robin) {
  static const int want[] = {0, 1, 2, 0, 1, 2, 0};
  mlfq_balance_t b;
  size_t k;

  setup(&b, MLFQ_BALANCE_ROUND_ROBIN, 3, 1);
  for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
    ASSERT_EQ(mlfq_balance_pick(&b), want[k]);
  /* Next is 1; it is down, so 2, then 0, 2, 0. */
  mlfq_balance_set_up(&b, 1, 0);
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  ASSERT_EQ(mlfq_balance_pick(&b), 0);
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  ASSERT_EQ(mlfq_balance_pick(&b), 0);
  /* Back up: it takes its turn again. */
  mlfq_balance_set_up(&b, 1, 1);
  ASSERT_EQ(mlfq_balance_pick(&b), 1);
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  mlfq_balance_free(&b);
}

/* Uniform over the up replicas, never a down one, the same for a seed. */
TEST(balance, random) {
  mlfq_balance_t a, b;
  int count[4] = {0}, k, i;

  setup(&a, MLFQ_BALANCE_RANDOM, 4, 7);
  setup(&b, MLFQ_BALANCE_RANDOM, 4, 7);
  mlfq_balance_set_up(&a, 1, 0);
  mlfq_balance_set_up(&b, 1, 0);
  for (k = 0; k < 3000; k++) {
    i = mlfq_balance_pick(&a);
    ASSERT_EQ(mlfq_balance_pick(&b), i);
    ASSERT(i == 0 || i == 2 || i == 3);
    count[i]++;
  }
  for (i = 0; i < 4; i++) {
    if (i == 1)
      continue;
    ASSERT_GT(count[i], 850); /* 1000 expected; sd about 26 */
    ASSERT_LT(count[i], 1150);
  }
  mlfq_balance_free(&a);
  mlfq_balance_free(&b);
}

TEST(balance, least_requests) {
  mlfq_balance_load_t l[8];
  mlfq_balance_t b;

  setup(&b, MLFQ_BALANCE_LEAST_REQUESTS, 3, 1);
  /* Ties go to the lowest index; a big request counts as one. */
  ASSERT_EQ(send_one(&b, &l[0], 1000, 1000), 0);
  ASSERT_EQ(send_one(&b, &l[1], 1, 1), 1);
  ASSERT_EQ(send_one(&b, &l[2], 1, 1), 2);
  ASSERT_EQ(send_one(&b, &l[3], 1, 1), 0);
  /* 0 has two; ending one of 1's leaves 1 with none. */
  mlfq_balance_end(&b, 1, &l[1]);
  ASSERT_EQ(mlfq_balance_pick(&b), 1);
  /* Down replicas are skipped however light. */
  mlfq_balance_set_up(&b, 1, 0);
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  mlfq_balance_free(&b);
}

TEST(balance, least_tokens) {
  mlfq_balance_load_t l[8];
  mlfq_balance_t b;
  int k;

  setup(&b, MLFQ_BALANCE_LEAST_TOKENS, 3, 1);
  ASSERT_EQ(send_one(&b, &l[0], 1000, 1000), 0); /* 2000 */
  ASSERT_EQ(send_one(&b, &l[1], 10, 10), 1);     /* 20 */
  ASSERT_EQ(send_one(&b, &l[2], 10, 20), 2);     /* 30 */
  ASSERT_EQ(send_one(&b, &l[3], 5, 5), 1);       /* 30: tie with 2 */
  ASSERT_EQ(send_one(&b, &l[4], 1, 1), 1);       /* 1 wins the tie: 32 */
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  /* Tokens move the load: 0's prefill and 999 tokens leave 1 token. */
  for (k = 0; k < 999; k++)
    mlfq_balance_token(&b, 0, &l[0]);
  ASSERT_EQ_U64(b.replicas[0].tokens, 1);
  ASSERT_EQ(mlfq_balance_pick(&b), 0);
  mlfq_balance_set_up(&b, 0, 0);
  ASSERT_EQ(mlfq_balance_pick(&b), 2);
  mlfq_balance_free(&b);
}

/* Two replicas up: the pair is always both, so power-of-two always takes
 * the lighter; with three, it never takes the strictly heaviest (any pair
 * of distinct replicas holds a lighter one). */
TEST(balance, power_of_two) {
  mlfq_balance_load_t l[4];
  mlfq_balance_t b;
  uint64_t seed;
  int k, i, heavy, count[3];

  setup(&b, MLFQ_BALANCE_POWER_OF_TWO, 3, 3);
  mlfq_balance_set_up(&b, 0, 0);
  mlfq_balance_dispatch(&b, 2, &l[0], 1, 1); /* 2: 2 tokens, 1: none */
  for (k = 0; k < 1000; k++)
    ASSERT_EQ(mlfq_balance_pick(&b), 1);
  mlfq_balance_set_up(&b, 0, 1);
  mlfq_balance_free(&b);

  for (seed = 1; seed <= 20; seed++) {
    setup(&b, MLFQ_BALANCE_POWER_OF_TWO, 3, seed);
    heavy = (int)(seed % 3);
    mlfq_balance_dispatch(&b, (size_t)heavy, &l[0], 100, 100);
    mlfq_balance_dispatch(&b, (size_t)(heavy + 1) % 3, &l[1], 10, 10);
    count[0] = count[1] = count[2] = 0;
    for (k = 0; k < 300; k++) {
      i = mlfq_balance_pick(&b);
      ASSERT_NE(i, heavy);
      count[i]++;
    }
    /* The lightest is in 2 of the 3 pairs: about 200 of 300. */
    ASSERT_GT(count[(heavy + 2) % 3], 150);
    ASSERT_LT(count[(heavy + 2) % 3], 250);
    mlfq_balance_free(&b);
  }
}

/* A request's life in the load: + in + out at dispatch, - (in + 1) at the
 * first Token, - 1 at each later one, the rest at its end. */
TEST(balance, token_accounting) {
  mlfq_balance_load_t a, c;
  mlfq_balance_t b;
  int k;

  setup(&b, MLFQ_BALANCE_LEAST_TOKENS, 2, 1);
  mlfq_balance_dispatch(&b, 0, &a, 10, 5);
  ASSERT_EQ_U64(b.replicas[0].requests, 1);
  ASSERT_EQ_U64(b.replicas[0].tokens, 15);
  mlfq_balance_token(&b, 0, &a);
  ASSERT_EQ_U64(b.replicas[0].tokens, 4);
  for (k = 0; k < 4; k++)
    mlfq_balance_token(&b, 0, &a);
  ASSERT_EQ_U64(b.replicas[0].tokens, 0);
  ASSERT_EQ_U64(a.left, 0);
  /* A Token too many never takes the load below 0. */
  mlfq_balance_token(&b, 0, &a);
  ASSERT_EQ_U64(b.replicas[0].tokens, 0);
  mlfq_balance_end(&b, 0, &a);
  ASSERT_EQ_U64(b.replicas[0].requests, 0);

  /* Ended early (cancelled, lost): what is left goes. */
  mlfq_balance_dispatch(&b, 1, &a, 100, 50);
  mlfq_balance_dispatch(&b, 1, &c, 7, 3);
  mlfq_balance_token(&b, 1, &a);
  mlfq_balance_token(&b, 1, &a);
  ASSERT_EQ_U64(b.replicas[1].tokens, 48 + 10);
  mlfq_balance_end(&b, 1, &a);
  ASSERT_EQ_U64(b.replicas[1].tokens, 10);
  ASSERT_EQ_U64(b.replicas[1].requests, 1);
  /* Going down keeps the load; the owner ends the requests. */
  mlfq_balance_set_up(&b, 1, 0);
  ASSERT_EQ_U64(b.replicas[1].tokens, 10);
  mlfq_balance_end(&b, 1, &c);
  ASSERT_EQ_U64(b.replicas[1].tokens, 0);
  ASSERT_EQ_U64(b.replicas[1].requests, 0);
  mlfq_balance_free(&b);
}

/* 100 picks with no Token in between, on loads that start uneven: the
 * least-* policies even them out and then spread the rest evenly, because
 * each dispatch counts at once; power-of-two keeps them close. */
TEST(balance, burst_on_stale_loads) {
  static const mlfq_balance_policy_t pol[] = {MLFQ_BALANCE_LEAST_REQUESTS,
                                              MLFQ_BALANCE_LEAST_TOKENS,
                                              MLFQ_BALANCE_POWER_OF_TWO};
  mlfq_balance_load_t l[110];
  mlfq_balance_t b;
  size_t p;
  int k, count[3], lo, hi, i;

  for (p = 0; p < sizeof(pol) / sizeof(pol[0]); p++) {
    setup(&b, pol[p], 3, 5);
    /* Before the burst: 1 has 2 requests of 10 tokens, 2 has 1. */
    mlfq_balance_dispatch(&b, 1, &l[100], 5, 5);
    mlfq_balance_dispatch(&b, 1, &l[101], 5, 5);
    mlfq_balance_dispatch(&b, 2, &l[102], 5, 5);
    count[0] = count[1] = count[2] = 0;
    for (k = 0; k < 100; k++)
      count[send_one(&b, &l[k], 5, 5)]++;
    /* 103 requests in all: 35, 34, 34 including the three before. */
    count[1] += 2;
    count[2] += 1;
    lo = hi = count[0];
    for (i = 1; i < 3; i++) {
      lo = count[i] < lo ? count[i] : lo;
      hi = count[i] > hi ? count[i] : hi;
    }
    /* power-of-two may pick the first of a tied pair over a lighter
     * third: close, not exact. */
    if (hi - lo > (pol[p] == MLFQ_BALANCE_POWER_OF_TWO ? 4 : 1))
      MLFQ_TEST_FAIL("%s: %d, %d, %d requests", mlfq_balance_name(pol[p]),
                     count[0], count[1], count[2]);
    for (i = 0; i < 3; i++)
      ASSERT_EQ_U64(b.replicas[i].requests, (uint64_t)count[i]);
    mlfq_balance_free(&b);
  }
}
