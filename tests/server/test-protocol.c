/* mlfqd's protocol: connection errors, Hello, framing, split and joined. */
/* Against a real daemon on an ephemeral port: connection errors close only
 * their connection; frames split at every byte or several to a write. Every
 * wait has a deadline. Every daemon must exit 0 at SIGTERM (under ASan:
 * nothing leaked). */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>

#include "wire/wire.h"

#include "client.h"

/* A fast cost model: 1 ms per decode. */
#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"

/* A client sends bytes (after Hello if hello) and gets a connection error
 * with id 0 and code, then the connection is closed; a client connected
 * before it keeps working. */
static void fatal_case(const void *bytes, size_t len, int hello, int code) {
  const char *args[] = {FAST, "--max-frame-bytes", "1024", NULL};
  mlfq_test_daemon_t d;

  mlfq_test_daemon_start(&d, args);
  tc_expect_fatal(&d, bytes, len, hello, code);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A frame of exactly --max-frame-bytes is fine; one byte more is
 * BAD_FRAME. */
TEST(protocol, frame_over_limit) {
  static const uint8_t over[4] = {0, 0, 0x04, 0x01}; /* 1025 */
  const char *args[] = {FAST, "--max-frame-bytes", "1024", NULL};
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;
  uint8_t prompt[1024];
  mlfq_test_daemon_t d;
  tc_client_t *a;

  /* A Submit whose packed size is exactly 1024. */
  memset(prompt, 'x', sizeof(prompt));
  s.id = 1;
  s.input_length = 4;
  s.output_length = 3;
  s.prompt.data = prompt;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  for (s.prompt.len = 0; s.prompt.len < sizeof(prompt); s.prompt.len++)
    if (mlfq__client_message__get_packed_size(&m) == 1024)
      break;
  ASSERT_EQ(mlfq__client_message__get_packed_size(&m), 1024);

  mlfq_test_daemon_start(&d, args);
  a = tc_open(&d, 1);
  tc_send(a, &m);
  tc_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(a->tokens[1], 3);
  tc_close(a);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);

  fatal_case(over, sizeof(over), 1, MLFQ__ERROR_CODE__BAD_FRAME);
}

/* A length of 2 GiB followed by bytes: refused from its header alone
 * (nothing that size is buffered), the client is closed, others work. */
TEST(protocol, frame_huge_length_with_payload) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m = NULL;
  mlfq_test_daemon_t d;
  static uint8_t bytes[60004];
  tc_client_t *a, *b;
  int rc;

  memset(bytes, 0x5a, sizeof(bytes));
  bytes[0] = 0x7f;
  bytes[1] = bytes[2] = bytes[3] = 0xff;
  mlfq_test_daemon_start(&d, args);
  b = tc_open(&d, 1);
  a = tc_open(&d, 1);
  ASSERT_OK(mlfq_peer_send_raw(&a->p, bytes, sizeof(bytes)));
  tc_expect_error(a, 0, MLFQ__ERROR_CODE__BAD_FRAME);
  /* Unread bytes may turn the close into a reset. */
  rc = mlfq_peer_recv(&a->p, &m, TC_WAIT_MS);
  if (rc == 0)
    MLFQ_TEST_FAIL("expected the connection closed, got message %d",
                   (int)m->msg_case);
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  tc_run(b, 1, 4, 3);
  tc_close(a);
  tc_close(b);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

TEST(protocol, frame_zero_length) {
  static const uint8_t zero[4] = {0, 0, 0, 0};

  fatal_case(zero, sizeof(zero), 1, MLFQ__ERROR_CODE__BAD_FRAME);
}

TEST(protocol, frame_zero_length_before_hello) {
  static const uint8_t zero[4] = {0, 0, 0, 0};

  fatal_case(zero, sizeof(zero), 0, MLFQ__ERROR_CODE__BAD_FRAME);
}

/* A frame whose payload does not parse (a truncated varint key). */
TEST(protocol, garbage_payload) {
  static const uint8_t garbage[12] = {0,    0,    0,    8,    0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

  fatal_case(garbage, sizeof(garbage), 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
}

/* A well-formed ClientMessage with no known field set (field 9). */
TEST(protocol, unknown_message) {
  static const uint8_t unknown[6] = {0, 0, 0, 2, 9 << 3, 1};

  fatal_case(unknown, sizeof(unknown), 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
}

TEST(protocol, unknown_message_before_hello) {
  static const uint8_t unknown[6] = {0, 0, 0, 2, 9 << 3, 1};

  fatal_case(unknown, sizeof(unknown), 0, MLFQ__ERROR_CODE__BAD_MESSAGE);
}

TEST(protocol, submit_before_hello) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 3);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  mlfq_buf_free(&b);
}

/* A client that never sends Hello is disconnected after --hello-timeout;
 * clients that did are not, however long they stay. */
TEST(protocol, hello_timeout) {
  const char *args[] = {FAST, "--hello-timeout", "0.3", NULL};
  mlfq_test_daemon_t d;

  mlfq_test_daemon_start(&d, args);
  tc_expect_hello_timeout(&d, 300);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

TEST(protocol, stats_before_hello) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_stats(&b);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  mlfq_buf_free(&b);
}

TEST(protocol, bad_version) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_hello(&b, MLFQ_PROTOCOL_VERSION + 1);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__BAD_VERSION);
  mlfq_buf_free(&b);
}

