/* Hostile replicas for mlfq-router: stopped, busy, oversized, odd. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. Every test is bounded in time and count;
 * every wait has a deadline, and nothing sleeps to synchronise. */
#include <signal.h>

#include "core/cost.h"
#include "wire/wire.h"

#include "client.h"
#include "fake.h"
#include "router/rig.h"

/* ------------------------------------------------------------------------
 * A stopped replica: a router must notice a replica that stops answering.
 * ------------------------------------------------------------------------ */

#define STALL_N 40       /* requests in flight when a replica stops */
#define STALL_OUT 1500   /* their output: 3 s at 2 ms a token */
#define STALL_BOUND 5000 /* ms: the 3 s target, and slack for sanitizers */

/* Regression: a replica stopped with SIGSTOP kept its connection, so the
 * router kept it up and its requests never ended. Two replicas, 40
 * requests in flight (20 on each, round-robin), SIGSTOP replica 2: within
 * the bound each of its 20 ends once with REPLICA_LOST naming it, the 20
 * others complete, new requests all go to replica 1 and complete, and
 * Stats through the router answers and shows replica 2 down. After
 * SIGCONT the router takes replica 2 back and requests reach it again.
 * (A stopped replica is killed at the end of a failed test: the runner
 * SIGKILLs every daemon the test started.) */
