/* mlfqd's requests: errors, cancels, limits, disconnects, slow readers. */
/* Against a real daemon on an ephemeral port: request errors keep the
 * connection open. Every wait has a deadline; "the server has processed X"
 * is a Stats reply after X on the same connection. Every daemon must exit
 * 0 at SIGTERM (under ASan: nothing leaked). */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>

#include "wire/wire.h"

#include "client.h"

/* A fast cost model: 1 ms per decode. */
#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"

/* Invalid requests get an Error for their id and the connection stays
 * open: a valid request after each completes. */
TEST(protocol, request_errors) {
  const char *args[] = {
      FAST, "--max-input-length", "100", "--max-output-length", "50", NULL};
  static const uint32_t bad[4][2] = {{4, 0}, {0, 3}, {101, 3}, {4, 51}};
  mlfq_test_daemon_t d;
  tc_client_t *c;
  uint64_t id = 1;
  int i;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  for (i = 0; i < 4; i++) {
    tc_submit(c, id, bad[i][0], bad[i][1]);
    tc_expect_error(c, id, MLFQ__ERROR_CODE__INVALID_REQUEST);
    ASSERT_EQ(c->accepted[id], 0);
    tc_run(c, id + 100, 4, 3);
    id++;
  }
  /* The limits themselves are fine. */
  tc_submit(c, id, 100, 50);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
  ASSERT_EQ(c->tokens[id], 50);
  ASSERT_EQ(c->err[id], 0);
  id++;

  /* A duplicate id while in flight; the first goes on. */
  tc_submit(c, id, 4, 40);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  tc_submit(c, id, 4, 3);
  tc_expect_error(c, id, MLFQ__ERROR_CODE__DUPLICATE_ID);
  tc_run(c, 200, 4, 3);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
  ASSERT_EQ(c->accepted[id], 1);
  ASSERT_EQ(c->tokens[id], 40);
  /* Once it has ended the id may be used again. */
  tc_run(c, id, 4, 3);

  /* Cancel of an id never submitted, and of one that has ended. */
  tc_cancel(c, 300);
  tc_expect_error(c, 300, MLFQ__ERROR_CODE__UNKNOWN_ID);
  tc_run(c, 301, 4, 3);
  tc_cancel(c, 301);
  tc_expect_error(c, 301, MLFQ__ERROR_CODE__UNKNOWN_ID);
  tc_run(c, 302, 4, 3);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* Cancel of a running and of a waiting request: CANCELLED for each, nothing
 * for them afterwards, and the other request is unaffected. */
TEST(protocol, cancel_running_and_waiting) {
  const char *args[] = {FAST, "--policy", "fcfs", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *c;
  mlfq_buf_t b;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 100000); /* runs first (fcfs) */
  tc_put_submit(&b, 2, 4, 100000); /* waits behind it */
  tc_put_submit(&b, 3, 4, 5);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_TOKEN, 1);
  ASSERT_EQ(c->accepted[2], 1);
  ASSERT_EQ(c->tokens[2], 0);

  tc_cancel(c, 2);
  tc_expect_error(c, 2, MLFQ__ERROR_CODE__CANCELLED);
  tc_cancel(c, 1);
  tc_expect_error(c, 1, MLFQ__ERROR_CODE__CANCELLED);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 3);
  ASSERT_EQ(c->tokens[3], 5);

  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->cancelled, 2);
  ASSERT_EQ_U64(m->stats->completed, 1);
  ASSERT_EQ_U64(m->stats->running, 0);
  ASSERT_EQ_U64(m->stats->waiting, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  ASSERT_EQ(c->done[1], 0);
  ASSERT_EQ(c->done[2], 0);
  ASSERT_EQ(c->tokens[2], 0);
  ASSERT_EQ(c->late[1], 0);
  ASSERT_EQ(c->late[2], 0);

  /* Cancelled ids are no longer in flight. */
  tc_cancel(c, 1);
  tc_expect_error(c, 1, MLFQ__ERROR_CODE__UNKNOWN_ID);
  tc_run(c, 2, 4, 3);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A Cancel that arrives with its Submit (one write, before the request
 * enters the scheduler) ends it the same way: CANCELLED, nothing else for
 * it, and Stats counts it like any cancelled request. */
TEST(protocol, cancel_before_accepted) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *r;
  mlfq_test_daemon_t d;
  mlfq_buf_t b;
  tc_client_t *c;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 100000);
  tc_put_cancel(&b, 1);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  tc_expect_error(c, 1, MLFQ__ERROR_CODE__CANCELLED);
  r = tc_stats(c);
  ASSERT_EQ(c->late[1], 0);
  ASSERT_EQ(c->tokens[1], 0);
  ASSERT_EQ_U64(r->stats->running + r->stats->waiting, 0);
  ASSERT_EQ_U64(r->stats->cancelled, 1);
  mlfq__server_message__free_unpacked(r, NULL);
  tc_run(c, 2, 4, 3);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* Beyond --max-pending requests in flight, Submit is refused at once with
 * OVERLOADED, counted in Stats.rejected; room comes back as they end. */