TEST(protocol, second_hello) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_hello(&b, MLFQ_PROTOCOL_VERSION);
  fatal_case(b.data, b.len, 1, MLFQ__ERROR_CODE__BAD_MESSAGE);
  mlfq_buf_free(&b);
}

/* A truncated header, and a truncated frame, each followed by the client
 * closing: the daemon forgets them; clients before and after work. */
TEST(protocol, truncated_then_close) {
  static const uint8_t header[2] = {0, 0};
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  tc_client_t *a, *b, *c;
  mlfq_buf_t buf;
  int64_t deadline;
  int i;

  mlfq_test_daemon_start(&d, args);
  b = tc_open(&d, 1);
  for (i = 0; i < 2; i++) {
    a = tc_open(&d, 1);
    mlfq_buf_init(&buf, 1 << 16);
    tc_put_submit(&buf, 1, 4, 3);
    if (i == 0)
      ASSERT_OK(mlfq_peer_send_raw(&a->p, header, sizeof(header)));
    else
      ASSERT_OK(mlfq_peer_send_raw(&a->p, buf.data, buf.len - 2));
    mlfq_buf_free(&buf);
    tc_close(a);
    /* The daemon has seen the close when b is the only connection. */
    deadline = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
      m = tc_stats(b);
      if (m->stats->connections == 1)
        break;
      ASSERT_LT(tc_now_ms(), deadline);
      mlfq__server_message__free_unpacked(m, NULL);
    }
    ASSERT_EQ_U64(m->stats->submitted, (uint64_t)i);
    mlfq__server_message__free_unpacked(m, NULL);
    tc_run(b, (uint64_t)i + 1, 4, 3);
  }
  c = tc_open(&d, 1);
  tc_run(c, 1, 4, 3);
  tc_close(c);
  tc_close(b);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* The frames one iteration produces for a connection are written together:
 * once a token of an iteration can be read, so can all the others. Four
 * requests share every iteration (fcfs, a batch of 4); 30 ms apart. */
TEST(protocol, iteration_frames_together) {
  const char *args[] = {"--decode-ms", "30",       "--prefill-ms-per-token",
                        "0.01",        "--policy", "fcfs",
                        "--max-batch", "4",        NULL};
  uint64_t t[16];
  unsigned burst[16], ntok = 0, nburst = 0, i, j, same;
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  mlfq_buf_t b;
  tc_client_t *c;
  uint64_t id;
  int rc, done = 0;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  for (id = 1; id <= 4; id++)
    tc_put_submit(&b, id, 4, 4);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  while (done < 4) {
    /* One burst: a message, then all that can be read without waiting. */
    m = tc_recv(c, TC_WAIT_MS);
    for (;;) {
      if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_TOKEN) {
        ASSERT_LT(ntok, 16);
        t[ntok] = m->token->t_ns;
        burst[ntok++] = nburst;
      }
      done += m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE;
      mlfq__server_message__free_unpacked(m, NULL);
      rc = mlfq_peer_recv(&c->p, &m, 0);
      if (rc == -ETIMEDOUT)
        break;
      ASSERT_OK(rc);
      tc_record(c, m);
    }
    nburst++;
  }
  ASSERT_EQ(ntok, 16);
  for (i = 0; i < ntok; i++) {
    same = 0;
    for (j = 0; j < ntok; j++) {
      if (t[j] != t[i])
        continue;
      same++;
      if (burst[j] != burst[i])
        MLFQ_TEST_FAIL("tokens of the iteration ending at %llu ns arrived "
                       "in bursts %u and %u",
                       (unsigned long long)t[i], burst[i], burst[j]);
    }
    ASSERT_EQ(same, 4);
  }
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A Submit sent one byte per write, and split at every byte into two
 * writes, is accepted; several frames in one write are all handled. */
TEST(protocol, split_frames) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  mlfq_buf_t b;
  tc_client_t *c;
  size_t i, k;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 1, 4, 3);
  for (i = 0; i < b.len; i++)
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data + i, 1));
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(c->tokens[1], 3);
  mlfq_buf_free(&b);

  for (k = 1;; k++) {
    mlfq_buf_init(&b, 1 << 16);
    tc_put_submit(&b, 100 + k, 4, 3);
    if (k >= b.len) {
      mlfq_buf_free(&b);
      break;
    }
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, k));
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data + k, b.len - k));
    mlfq_buf_free(&b);
  }
  for (i = 1; i < k; i++) {
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 100 + i);
    ASSERT_EQ(c->tokens[100 + i], 3);
  }

  /* Two Submits and a Stats in one write. */
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, 201, 4, 3);
  tc_put_submit(&b, 202, 4, 3);
  tc_put_stats(&b);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, TC_ANY_ID);
  /* Both Submits were handled before the Stats: in flight or done. */
  ASSERT_EQ_U64(m->stats->running + m->stats->waiting + m->stats->completed,
                k + 2);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 201);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 202);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}
