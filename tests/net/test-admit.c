/* common/net/admit.c: who may add requests to a server, against the rules of
 * docs/PROTOCOL.md ("Fair share"): max-pending, max-pending-per-conn, and
 * while others have requests in flight, no more than the free slots. */
#include "net/admit.h"
#include "task.h"

TEST(admit, limits) {
  char why[256];

  ASSERT_EQ(mlfq_admit(0, 0, 1, 10, 5), MLFQ_ADMIT_OK);
  ASSERT_EQ(mlfq_admit(10, 0, 1, 10, 5), MLFQ_ADMIT_FULL);
  ASSERT_EQ(mlfq_admit(8, 0, 3, 10, 5), MLFQ_ADMIT_FULL); /* n at once */
  ASSERT_EQ(mlfq_admit(5, 5, 1, 10, 5), MLFQ_ADMIT_CONN);
  ASSERT_EQ(mlfq_admit(3, 3, 3, 10, 5), MLFQ_ADMIT_CONN);
  mlfq_admit_why(MLFQ_ADMIT_FULL, 10, 0, 10, 5, why, sizeof(why));
  ASSERT_STR_EQ(why, "10 requests pending (max-pending)");
  mlfq_admit_why(MLFQ_ADMIT_CONN, 7, 5, 10, 5, why, sizeof(why));
  ASSERT_CONTAINS(why, "5 requests pending on this connection");
  ASSERT_CONTAINS(why, "max-pending-per-conn 5");
  mlfq_admit_why(MLFQ_ADMIT_SHARE, 7, 3, 10, 5, why, sizeof(why));
  ASSERT_CONTAINS(why, "3 requests pending on this connection and 3 slots");
  ASSERT_CONTAINS(why, "fair share");
}

/* A connection whose requests are the only ones in flight meets only the
 * two limits: a per-connection limit of max-pending lets it take all. */
TEST(admit, alone_meets_only_the_limits) {
  ASSERT_EQ(mlfq_admit(999, 999, 1, 1000, 1000), MLFQ_ADMIT_OK);
  ASSERT_EQ(mlfq_admit(1000, 1000, 1, 1000, 1000), MLFQ_ADMIT_FULL);
  /* one request of another: now it may hold no more than the free slots */
  ASSERT_EQ(mlfq_admit(600, 599, 1, 1000, 1000), MLFQ_ADMIT_SHARE);
  ASSERT_EQ(mlfq_admit(600, 1, 1, 1000, 1000), MLFQ_ADMIT_OK);
  /* fewer than the free slots, after the new ones too: in */
  ASSERT_EQ(mlfq_admit(500, 100, 300, 1000, 1000), MLFQ_ADMIT_OK);
  ASSERT_EQ(mlfq_admit(500, 100, 401, 1000, 1000), MLFQ_ADMIT_SHARE);
}

/* Greedy connections come one after another and each takes what it can:
 * each stops at half of what the others left, and every one gets in while
 * a slot is free, as a connection with none in flight always does. When a
 * request ends, its slot goes to a connection holding none, never back to
 * one that holds some. */
TEST(admit, greedy_connections_cannot_starve_a_newcomer) {
  size_t held[16], total = 0, max = 1000, per = 500;
  int k;

  for (k = 0; k < 16; k++) {
    held[k] = 0;
    if (total < max)
      ASSERT_EQ(mlfq_admit(total, 0, 1, max, per), MLFQ_ADMIT_OK);
    while (mlfq_admit(total, held[k], 1, max, per) == MLFQ_ADMIT_OK) {
      held[k]++;
      total++;
    }
    if (total < max) /* it stopped at the free slots */
      ASSERT_GE(held[k], max - total);
  }
  ASSERT_EQ(held[0], 500);
  ASSERT_EQ(held[1], 250);
  ASSERT_EQ(held[2], 125);
  ASSERT_EQ(total, max);
  held[0]--; /* one of the first's requests ends */
  total--;
  for (k = 0; k < 16; k++)
    if (held[k] > 0)
      ASSERT_EQ(mlfq_admit(total, held[k], 1, max, per), MLFQ_ADMIT_SHARE);
  ASSERT_EQ(mlfq_admit(total, 0, 1, max, per), MLFQ_ADMIT_OK);
}

TEST(admit, default_per_conn_is_half) {
  ASSERT_EQ(mlfq_admit_default_per_conn(100000), 50000);
  ASSERT_EQ(mlfq_admit_default_per_conn(3), 1);
  ASSERT_EQ(mlfq_admit_default_per_conn(1), 1);
}
