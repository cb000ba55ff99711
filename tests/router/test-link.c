/* mlfq-router's replica link: Stats rounds and timeouts, Cancels when full. */
#include <signal.h>

#include "wire/wire.h"

#include "router/rig.h"

/* A replica that does not answer a StatsRequest in --stats-timeout (it is
 * stopped) is shown up but without its own reply, and the client is
 * answered at the timeout. Its late reply must not be taken for the next
 * StatsRequest's: a Submit sent to it between the two shows which reply
 * the second request got. */
TEST(router, stats_timeout) {
  const char *rargs[] = {FAST, NULL};
  /* the stop is shorter than a probe timeout: replica 2 stays up */
  const char *args[] = {"--policy", "round-robin",     "--stats-timeout",
                        "1000",     "--probe-timeout", "60000",
                        NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  mlfq_buf_t b;
  int64_t t0;
  rig_t g;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  ASSERT_EQ(kill(g.rep[1].pid, SIGSTOP), 0);
  t0 = tc_now_ms();
  m = tc_stats(c);
  ASSERT_GE(tc_now_ms() - t0, 900);
  ASSERT_EQ(m->stats->replicas[1]->up, 1);
  ASSERT(m->stats->replicas[1]->stats == NULL);
  ASSERT(m->stats->replicas[0]->stats != NULL);
  mlfq__server_message__free_unpacked(m, NULL);
  /* Request 1 to replica 1, request 2 to the stopped replica 2, then
   * Stats: replica 2 owes its late reply first, then this one. */
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 3);
  tc_put_submit(&b, 2, 4, 3);
  tc_put_stats(&b);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  ASSERT_EQ(kill(g.rep[1].pid, SIGCONT), 0);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, TC_ANY_ID);
  ASSERT(m->stats->replicas[1]->stats != NULL);
  ASSERT_EQ_U64(m->stats->replicas[1]->stats->submitted, 1);
  ASSERT_EQ_U64(m->stats->submitted, 2);
  mlfq__server_message__free_unpacked(m, NULL);
  if (c->done[1] == 0)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  if (c->done[2] == 0)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 2);
  tc_close(c);
  rig_stop(&g);
}

/* Regression: every client StatsRequest used to send one to each replica,
 * so a burst of them filled the replica link and the next Submit got
 * OVERLOADED. Now they join one round at a time: 2,000 StatsRequests and
 * a Submit in one write, over a 4 KiB replica link, all answered. */
TEST(router, stats_burst_one_round) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--replica-queued-bytes", "4096", NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  mlfq_buf_t b;
  rig_t g;
  int i;

  rig_start(&g, 1, rargs, args);
  c = tc_open(&g.router, 1);
  mlfq_buf_init(&b, 1 << 20);
  for (i = 0; i < 2000; i++)
    tc_put_stats(&b);
  tc_put_submit(&b, 1, 4, 3);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  for (i = 0; i < 2000; i++) {
    m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, TC_ANY_ID);
    ASSERT(m->stats->replicas[0]->stats != NULL);
    mlfq__server_message__free_unpacked(m, NULL);
  }
  if (c->done[1] == 0)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(c->err[1], 0);
  ASSERT_EQ_U64(c->tokens[1], 3);
  tc_close(c);
  rig_stop(&g);
}

/* Puts a Submit (id, one token) padded with an unknown field of pad bytes
 * (0: none; at most 60,000), which the router forwards with it. */
static void put_padded_submit(mlfq_buf_t *b, uint64_t id, size_t pad) {
  static uint8_t data[60000];
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;
  ProtobufCMessageUnknownField u;
  size_t k = pad <= 128 ? 1 : pad <= 16385 ? 2 : 3, i;

  s.id = id;
  s.input_length = 1;
  s.output_length = 1;
  if (pad > 0) {
    /* protobuf-c packs an unknown field's data as it is: a
     * length-delimited one starts with its length, a k-byte varint. */
    ASSERT(pad > k && pad <= sizeof(data));
    for (i = 0; i < k; i++)
      data[i] =
          (uint8_t)((((pad - k) >> (7 * i)) & 0x7f) | (i + 1 < k ? 0x80 : 0));
    u.tag = 100;
    u.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    u.len = pad;
    u.data = data;
    s.base.n_unknown_fields = 1;
    s.base.unknown_fields = &u;
  }
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

/* Sends Submits padded with pad bytes on c, from *id on, until the router
 * refuses one with OVERLOADED; *id is then the next unused id. */
static void fill_until_refused(tc_client_t *c, uint64_t *id, size_t pad) {
  Mlfq__ServerMessage *m;
  uint64_t refused = 0;
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 20);
  while (refused == 0) {
    ASSERT_LT(*id, TC_MAXID);
    mlfq_buf_consume(&b, b.len);
    put_padded_submit(&b, *id, pad);
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
    (*id)++;
    /* The router's answer to a refused Submit is immediate; a Stats
     * reply would have to wait for the stopped replica. */
    while (refused == 0 && mlfq_peer_recv(&c->p, &m, 20) == 0) {
      tc_record(c, m);
      if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR &&
          m->error->code == MLFQ__ERROR_CODE__OVERLOADED)
        refused = m->error->id;
      mlfq__server_message__free_unpacked(m, NULL);
    }
  }
  mlfq_buf_free(&b);
}

