/* The router tests' rig (rig.h). */
#include <signal.h>

#include "wire/wire.h"

#include "router/rig.h"

/* The number of replicas the router's Stats shows up, with *m the reply
 * (freed by the caller). */
static int count_up(tc_client_t *c, Mlfq__ServerMessage **m) {
  size_t i;
  int up = 0;

  *m = tc_stats(c);
  for (i = 0; i < (*m)->stats->n_replicas; i++)
    up += (*m)->stats->replicas[i]->up;
  return up;
}

/* Starts n replicas with rargs and a router over them with args, and
 * waits until the router has every replica up. */
void rig_start(rig_t *g, int n, const char *const *rargs,
               const char *const *args) {
  const char *argv[64];
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  int64_t deadline;
  int i, k = 0, up;

  memset(g, 0, sizeof(*g));
  g->n = n;
  for (i = 0; i < n; i++) {
    mlfq_test_daemon_start(&g->rep[i], rargs);
    g->running[i] = 1;
    argv[k++] = "--replica";
    argv[k++] = g->rep[i].addr;
  }
  while (args != NULL && *args != NULL && k < 62)
    argv[k++] = *args++;
  argv[k] = NULL;
  mlfq_test_server_start(&g->router, ROUTER, argv);
  c = tc_open(&g->router, 1);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    up = count_up(c, &m);
    mlfq__server_message__free_unpacked(m, NULL);
    if (up == n)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  tc_close(c);
}

/* Stops the router and the replicas still running; each exits 0. */
void rig_stop(rig_t *g) {
  int i;

  ASSERT_EQ(mlfq_test_daemon_stop(&g->router, SIGTERM, 10), 0);
  for (i = 0; i < g->n; i++)
    if (g->running[i])
      ASSERT_EQ(mlfq_test_daemon_stop(&g->rep[i], SIGTERM, 10), 0);
}

/* Receives until requests first..last have all ended. */
void rig_wait_ended(tc_client_t *c, tc_seen_t *s, uint64_t first,
                    uint64_t last) {
  int64_t deadline = tc_now_ms() + 2 * TC_WAIT_MS;
  uint64_t id;

  for (id = first; id <= last; id++)
    while (s->ends[id] == 0)
      tc_take(c, s, deadline);
}

/* Every request first..last ended once, with Done and out Tokens from a
 * replica in 1..n, and nothing came after its end. */
void rig_assert_all_done(tc_client_t *c, const tc_seen_t *s, uint64_t first,
                         uint64_t last, uint32_t out, int n) {
  uint64_t id;

  for (id = first; id <= last; id++) {
    if (s->code[id] != 0)
      MLFQ_TEST_FAIL("request %llu ended with %s", (unsigned long long)id,
                     mlfq_wire_error_name(s->code[id]));
    ASSERT_EQ(s->ends[id], 1);
    ASSERT_EQ(s->after[id], 0);
    ASSERT_EQ(c->tokens[id], out);
    ASSERT_EQ(c->done[id], 1);
    ASSERT_GE(s->replica[id], 1);
    ASSERT_LE(s->replica[id], n);
  }
}

/* Receives until requests first..last have all been accepted (replicas
 * answer independently: not necessarily in order). */
void rig_wait_accepted(tc_client_t *c, uint64_t first, uint64_t last) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  uint64_t id;

  for (id = first; id <= last; id++)
    while (c->accepted[id] == 0)
      mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)),
                                          NULL);
}
