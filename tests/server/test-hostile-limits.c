/* A monopolising client and request id 0, on mlfqd and mlfq-router. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. Every wait has a deadline. */
#include <signal.h>

#include "wire/wire.h"

#include "client.h"

#define MONO_ROUTER MLFQ_BIN_DIR "/mlfq-router"
/* 1 ms per token, the shortest job first: a short request of a client
 * that was let in runs at once, however many long ones wait. */
#define MONO_FAST                                                              \
  "--decode-ms", "1", "--prefill-ms-per-token", "0.01", "--policy", "srpt"

/* Writes n Submits of long requests (ids 1..n) on c at once, then a
 * StatsRequest, and reads until its reply: refusals come in request order,
 * before it. Returns how many were refused with OVERLOADED (any other
 * error fails the test); the first refusal's message goes to why. */
static uint64_t mono_flood(tc_client_t *c, uint64_t n, char *why,
                           size_t whylen) {
  int64_t deadline = tc_now_ms() + 2 * TC_WAIT_MS;
  Mlfq__ServerMessage *m;
  uint64_t id, refused = 0;
  mlfq_buf_t b;
  int stats;

  mlfq_buf_init(&b, 1 << 20);
  for (id = 1; id <= n; id++)
    tc_put_submit(&b, id, 4, 100000); /* 100 s each */
  tc_put_stats(&b);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  do {
    m = tc_recv(c, tc_left_ms(deadline));
    stats = m->msg_case == MLFQ__SERVER_MESSAGE__MSG_STATS;
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR) {
      if (m->error->code != MLFQ__ERROR_CODE__OVERLOADED)
        MLFQ_TEST_FAIL("request %" PRIu64 ": %s (%s)", m->error->id,
                       mlfq_wire_error_name(m->error->code), m->error->message);
      if (refused++ == 0 && why != NULL)
        snprintf(why, whylen, "%s", m->error->message);
    }
    mlfq__server_message__free_unpacked(m, NULL);
  } while (!stats);
  return refused;
}

/* Three connections flood d (max-pending 1000) with 2,000 long requests
 * each; a fourth still has each of its requests accepted and completed,
 * and no flooder holds more than half of max-pending. */
static void mono_lockout(const mlfq_test_daemon_t *d) {
  tc_client_t *g[3], *b;
  uint64_t held[3], id;
  int i;

  for (i = 0; i < 3; i++) {
    g[i] = tc_open(d, 1);
    held[i] = 2000 - mono_flood(g[i], 2000, NULL, 0);
  }
  b = tc_open(d, 1);
  for (id = 1; id <= 20; id++)
    tc_run(b, id, 4, 3);
  printf("flooders hold %" PRIu64 ", %" PRIu64 " and %" PRIu64
         " of max-pending 1000\n",
         held[0], held[1], held[2]);
  for (i = 0; i < 3; i++) {
    ASSERT_GT(held[i], 0);
    ASSERT_LE(held[i], 500);
  }
  ASSERT_LT(held[0] + held[1] + held[2], 1000);
  for (i = 0; i < 3; i++)
    tc_close(g[i]);
  mlfq__server_message__free_unpacked(tc_wait_idle(b, 1, 2 * TC_WAIT_MS), NULL);
  tc_close(b);
}

/* Runs check against mlfqd started with MONO_FAST and limits or, if
 * through_router, against mlfq-router started with limits over one such
 * replica; then each must exit 0 at SIGTERM. */
static void mono_on(int through_router, const char *const *limits,
                    void (*check)(const mlfq_test_daemon_t *d)) {
  const char *fast[] = {MONO_FAST, NULL};
  const char *argv[16];
  mlfq_test_daemon_t rep, d;
  int n = 0;

  if (through_router) {
    mlfq_test_daemon_start(&rep, fast);
    argv[n++] = "--replica";
    argv[n++] = rep.addr;
  } else {
    for (; fast[n] != NULL; n++)
      argv[n] = fast[n];
  }
  for (; *limits != NULL; limits++) {
    ASSERT_LT(n, 15);
    argv[n++] = *limits;
  }
  argv[n] = NULL;
  if (through_router)
    mlfq_test_server_start(&d, MONO_ROUTER, argv);
  else
    mlfq_test_daemon_start(&d, argv);
  check(&d);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  if (through_router)
    ASSERT_EQ(mlfq_test_daemon_stop(&rep, SIGTERM, 10), 0);
}

static const char *const mono_pending_1000[] = {"--max-pending", "1000", NULL};

/* One connection (or a few) could take every slot of --max-pending, and
 * every other client got OVERLOADED. */
TEST(hostile, one_connection_cannot_lock_others_out) {
  mono_on(0, mono_pending_1000, mono_lockout);
}

TEST(hostile, one_connection_cannot_lock_others_out_through_router) {
  mono_on(1, mono_pending_1000, mono_lockout);
}

/* --max-pending-per-conn 10: the eleventh request of a connection gets
 * OVERLOADED naming the limit; another connection has its own ten; once
 * both have left, nothing of theirs is in flight. */
static void mono_per_conn(const mlfq_test_daemon_t *d) {
  tc_client_t *a, *b;
  char why[256];

  a = tc_open(d, 1);
  b = tc_open(d, 1);
  ASSERT_EQ_U64(mono_flood(a, 11, why, sizeof(why)), 1);
  ASSERT_CONTAINS(why, "max-pending-per-conn");
  ASSERT_EQ_U64(mono_flood(b, 20, NULL, 0), 10);
  tc_close(a);
  tc_close(b);
  a = tc_open(d, 1);
  mlfq__server_message__free_unpacked(tc_wait_idle(a, 1, 2 * TC_WAIT_MS), NULL);
  tc_close(a);
}

/* With --max-pending 10 alone, a connection may hold half of it. */
static void mono_default_half(const mlfq_test_daemon_t *d) {
  tc_client_t *a = tc_open(d, 1);
  char why[256];

  ASSERT_EQ_U64(mono_flood(a, 10, why, sizeof(why)), 5);
  ASSERT_CONTAINS(why, "max-pending-per-conn");
  tc_close(a);
}

static const char *const mono_per_conn_10[] = {
    "--max-pending", "1000", "--max-pending-per-conn", "10", NULL};

TEST(hostile, max_pending_per_conn_refuses_at_the_limit) {
  static const char *const half[] = {"--max-pending", "10", NULL};

  mono_on(0, mono_per_conn_10, mono_per_conn);
  mono_on(0, half, mono_default_half);
}

TEST(hostile, max_pending_per_conn_through_router) {
  mono_on(1, mono_per_conn_10, mono_per_conn);
}

/* A Submit or a Cancel with id 0 is a connection error (BAD_MESSAGE, id
 * 0) and the connection closes, while another client keeps working: an
 * Error about request 0 could not be told from one about the connection. */
static void mono_id0(const mlfq_test_daemon_t *d) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 0, 4, 3);
  tc_expect_fatal(d, b.data, b.len, 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
  mlfq_buf_free(&b);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_cancel(&b, 0);
  tc_expect_fatal(d, b.data, b.len, 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
  mlfq_buf_free(&b);
}

static const char *const mono_no_limits[] = {NULL};

TEST(hostile, request_id_0_is_a_connection_error) {
  mono_on(0, mono_no_limits, mono_id0);
}

TEST(hostile, request_id_0_is_a_connection_error_through_router) {
  mono_on(1, mono_no_limits, mono_id0);
}
