/* mlfq-router's routing policies: each one's spread, read from Done.replica. */
/* A policy's picks through the router are replayed on a balancer
 * (core/balance.h) of the same policy and seed. */
#include "core/balance.h"
#include "wire/wire.h"

#include "router/rig.h"

/* Runs the requests first..last (in, out tokens) as one burst on c and
 * counts where they ran: count[r] for replica r (1-based). */
static void spread(tc_client_t *c, tc_seen_t *s, uint64_t first, uint64_t last,
                   uint32_t in, uint32_t out, int count[MAXREP + 1]) {
  uint64_t id;

  tc_submit_burst(c, first, last, in, out);
  rig_wait_ended(c, s, first, last);
  rig_assert_all_done(c, s, first, last, out, MAXREP);
  for (id = first; id <= last; id++)
    count[s->replica[id]]++;
}

/* The router's picks replayed on a balancer of the same policy and seed:
 * with no Token back during the burst, they must be the same. */
static void assert_replayed(const tc_seen_t *s, mlfq_balance_policy_t p,
                            uint64_t seed, uint64_t n, uint32_t in,
                            uint32_t out) {
  mlfq_balance_load_t *l = calloc(n + 1, sizeof(*l));
  mlfq_balance_t b;
  uint64_t id;
  int i;

  ASSERT(l != NULL);
  ASSERT_OK(mlfq_balance_init(&b, p, MAXREP, seed));
  for (i = 0; i < MAXREP; i++)
    mlfq_balance_set_up(&b, (size_t)i, 1);
  for (id = 1; id <= n; id++) {
    i = mlfq_balance_pick(&b);
    mlfq_balance_dispatch(&b, (size_t)i, &l[id], in, out);
    if (s->replica[id] != i + 1)
      MLFQ_TEST_FAIL("%s: request %llu ran on replica %d, the policy picks %d",
                     mlfq_balance_name(p), (unsigned long long)id,
                     s->replica[id], i + 1);
  }
  mlfq_balance_free(&b);
  free(l);
}

/* Runs one burst of n requests through a router of policy p over three
 * replicas; returns the count per replica in count. */
static void policy_run(const char *p, uint64_t n, uint32_t in, uint32_t out,
                       tc_seen_t *s, int count[MAXREP + 1]) {
  const char *rargs[] = {SLOW_PREFILL, NULL};
  const char *args[] = {"--policy", p, "--seed", "7", NULL};
  tc_client_t *c;
  rig_t g;

  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  spread(c, s, 1, n, in, out, count);
  tc_close(c);
  rig_stop(&g);
}

TEST(router, policy_round_robin) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};
  uint64_t id;

  ASSERT(s != NULL);
  policy_run("round-robin", 30, 10, 3, s, count);
  for (id = 1; id <= 30; id++)
    ASSERT_EQ(s->replica[id], (int)((id - 1) % 3) + 1);
  free(s);
}

/* 30 requests in one burst: loads count at dispatch, so 10 each. */
TEST(router, policy_least_requests) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};

  ASSERT(s != NULL);
  policy_run("least-requests", 30, 10, 3, s, count);
  ASSERT_EQ(count[1], 10);
  ASSERT_EQ(count[2], 10);
  ASSERT_EQ(count[3], 10);
  assert_replayed(s, MLFQ_BALANCE_LEAST_REQUESTS, 7, 30, 10, 3);
  free(s);
}

/* Token-aware: one long request (1,000 + 200 tokens) goes to replica 1,
 * and 20 short ones (20 + 20) all to the other two, which stay lighter in
 * tokens although they run more requests. */
TEST(router, policy_least_tokens) {
  const char *rargs[] = {SLOW_PREFILL, NULL};
  const char *args[] = {"--policy", "least-tokens", NULL};
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};
  mlfq_buf_t b;
  tc_client_t *c;
  uint64_t id;
  rig_t g;

  ASSERT(s != NULL);
  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  mlfq_buf_init(&b, 1 << 20);
  tc_put_submit(&b, 1, 1000, 200);
  for (id = 2; id <= 21; id++)
    tc_put_submit(&b, id, 20, 20);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  rig_wait_ended(c, s, 1, 21);
  rig_assert_all_done(c, s, 2, 21, 20, 3);
  ASSERT_EQ(c->tokens[1], 200);
  ASSERT_EQ(s->replica[1], 1);
  for (id = 2; id <= 21; id++)
    count[s->replica[id]]++;
  ASSERT_EQ(count[1], 0);
  ASSERT_EQ(count[2], 10);
  ASSERT_EQ(count[3], 10);
  tc_close(c);
  rig_stop(&g);
  free(s);
}

/* A seeded policy over a burst of 60: the router's picks are exactly the
 * balancer's own for the seed, and each replica gets at least min_each. */
static void seeded_policy(const char *name, mlfq_balance_policy_t p,
                          int min_each) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0}, i;

  ASSERT(s != NULL);
  policy_run(name, 60, 10, 3, s, count);
  assert_replayed(s, p, 7, 60, 10, 3);
  for (i = 1; i <= MAXREP; i++)
    ASSERT_GE(count[i], min_each);
  free(s);
}

TEST(router, policy_random) { seeded_policy("random", MLFQ_BALANCE_RANDOM, 6); }

/* Loads count at dispatch: the burst spreads evenly (the heaviest replica
 * is never picked). */
TEST(router, policy_power_of_two) {
  seeded_policy("power-of-two", MLFQ_BALANCE_POWER_OF_TWO, 15);
}