TEST(hostile, stopped_replica_is_lost_and_readmitted) {
  const char *rargs[] = {"--decode-ms", "2",           "--prefill-ms-per-token",
                         "0.01",        "--max-batch", "64",
                         NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  tc_seen_t *s = calloc(1, sizeof(*s));
  Mlfq__ServerMessage *m;
  tc_client_t *c, *ctl;
  int64_t t_stop, t0, deadline;
  int lost = 0, on2 = 0;
  uint64_t id;
  rig_t g;

  ASSERT(s != NULL);
  rig_start(&g, 2, rargs, args); /* both replicas up */
  snprintf(s->lost_name, sizeof(s->lost_name), "replica 2 (%s)", g.rep[1].addr);
  ctl = tc_open(&g.router, 1);
  c = tc_open(&g.router, 1);

  /* every request running (a Token) on both replicas, then the stop */
  tc_submit_burst(c, 1, STALL_N, 4, STALL_OUT);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (id = 1; id <= STALL_N; id++)
    while (c->tokens[id] == 0)
      tc_take(c, s, deadline);
  ASSERT_EQ(kill(g.rep[1].pid, SIGSTOP), 0);
  t_stop = tc_now_ms();

  /* Stats through the router answers while replica 2 is stopped */
  t0 = tc_now_ms();
  m = tc_stats(ctl);
  ASSERT(m->stats->replicas[0]->stats != NULL);
  mlfq__server_message__free_unpacked(m, NULL);
  ASSERT_LT(tc_now_ms() - t0, STALL_BOUND);

  /* each request on replica 2 ends with REPLICA_LOST within the bound */
  deadline = t_stop + STALL_BOUND;
  while (lost < STALL_N / 2) {
    tc_take(c, s, deadline);
    for (lost = 0, id = 1; id <= STALL_N; id++)
      lost += s->lost[id];
  }
  fprintf(stderr, "stopped replica: last REPLICA_LOST %lld ms after SIGSTOP\n",
          (long long)(s->last_lost - t_stop));
  ASSERT_LE(s->last_lost - t_stop, STALL_BOUND);
  ASSERT_GE(s->last_lost - t_stop, 1000); /* not before --probe-timeout */

  /* new requests go to replica 1 and complete; Stats shows 2 down */
  tc_submit_burst(c, 101, 110, 4, 5);
  deadline = tc_now_ms() + 4 * TC_WAIT_MS;
  for (id = 1; id <= 110; id = id == STALL_N ? 101 : id + 1)
    while (s->ends[id] == 0)
      tc_take(c, s, deadline);
  for (id = 1; id <= 110; id = id == STALL_N ? 101 : id + 1) {
    ASSERT_EQ(s->ends[id], 1);
    ASSERT_EQ(s->after[id], 0);
    if (s->lost[id]) {
      ASSERT_LE(id, STALL_N);
      ASSERT_EQ(c->done[id], 0);
    } else {
      if (s->code[id] != 0)
        MLFQ_TEST_FAIL("request %llu ended with %s", (unsigned long long)id,
                       mlfq_wire_error_name(s->code[id]));
      ASSERT_EQ(s->replica[id], 1);
      ASSERT_EQ(c->tokens[id], id <= STALL_N ? STALL_OUT : 5);
    }
  }
  t0 = tc_now_ms();
  m = tc_stats(ctl);
  ASSERT_LT(tc_now_ms() - t0, STALL_BOUND);
  ASSERT_EQ(m->stats->replicas[1]->up, 0);
  ASSERT_EQ_U64(m->stats->replicas[1]->lost, STALL_N / 2);
  ASSERT_EQ_U64(m->stats->replicas[1]->outstanding_requests, 0);
  mlfq__server_message__free_unpacked(m, NULL);

  /* continued, it is taken back (a Welcome: at most the 5 s Welcome
   * deadline and a 2 s backoff away) and gets its share again */
  ASSERT_EQ(kill(g.rep[1].pid, SIGCONT), 0);
  t0 = tc_now_ms();
  tc_wait_replica(ctl, 1, 1, 4 * TC_WAIT_MS);
  fprintf(stderr, "stopped replica: up again %lld ms after SIGCONT\n",
          (long long)(tc_now_ms() - t0));
  tc_submit_burst(c, 111, 120, 4, 5);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (id = 111; id <= 120; id++)
    while (s->ends[id] == 0)
      tc_take(c, s, deadline);
  for (id = 111; id <= 120; id++) {
    ASSERT_EQ(s->code[id], 0);
    ASSERT_EQ(c->tokens[id], 5);
    on2 += s->replica[id] == 2;
  }
  ASSERT_EQ(on2, 5);
  tc_close(c);
  tc_close(ctl);
  free(s);
  rig_stop(&g);
}

#define BUSY_N 256         /* requests in one batch */
#define BUSY_OUT 500       /* their output: 5 s at 10 ms a token */
#define BUSY_PROBE_MS 1000 /* --probe-timeout, a fifth of that */

/* A replica that is busy, not stopped, is never lost: BUSY_N requests in
 * one batch at 10 ms a token keep its loop sending tokens (and the
 * router's forwarding them) for at least 5 s while the router probes it
 * every 10 ms and gives each probe BUSY_PROBE_MS. A router that took the
 * busy replica for a stopped one (a probe answer queued behind the
 * tokens, or not read or not counted while they come) would lose it
 * within the busy period, five probe timeouts long; a loaded machine's
 * stall of a loop stays well under a second. The whole output (128,000
 * Tokens, about 3 MB) fits the router's bound of a client's unread
 * output (8 MiB), so a slow test process is no slow reader. Every request
 * completes and Stats shows the replica up with nothing lost. */
TEST(hostile, busy_replica_is_not_lost) {
  const char *rargs[] = {"--decode-ms", "10",          "--prefill-ms-per-token",
                         "0.01",        "--max-batch", "256",
                         NULL};
  char timeout[16];
  const char *args[] = {"--probe-interval",
                        "10",
                        "--probe-timeout",
                        timeout,
                        "--replica",
                        NULL,
                        NULL};
  tc_seen_t *s = calloc(1, sizeof(*s));
  mlfq_test_daemon_t rep, router;
  int64_t t0, deadline, busy;
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  uint64_t id;
  char *log;

  ASSERT(s != NULL);
  mlfq_test_daemon_start(&rep, rargs);
  snprintf(timeout, sizeof(timeout), "%d", BUSY_PROBE_MS);
  args[5] = rep.addr;
  mlfq_test_server_start(&router, ROUTER, args);
  c = tc_open(&router, 1);
  tc_wait_replica(c, 0, 1, TC_WAIT_MS);
  t0 = tc_now_ms();
  tc_submit_burst(c, 1, BUSY_N, 4, BUSY_OUT);
  deadline = t0 + 12 * TC_WAIT_MS;
  for (id = 1; id <= BUSY_N; id++)
    while (s->ends[id] == 0)
      tc_take(c, s, deadline);
  busy = tc_now_ms() - t0;
  fprintf(stderr,
          "busy replica: %d streams of %d tokens in %" PRId64
          " ms, probe timeout %d ms\n",
          BUSY_N, BUSY_OUT, busy, BUSY_PROBE_MS);
  for (id = 1; id <= BUSY_N; id++) {
    if (s->code[id] != 0)
      MLFQ_TEST_FAIL("request %llu ended with %s", (unsigned long long)id,
                     mlfq_wire_error_name(s->code[id]));
    ASSERT_EQ(c->tokens[id], BUSY_OUT);
  }
  ASSERT_GE(busy, 5 * BUSY_PROBE_MS); /* the test could fail */
  m = tc_stats(c);
  ASSERT_EQ(m->stats->replicas[0]->up, 1);
  ASSERT_EQ_U64(m->stats->replicas[0]->lost, 0);
  ASSERT_EQ_U64(m->stats->completed, BUSY_N);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  free(s);
  log = mlfq_test_slurp(router.log);
  ASSERT(strstr(log, "lost") == NULL);
  free(log);
  ASSERT_EQ(mlfq_test_daemon_stop(&router, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&rep, SIGTERM, 10), 0);
}

/* The Welcome on c: its configuration has rows profile rows. */
static void ov_hello(tc_client_t *c, size_t rows) {
  Mlfq__ServerMessage *w = NULL;

  ASSERT_OK(mlfq_peer_hello(&c->p, "hostile", &w, TC_WAIT_MS));
  ASSERT(w->welcome->config != NULL && w->welcome->config->cost != NULL);
  ASSERT_EQ(w->welcome->config->cost->n_rows, rows);
  mlfq__server_message__free_unpacked(w, NULL);
}

/* A profile at the bound: each of three replicas gives a working Welcome
 * and Stats with every row, and so does a router over them whose clients'
 * output bound (300,000 bytes) holds one configuration but not four: its
 * Stats leaves out the replicas' own configurations instead of
 * disconnecting the client (it did, as a slow reader, with four copies
 * of the rows in one reply); a request still runs through it. */
TEST(hostile, profile_at_bound_through_router) {
  const char *rargs[] = {"--profile", NULL, NULL};
  const char *argv[16];
  mlfq_test_daemon_t rep[3], rt;
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  char path[256];
  int64_t deadline;
  size_t i, up;
  int k = 0;

  tc_profile(MLFQ_COST_MAX_ROWS, path, sizeof(path));
  rargs[1] = path;
  for (i = 0; i < 3; i++) {
    mlfq_test_daemon_start(&rep[i], rargs);
    c = tc_open(&rep[i], 0);
    ov_hello(c, MLFQ_COST_MAX_ROWS);
    m = tc_stats(c);
    ASSERT_EQ(m->stats->config->cost->n_rows, MLFQ_COST_MAX_ROWS);
    mlfq__server_message__free_unpacked(m, NULL);
    tc_close(c);
    argv[k++] = "--replica";
    argv[k++] = rep[i].addr;
  }
  argv[k++] = "--max-queued-bytes";
  argv[k++] = "300000";
  argv[k] = NULL;
  mlfq_test_server_start(&rt, ROUTER, argv);
  c = tc_open(&rt, 0);
  ov_hello(c, MLFQ_COST_MAX_ROWS);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) { /* until the router has every replica up */
    m = tc_stats(c);
    ASSERT_EQ(m->stats->config->cost->n_rows, MLFQ_COST_MAX_ROWS);
    ASSERT_EQ(m->stats->n_replicas, 3);
    for (i = 0, up = 0; i < 3; i++)
      if (m->stats->replicas[i]->stats != NULL) {
        up++;
        ASSERT(m->stats->replicas[i]->stats->config == NULL);
      }
    mlfq__server_message__free_unpacked(m, NULL);
    if (up == 3)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  tc_run(c, 1, 16, 2);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&rep[i], SIGTERM, 10), 0);
  remove(path);
}

