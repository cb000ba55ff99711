/* The soak through mlfq-router over two replicas (server/soak.h). */
#include <signal.h>

#include "router/rig.h"
#include "server/soak.h"

/* The router is measured, and neither replica may leak a descriptor. */
TEST(soak, router) {
  const char *rargs[] = {REPLICA_ARGS, NULL};
  const char *args[] = {"--max-connections", "4096", "--max-queued-bytes",
                        "16384", NULL};
  rig_t g;
  int i;

  soak_raise_nofile();
  rig_start(&g, 2, rargs, args);
  soak("mlfq-router", &g.router, g.rep, 2);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.router, SIGTERM, 30), 0);
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[i], SIGTERM, 30), 0);
}
