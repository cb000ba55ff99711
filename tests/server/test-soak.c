/* The soak against mlfqd: 1,000 connections of four behaviours (soak.h). */
#include <signal.h>

#include "server/soak.h"

TEST(soak, daemon) {
  const char *args[] = {REPLICA_ARGS, EDGE_ARGS, NULL};
  mlfq_test_daemon_t d;

  soak_raise_nofile();
  mlfq_test_daemon_start(&d, args);
  soak("mlfqd", &d, NULL, 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 30), 0);
}