/* A replica whose Welcome would not fit half of the router's
 * --max-queued-bytes is not taken, and the router's log says why (its
 * Welcome and Stats would have disconnected every client). */
TEST(hostile, router_refuses_replica_config_over_bound) {
  const char *rargs[] = {"--profile", NULL, NULL};
  const char *argv[] = {"--replica", NULL, "--max-queued-bytes", "131072",
                        NULL};
  mlfq_test_daemon_t rep, rt;
  char path[256], *log;

  tc_profile(MLFQ_COST_MAX_ROWS, path, sizeof(path));
  rargs[1] = path;
  mlfq_test_daemon_start(&rep, rargs);
  argv[1] = rep.addr;
  mlfq_test_server_start(&rt, ROUTER, argv);
  /* The log line is the only event: the router takes no client before a
   * replica's Welcome. */
  log = tc_wait_log(&rt, "more than half of --max-queued-bytes (131072): "
                         "clients could not be sent its configuration");
  free(log);
  log = mlfq_test_slurp(rt.log);
  ASSERT(strstr(log, " up: ") == NULL);
  free(log);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&rep, SIGTERM, 10), 0);
  remove(path);
}

/* A replica that sends a StatsReply nobody asked for: the router counted
 * it as the answer to a StatsRequest, every later answer went to the
 * request before it, and the replica was lost 1.5 s after its next probe,
 * for "no answer to a health probe" (here, with no probe, never). Now it
 * is failed at once, for what it did. */
