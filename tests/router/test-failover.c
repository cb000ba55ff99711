/* mlfq-router's failover: a replica killed, restarted, absent or late. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/wire.h"

#include "router/rig.h"

/* Waits for every request first..last to have a Token (all are running),
 * recording what comes in s. */
static void wait_running(tc_client_t *c, tc_seen_t *s, uint64_t first,
                         uint64_t last) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  uint64_t id;

  for (id = first; id <= last; id++)
    while (c->tokens[id] == 0 && s->ends[id] == 0)
      tc_take(c, s, deadline);
}

/* Output tokens of a request on a replica that the test kills: 200 s at
 * 2 ms a token, so that it is still running when the kill comes, however
 * late (the test's own timeout is shorter). Submitted round-robin over
 * three replicas with tc_submit_cycle from id 1, the requests of replica 2
 * ((id - 1) % 3 == 1) ask for it. */
#define DOOMED_OUT 100000

/* Kills replica i with SIGKILL and reaps it. */
static void kill_replica(rig_t *g, int i) {
  ASSERT_EQ(kill(g->rep[i].pid, SIGKILL), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&g->rep[i], 0, 5), -1);
  g->running[i] = 0;
}

/* kill -9 of a replica while 45 requests run (15 on each, round-robin;
 * the killed one's cannot finish first): its 15 end with REPLICA_LOST
 * naming it, the 30 others complete with every token, none ends twice or
 * hears anything after its end; new requests go to the two survivors, and
 * Stats shows it down with 15 lost. */
