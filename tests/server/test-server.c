/* server/server.c at the edge of model time: iterations whose cost
 * saturates, and what Stats says of them. A daemon run by a test is real,
 * on an ephemeral port; every wait has a deadline. */
#include <signal.h>

#include "client.h"

/* A profile whose prefill of 1 token takes a microsecond and whose
 * prefill of 100 tokens, extrapolated, takes about 10^14 ms: 10^20 ns,
 * past UINT64_MAX, so the iteration's cost saturates. */
static const char huge_prefill[] = "input_length,prefill_ms,decode_ms\n"
                                   "1,0.001,0.001\n"
                                   "2,1e12,0.001\n";

/* An engine's busy time was summed with +=: after a short iteration, one
 * whose cost saturated (UINT64_MAX) wrapped it to the short one's time
 * less 1 ns, and Stats showed an engine busy for ever as idle. Now the sum
 * saturates, and Stats shows it busy. */
TEST(server, busy_time_saturates) {
  const char *args[] = {"--profile",
                        mlfq_test_tmpfile(".csv", huge_prefill),
                        "--time-scale",
                        "1e-6",
                        "--drain-timeout",
                        "0.1",
                        NULL};
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *c;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  tc_run(c, 1, 1, 1); /* one iteration of a microsecond */
  tc_submit(c, 2, 100, 1);
  for (;;) { /* until request 2 is in the engine */
    m = tc_stats(c);
    if (m->stats->running == 1)
      break;
    mlfq__server_message__free_unpacked(m, NULL);
    ASSERT_GT(tc_left_ms(deadline), 0);
  }
  ASSERT_EQ(m->stats->n_worker_busy, 1);
  ASSERT_LE_DBL(0.999, m->stats->worker_busy[0]);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}