TEST(hostile, unasked_stats_reply_fails_the_replica) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__StatsReply st = MLFQ__STATS_REPLY__INIT;
  const char *rargs[] = {
      "--replica", NULL, "--probe-interval", "600000", "--probe-timeout",
      "600000",    NULL};
  const char *want = "lost: it sent a StatsReply it was not asked for";
  mlfq_test_daemon_t rt;
  char addr[64], *log;
  tc_fake_t f;

  memset(&f, 0, sizeof(f));
  tc_fake_add_welcome(&f, 1);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &st;
  tc_fake_append(&f, &m);
  tc_fake_start(&f);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
  rargs[1] = addr;
  mlfq_test_server_start(&rt, ROUTER, rargs);
  log = tc_wait_log(&rt, want); /* it comes at once */
  ASSERT(strstr(log, "health probe") == NULL);
  free(log);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  tc_fake_stop(&f);
}

/* A router over a router: the inner one may take twice its
 * --stats-timeout (2 s by default) to answer a probe, more than the outer
 * one's default --probe-timeout (1.5 s), which would lose it while one of
 * its replicas is stopped. The outer router warns at its Welcome, and not
 * with --probe-timeout above twice the default. */
TEST(hostile, router_over_router_warns_of_probe_timeout) {
  const char *none[] = {NULL};
  const char *iargs[] = {"--replica", NULL, NULL};
  const char *oargs[] = {"--replica", NULL, NULL, NULL, NULL};
  const char *want = "is a router: it may take twice its --stats-timeout";
  mlfq_test_daemon_t d, inner, outer;
  char *log;

  mlfq_test_daemon_start(&d, none);
  iargs[1] = d.addr;
  mlfq_test_server_start(&inner, ROUTER, iargs);
  oargs[1] = inner.addr;
  mlfq_test_server_start(&outer, ROUTER, oargs);
  log = tc_wait_log(&outer, want);
  ASSERT_CONTAINS(log, "--probe-timeout is 1500 ms");
  free(log);
  ASSERT_EQ(mlfq_test_daemon_stop(&outer, SIGTERM, 10), 0);

  oargs[2] = "--probe-timeout";
  oargs[3] = "2500";
  mlfq_test_server_start(&outer, ROUTER, oargs);
  log = tc_wait_log(&outer, " up: ");
  ASSERT(strstr(log, want) == NULL);
  free(log);
  ASSERT_EQ(mlfq_test_daemon_stop(&outer, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&inner, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}