TEST(router, replica_killed_mid_run) {
  const char *rargs[] = {"--decode-ms", "2",           "--prefill-ms-per-token",
                         "0.01",        "--max-batch", "32",
                         NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  const uint32_t out[3] = {200, DOOMED_OUT, 200};
  tc_seen_t *s = calloc(1, sizeof(*s));
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  uint64_t id;
  rig_t g;

  ASSERT(s != NULL);
  rig_start(&g, 3, rargs, args);
  snprintf(s->lost_name, sizeof(s->lost_name), "replica 2 (%s)", g.rep[1].addr);
  c = tc_open(&g.router, 1);
  tc_submit_cycle(c, 1, 45, 4, out, 3); /* 400 ms, or 200 s on 2 */
  wait_running(c, s, 1, 45);
  kill_replica(&g, 1);
  rig_wait_ended(c, s, 1, 45);
  for (id = 1; id <= 45; id++) {
    ASSERT_EQ(s->ends[id], 1);
    ASSERT_EQ(s->after[id], 0);
    if ((id - 1) % 3 == 1) {
      ASSERT_EQ(s->code[id], MLFQ__ERROR_CODE__REPLICA_LOST);
      ASSERT_EQ(c->done[id], 0);
      ASSERT_LT(c->tokens[id], DOOMED_OUT);
    } else {
      ASSERT_EQ(s->code[id], 0);
      ASSERT_EQ(c->done[id], 1);
      ASSERT_EQ(c->tokens[id], 200);
      ASSERT_EQ(s->replica[id], (int)((id - 1) % 3) + 1);
    }
  }
  tc_submit_burst(c, 101, 110, 4, 5);
  rig_wait_ended(c, s, 101, 110);
  rig_assert_all_done(c, s, 101, 110, 5, 3);
  for (id = 101; id <= 110; id++)
    ASSERT_NE(s->replica[id], 2);
  m = tc_stats(c);
  ASSERT_EQ(m->stats->n_replicas, 3);
  ASSERT_EQ(m->stats->replicas[1]->up, 0);
  ASSERT(m->stats->replicas[1]->stats == NULL);
  ASSERT_EQ_U64(m->stats->replicas[1]->lost, 15);
  ASSERT_EQ_U64(m->stats->replicas[1]->outstanding_requests, 0);
  ASSERT_EQ_U64(m->stats->replicas[1]->outstanding_tokens, 0);
  ASSERT_EQ_U64(m->stats->replicas[0]->routed + m->stats->replicas[2]->routed,
                40);
  ASSERT_EQ_U64(m->stats->completed, 40);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  free(s);
  rig_stop(&g);
}

/* A replica killed mid-run and started again on its port: while it is
 * down requests go to the others; once the router has it back (its
 * backoff is at most 2 s) it gets its share again. Every request ends
 * exactly once. */
TEST(router, replica_restarted) {
  const char *rargs[] = {"--decode-ms", "2",           "--prefill-ms-per-token",
                         "0.01",        "--max-batch", "32",
                         NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  char addr[128];
  const char *again[] = {
      "--listen", addr, "--decode-ms", "2", "--prefill-ms-per-token",
      "0.01",     NULL};
  const uint32_t out[3] = {100, DOOMED_OUT, 100};
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};
  Mlfq__ServerMessage *m;
  tc_client_t *c, *ctl;
  uint64_t id;
  rig_t g;

  ASSERT(s != NULL);
  rig_start(&g, 3, rargs, args);
  snprintf(addr, sizeof(addr), "%s", g.rep[1].addr);
  snprintf(s->lost_name, sizeof(s->lost_name), "%s", addr);
  c = tc_open(&g.router, 1);
  ctl = tc_open(&g.router, 1);
  tc_submit_cycle(c, 1, 30, 4, out, 3);
  wait_running(c, s, 1, 30);
  kill_replica(&g, 1);
  tc_wait_replica(ctl, 1, 0, TC_WAIT_MS);
  tc_submit_burst(c, 31, 39, 4, 5);
  rig_wait_ended(c, s, 1, 39);
  for (id = 1; id <= 30; id++) {
    ASSERT_EQ(s->ends[id], 1);
    if ((id - 1) % 3 == 1)
      ASSERT_EQ(s->code[id], MLFQ__ERROR_CODE__REPLICA_LOST);
    else
      ASSERT_EQ(c->tokens[id], 100);
  }
  rig_assert_all_done(c, s, 31, 39, 5, 3);
  for (id = 31; id <= 39; id++)
    ASSERT_NE(s->replica[id], 2);

  mlfq_test_daemon_start(&g.rep[1], again);
  g.running[1] = 1;
  ASSERT_STR_EQ(g.rep[1].addr, addr);
  tc_wait_replica(ctl, 1, 1, TC_WAIT_MS);
  tc_submit_burst(c, 40, 48, 4, 5);
  rig_wait_ended(c, s, 40, 48);
  rig_assert_all_done(c, s, 40, 48, 5, 3);
  for (id = 40; id <= 48; id++)
    count[s->replica[id]]++;
  ASSERT_EQ(count[2], 3);
  for (id = 1; id <= 48; id++)
    ASSERT_EQ(s->after[id], 0);
  m = tc_stats(ctl);
  ASSERT_EQ(m->stats->replicas[1]->up, 1);
  ASSERT_EQ_U64(m->stats->replicas[1]->lost, 10);
  ASSERT(m->stats->replicas[1]->stats != NULL);
  ASSERT_EQ_U64(m->stats->replicas[1]->stats->completed, 3);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  tc_close(ctl);
  free(s);
  rig_stop(&g);
}

/* With no replica up a Submit gets NO_REPLICA (counted as rejected), and
 * a new client still gets a Welcome with the last configuration heard. */
TEST(router, no_replica) {
  const char *rargs[] = {FAST, "--policy", "srpt", NULL};
  const char *args[] = {NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  rig_t g;

  rig_start(&g, 1, rargs, args);
  c = tc_open(&g.router, 1);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[0], SIGTERM, 10), 0);
  g.running[0] = 0;
  tc_wait_replica(c, 0, 0, TC_WAIT_MS);
  tc_submit(c, 1, 4, 3);
  tc_expect_error(c, 1, MLFQ__ERROR_CODE__NO_REPLICA);
  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->rejected, 1);
  ASSERT_EQ(m->stats->replicas[0]->up, 0);
  ASSERT_STR_EQ(m->stats->config->policy, "srpt");
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  c = tc_open(&g.router, 0);
  ASSERT_OK(mlfq_peer_hello(&c->p, "test", &m, TC_WAIT_MS));
  ASSERT_STR_EQ(m->welcome->config->policy, "srpt");
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  rig_stop(&g);
}

/* A free port on 127.0.0.1 (nobody listens on it once this returns). */
static int free_port(void) {
  int port;

  close(tc_listen_any(&port));
  return port;
}

/* A router whose replica is not there yet listens at once, but holds its
 * clients' Hello until a replica's Welcome gives it a configuration to
 * tell them; the replica, started later, is found by the retries. */
TEST(router, waits_for_first_replica) {
  char addr[64];
  const char *rargs[] = {"--listen", addr, FAST, NULL};
  const char *args[] = {"--replica", addr, NULL};
  Mlfq__ServerMessage *m = NULL;
  mlfq_test_daemon_t r, d;
  tc_client_t *c;
  mlfq_buf_t b;

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
  mlfq_test_server_start(&r, ROUTER, args);
  c = tc_open(&r, 0);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_hello(&b, MLFQ_PROTOCOL_VERSION);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  ASSERT_EQ(mlfq_peer_recv(&c->p, &m, 300), -ETIMEDOUT);
  mlfq_test_daemon_start(&d, rargs);
  m = tc_recv(c, TC_WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_WELCOME);
  ASSERT_EQ(m->welcome->replicas, 1);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_run(c, 1, 4, 3);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&r, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}