TEST(protocol, max_pending) {
  const char *args[] = {FAST, "--max-pending", "2", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *a, *b;

  mlfq_test_daemon_start(&d, args);
  a = tc_open(&d, 1);
  b = tc_open(&d, 1);
  tc_submit(a, 1, 4, 100000);
  tc_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  tc_submit(b, 1, 4, 100000);
  tc_wait_free(b, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  tc_submit(a, 2, 4, 3);
  tc_expect_error(a, 2, MLFQ__ERROR_CODE__OVERLOADED);
  tc_submit(b, 2, 4, 3);
  tc_expect_error(b, 2, MLFQ__ERROR_CODE__OVERLOADED);
  ASSERT_EQ(a->accepted[2], 0);
  m = tc_stats(a);
  ASSERT_EQ_U64(m->stats->rejected, 2);
  ASSERT_EQ_U64(m->stats->submitted, 2);
  mlfq__server_message__free_unpacked(m, NULL);

  tc_cancel(a, 1);
  tc_expect_error(a, 1, MLFQ__ERROR_CODE__CANCELLED);
  tc_run(a, 3, 4, 3);
  tc_cancel(b, 1);
  tc_expect_error(b, 1, MLFQ__ERROR_CODE__CANCELLED);
  tc_close(a);
  tc_close(b);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* One connection more than --max-connections gets TOO_MANY_CONNECTIONS
 * and is closed; the others work, and room comes back when one leaves. */
TEST(protocol, max_connections) {
  const char *args[] = {FAST, "--max-connections", "2", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *a, *b, *c;
  int64_t deadline;

  mlfq_test_daemon_start(&d, args);
  a = tc_open(&d, 1);
  b = tc_open(&d, 1);
  c = tc_open(&d, 0);
  m = tc_recv(c, TC_WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  ASSERT_EQ(m->error->code, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS);
  ASSERT_EQ_U64(m->error->id, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_expect_closed(c);
  tc_close(c);
  tc_run(a, 1, 4, 3);
  tc_run(b, 1, 4, 3);

  tc_close(b);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    m = tc_stats(a);
    if (m->stats->connections == 1)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
    mlfq__server_message__free_unpacked(m, NULL);
  }
  mlfq__server_message__free_unpacked(m, NULL);
  c = tc_open(&d, 1);
  tc_run(c, 1, 4, 3);
  tc_close(c);
  tc_close(a);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A client that disconnects has its jobs cancelled at once. */
TEST(protocol, disconnect_cancels) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *a, *b;
  uint64_t id;

  mlfq_test_daemon_start(&d, args);
  b = tc_open(&d, 1);
  a = tc_open(&d, 1);
  for (id = 1; id <= 3; id++)
    tc_submit(a, id, 4, 100000);
  for (id = 1; id <= 3; id++)
    tc_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  m = tc_stats(b);
  ASSERT_EQ_U64(m->stats->running + m->stats->waiting, 3);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(a);

  m = tc_wait_idle(b, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->cancelled, 3);
  ASSERT_EQ_U64(m->stats->completed, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_run(b, 1, 4, 3);
  tc_close(b);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A client that submits many long requests and never reads is
 * disconnected once its unread output passes --max-queued-bytes, with a
 * log line; its jobs go, and other clients are unaffected. */
TEST(protocol, slow_reader) {
  const char *args[] = {"--decode-ms", "0.01",     "--prefill-ms-per-token",
                        "0.0001",      "--policy", "fcfs",
                        "--max-batch", "256",      "--max-queued-bytes",
                        "65536",       NULL};
  mlfq_test_daemon_t d;
  tc_client_t *s, *b;
  int64_t deadline;
  uint8_t scratch[65536];
  ssize_t n;

  mlfq_test_daemon_start(&d, args);
  s = tc_slow_reader(&d, "mlfqd", &b);

  /* s finds its connection closed after what was written. */
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    n = recv(s->p.fd, scratch, sizeof(scratch), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      break;
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      MLFQ_TEST_FAIL("recv: %s", strerror(errno));
    ASSERT_LT(tc_now_ms(), deadline);
  }
  tc_close(s);
  tc_run(b, 1, 4, 3);
  tc_close(b);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}