/* Regression: a Cancel was dropped when the replica link's output was
 * full, and the cancelled request ran on. The replica is stopped and its
 * link filled with ever smaller Submits until not even one without
 * padding fits; the last five requests the router took are cancelled.
 * Once the replica runs again (1 ms a request: they are still queued
 * when their Cancels arrive), it must have cancelled all five and
 * completed exactly the others. */
TEST(router, cancel_passes_full_replica_link) {
  static const size_t pads[] = {60000, 4000, 300, 0};
  const char *rargs[] = {"--decode-ms", "1", "--prefill-ms-per-token", "1",
                         NULL};
  /* stopped while its link fills, the replica must stay up */
  const char *args[] = {"--replica-queued-bytes", "65536", "--probe-timeout",
                        "60000", NULL};
  uint64_t id = 1, k, cancel[5], taken = 0, done = 0;
  Mlfq__ServerMessage *m;
  tc_client_t *c;
  size_t i, n = 0;
  rig_t g;

  rig_start(&g, 1, rargs, args);
  c = tc_open(&g.router, 1);
  ASSERT_EQ(kill(g.rep[0].pid, SIGSTOP), 0);
  for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++)
    fill_until_refused(c, &id, pads[i]);
  /* A refusal slower than fill_until_refused's 20 ms is still on its way:
   * the Stats reply comes after the answers to every Submit before it, so
   * no refused request is taken for one the router holds. */
  mlfq__server_message__free_unpacked(tc_stats(c), NULL);
  for (k = id - 1; k >= 1 && n < 5; k--)
    if (c->err[k] == 0)
      cancel[n++] = k;
  ASSERT_EQ(n, 5);
  for (i = 0; i < n; i++) {
    tc_cancel(c, cancel[i]);
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ERROR, cancel[i]);
    ASSERT_EQ(c->err[cancel[i]], MLFQ__ERROR_CODE__CANCELLED);
  }
  ASSERT_EQ(kill(g.rep[0].pid, SIGCONT), 0);
  for (k = 1; k < id; k++) {
    if (c->err[k] == MLFQ__ERROR_CODE__OVERLOADED)
      continue;
    taken++;
    if (c->err[k] != 0)
      continue;
    if (c->done[k] == 0)
      tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, k);
    done++;
  }
  ASSERT_EQ_U64(done, taken - 5);
  m = tc_stats(c);
  ASSERT(m->stats->replicas[0]->stats != NULL);
  ASSERT_EQ_U64(m->stats->replicas[0]->stats->cancelled, 5);
  ASSERT_EQ_U64(m->stats->replicas[0]->stats->completed, done);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  rig_stop(&g);
}

/* Regression: the Cancels of a client that leaves with many requests in
 * flight are appended in one callback, more bytes than the replica link's
 * bound (--replica-queued-bytes 4096: 2,000 Cancels are about 20 kB); they
 * did not fit ("a Cancel is lost") and the requests ran on. Every one must
 * reach the replica, whose requests could never finish otherwise. */
TEST(router, cancels_of_a_leaving_client_pass_the_link_bound) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--replica-queued-bytes", "4096", NULL};
  uint64_t k, cancelled = 0, inflight = 0;
  Mlfq__ServerMessage *m;
  int64_t deadline;
  tc_client_t *c;
  char *log;
  rig_t g;

  rig_start(&g, 1, rargs, args);
  c = tc_open(&g.router, 1);
  /* 100 at a time (about 1.2 kB), so that none is refused at the bound */
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (k = 1; k <= 2000; k++) {
    tc_submit(c, k, 1, 1000000);
    while (k % 100 == 0 && inflight < k && tc_now_ms() <= deadline) {
      m = tc_stats(c); /* the replica's part may be missing: link full */
      if (m->stats->replicas[0]->stats != NULL)
        inflight = m->stats->replicas[0]->stats->running +
                   m->stats->replicas[0]->stats->waiting;
      mlfq__server_message__free_unpacked(m, NULL);
    }
  }
  ASSERT_EQ_U64(inflight, 2000);
  tc_close(c); /* the router cancels all 2,000 in one callback */
  c = tc_open(&g.router, 1);
  deadline = tc_now_ms() + TC_WAIT_MS;
  while (cancelled < 2000 && tc_now_ms() <= deadline) {
    m = tc_stats(c);
    if (m->stats->replicas[0]->stats != NULL)
      cancelled = m->stats->replicas[0]->stats->cancelled;
    mlfq__server_message__free_unpacked(m, NULL);
  }
  ASSERT_EQ_U64(cancelled, 2000);
  tc_close(c);
  log = mlfq_test_slurp(g.router.log);
  ASSERT(strstr(log, "Cancel is lost") == NULL);
  free(log);
  rig_stop(&g);
}
