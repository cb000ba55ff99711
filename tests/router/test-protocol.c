/* mlfq-router's protocol, as clients use it: ids, errors, limits, readers. */
/* The router against real mlfqd replicas on ephemeral ports (rig.h): ids
 * remapped, connection and request errors, limits, disconnects and slow
 * readers. Every wait has a deadline; "the router has handled X" is a Stats
 * reply after X on the same connection. Every router and replica must exit
 * 0 at SIGTERM. */
#include <signal.h>

#include "wire/wire.h"

#include "router/rig.h"

/* Two clients use the same ids at once, with different lengths: each
 * gets its own Accepted, Tokens and Done. */
TEST(router, ids_remapped) {
  const char *rargs[] = {FAST, "--max-batch", "16", NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  tc_seen_t *sa = calloc(1, sizeof(*sa)), *sb = calloc(1, sizeof(*sb));
  tc_client_t *a, *b;
  uint64_t id;
  rig_t g;

  ASSERT(sa != NULL && sb != NULL);
  rig_start(&g, 3, rargs, args);
  a = tc_open(&g.router, 1);
  b = tc_open(&g.router, 1);
  for (id = 1; id <= 12; id++) {
    tc_submit(a, id, 4, (uint32_t)id + 2);
    tc_submit(b, id, 4, (uint32_t)id + 20);
  }
  rig_wait_ended(a, sa, 1, 12);
  rig_wait_ended(b, sb, 1, 12);
  for (id = 1; id <= 12; id++) {
    ASSERT_EQ(sa->ends[id], 1);
    ASSERT_EQ(sb->ends[id], 1);
    ASSERT_EQ(a->accepted[id], 1);
    ASSERT_EQ(b->accepted[id], 1);
    ASSERT_EQ(a->tokens[id], id + 2);
    ASSERT_EQ(b->tokens[id], id + 20);
    ASSERT_EQ(a->done[id], 1);
    ASSERT_EQ(b->done[id], 1);
  }
  tc_close(a);
  tc_close(b);
  free(sa);
  free(sb);
  rig_stop(&g);
}

/* Connection errors through the router close only their connection, as
 * mlfqd's do: a bad frame length, bytes that are no message, a message
 * before Hello, a second Hello, a protocol version it does not speak. The
 * Welcome names the router and its replicas. */
TEST(router, connection_errors) {
  static const uint8_t zero[4] = {0, 0, 0, 0};
  static const uint8_t over[4] = {0, 0, 0x04, 0x01}; /* 1025 */
  static const uint8_t garbage[12] = {0,    0,    0,    8,    0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--max-frame-bytes", "1024", NULL};
  Mlfq__ServerMessage *w;
  mlfq_buf_t b;
  tc_client_t *c;
  rig_t g;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 0);
  ASSERT_OK(mlfq_peer_hello(&c->p, "test", &w, TC_WAIT_MS));
  ASSERT_STR_EQ(w->welcome->server_id, "mlfq-router");
  ASSERT_EQ(w->welcome->replicas, 2);
  ASSERT(w->welcome->config != NULL);
  ASSERT_EQ(w->welcome->config->max_frame_bytes, 1024);
  ASSERT_STR_EQ(w->welcome->config->policy, "mlfq");
  mlfq__server_message__free_unpacked(w, NULL);
  tc_close(c);

  tc_expect_fatal(&g.router, zero, sizeof(zero), 1,
                  MLFQ__ERROR_CODE__BAD_FRAME);
  tc_expect_fatal(&g.router, zero, sizeof(zero), 0,
                  MLFQ__ERROR_CODE__BAD_FRAME);
  tc_expect_fatal(&g.router, over, sizeof(over), 1,
                  MLFQ__ERROR_CODE__BAD_FRAME);
  tc_expect_fatal(&g.router, garbage, sizeof(garbage), 1,
                  MLFQ__ERROR_CODE__BAD_MESSAGE);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 3);
  tc_expect_fatal(&g.router, b.data, b.len, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  mlfq_buf_free(&b);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_hello(&b, MLFQ_PROTOCOL_VERSION);
  tc_expect_fatal(&g.router, b.data, b.len, 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
  mlfq_buf_free(&b);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_hello(&b, MLFQ_PROTOCOL_VERSION + 1);
  tc_expect_fatal(&g.router, b.data, b.len, 0, MLFQ__ERROR_CODE__BAD_VERSION);
  mlfq_buf_free(&b);
  rig_stop(&g);
}

/* A client that never sends Hello is disconnected after --hello-timeout,
 * as by mlfqd. */
TEST(router, hello_timeout) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--hello-timeout", "0.3", NULL};
  rig_t g;

  rig_start(&g, 1, rargs, args);
  tc_expect_hello_timeout(&g.router, 300);
  rig_stop(&g);
}

/* Request errors keep the connection open: lengths out of the router's
 * limits, a duplicate id in flight, Cancel of an unknown id; Cancel of a
 * running request answers CANCELLED and nothing more comes for it, and
 * the replica is told (its Stats count the cancel). */
TEST(router, request_errors_and_cancel) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--max-input-length", "100", "--max-output-length",
                        "100000", NULL};
  static const uint32_t bad[4][2] = {{4, 0}, {0, 3}, {101, 3}, {4, 100001}};
  Mlfq__ServerMessage *m;
  int64_t deadline;
  tc_client_t *c;
  uint64_t id;
  rig_t g;
  int i;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  for (i = 0; i < 4; i++) {
    tc_submit(c, (uint64_t)i + 1, bad[i][0], bad[i][1]);
    tc_expect_error(c, (uint64_t)i + 1, MLFQ__ERROR_CODE__INVALID_REQUEST);
    ASSERT_EQ(c->accepted[i + 1], 0);
  }
  tc_run(c, 10, 100, 50);

  id = 20;
  tc_submit(c, id, 4, 100000);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_TOKEN, id);
  tc_submit(c, id, 4, 3);
  tc_expect_error(c, id, MLFQ__ERROR_CODE__DUPLICATE_ID);
  tc_cancel(c, 300);
  tc_expect_error(c, 300, MLFQ__ERROR_CODE__UNKNOWN_ID);
  tc_cancel(c, id);
  tc_expect_error(c, id, MLFQ__ERROR_CODE__CANCELLED);
  /* Nothing more for it; the replica has cancelled it. */
  tc_run(c, 21, 4, 3);
  ASSERT_EQ(c->late[id], 0);
  ASSERT_EQ(c->done[id], 0);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    m = tc_stats(c);
    if (m->stats->cancelled == 1 && m->stats->running == 0)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
    mlfq__server_message__free_unpacked(m, NULL);
  }
  ASSERT_EQ_U64(m->stats->completed, 2);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_cancel(c, id);
  tc_expect_error(c, id, MLFQ__ERROR_CODE__UNKNOWN_ID);
  tc_run(c, id, 4, 3); /* the id is free again */
  tc_close(c);
  rig_stop(&g);
}

/* --max-pending counts requests in flight through the router (OVERLOADED,
 * counted in Stats.rejected); --max-connections refuses one more client
 * with TOO_MANY_CONNECTIONS. */
TEST(router, limits) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--max-pending", "2", "--max-connections", "2", NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *a, *b, *c;
  rig_t g;

  rig_start(&g, 2, rargs, args);
  a = tc_open(&g.router, 1);
  b = tc_open(&g.router, 1);
  c = tc_open(&g.router, 0);
  m = tc_recv(c, TC_WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  ASSERT_EQ(m->error->code, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_expect_closed(c);
  tc_close(c);

  tc_submit(a, 1, 4, 100000);
  tc_submit(b, 1, 4, 100000);
  tc_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  tc_wait_free(b, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  tc_submit(a, 2, 4, 3);
  tc_expect_error(a, 2, MLFQ__ERROR_CODE__OVERLOADED);
  m = tc_stats(a);
  ASSERT_EQ_U64(m->stats->rejected, 1);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_cancel(a, 1);
  tc_expect_error(a, 1, MLFQ__ERROR_CODE__CANCELLED);
  tc_run(a, 3, 4, 3);
  tc_close(a);
  tc_close(b);
  rig_stop(&g);
}

/* A client that disconnects has its requests cancelled on the replicas. */
TEST(router, disconnect_cancels_upstream) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  Mlfq__ServerMessage *m;
  tc_client_t *a, *b;
  uint64_t id;
  rig_t g;

  rig_start(&g, 3, rargs, args);
  b = tc_open(&g.router, 1);
  a = tc_open(&g.router, 1);
  for (id = 1; id <= 6; id++)
    tc_submit(a, id, 4, 100000);
  rig_wait_accepted(a, 1, 6);
  tc_close(a);
  m = tc_wait_idle(b, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->cancelled, 6);
  for (id = 0; id < 3; id++) {
    ASSERT_EQ_U64(m->stats->replicas[id]->outstanding_requests, 0);
    ASSERT_EQ_U64(m->stats->replicas[id]->outstanding_tokens, 0);
    ASSERT_EQ_U64(m->stats->replicas[id]->stats->cancelled, 2);
  }
  mlfq__server_message__free_unpacked(m, NULL);
  tc_run(b, 1, 4, 3);
  tc_close(b);
  rig_stop(&g);
}

/* A client that submits many long requests and never reads is
 * disconnected once its unread output passes --max-queued-bytes, with a
 * log line; its requests are cancelled upstream; others are unaffected. */
TEST(router, slow_reader) {
  const char *rargs[] = {"--decode-ms", "0.01",     "--prefill-ms-per-token",
                         "0.0001",      "--policy", "fcfs",
                         "--max-batch", "256",      NULL};
  /* its probe answers wait behind a flood of Tokens: not a lost replica */
  const char *args[] = {"--max-queued-bytes", "65536", "--probe-timeout",
                        "60000", NULL};
  tc_client_t *s, *b;
  rig_t g;

  rig_start(&g, 2, rargs, args);
  /* what the replicas send for it must not pass the client's bound */
  s = tc_slow_reader(&g.router, "the router", &b);
  tc_close(s);
  tc_run(b, 1, 4, 3);
  tc_close(b);
  rig_stop(&g);
}
