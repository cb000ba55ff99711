/* mlfqd's protocol against a real daemon on an ephemeral port: connection
 * errors close only their connection, request errors keep it open,
 * cancellation, the limits (pending, connections, frame and lengths),
 * disconnects, slow readers and framing (split and coalesced frames). Every
 * wait has a deadline; "the server has processed X" is a Stats reply after
 * X on the same connection. */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "peer.h"
#include "wire.h"

#include "task.h"

#define MAXID 512
#define WAIT_MS 5000 /* bound of every wait */
#define ANY_ID UINT64_MAX

/* A client and what it has seen of each of its requests (ids < MAXID). */
typedef struct {
  mlfq_peer_t p;
  uint32_t accepted[MAXID];
  uint32_t tokens[MAXID];
  uint32_t done[MAXID];
  int err[MAXID];       /* code of the last Error for the id */
  int ended[MAXID];     /* a final Error was seen */
  uint32_t late[MAXID]; /* Accepted, Token or Done after a final Error */
} client_t;

/* Daemons of this process: if a test fails before stopping one, it is
 * killed and its log printed and removed. */
static const mlfq_test_daemon_t *live[8];

static void kill_live(void) {
  unsigned i;
  int c;
  FILE *f;

  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (live[i] == NULL)
      continue;
    kill(live[i]->pid, SIGKILL);
    f = fopen(live[i]->log, "r");
    if (f != NULL) {
      fprintf(stderr, "--- log of mlfqd %d:\n", live[i]->pid);
      while ((c = fgetc(f)) != EOF)
        fputc(c, stderr);
      fclose(f);
    }
    unlink(live[i]->log);
  }
}

static void start(mlfq_test_daemon_t *d, const char *const *args) {
  static int registered;
  unsigned i;

  if (!registered) {
    atexit(kill_live);
    registered = 1;
  }
  mlfq_test_daemon_start(d, args);
  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (live[i] == NULL) {
      live[i] = d;
      return;
    }
  }
  MLFQ_TEST_FAIL("too many daemons");
}

/* Stops d with SIGTERM and asserts a clean exit (under ASan: no leak). */
static void stop_ok(mlfq_test_daemon_t *d) {
  unsigned i;

  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++)
    if (live[i] == d)
      live[i] = NULL;
  ASSERT_EQ(mlfq_test_daemon_stop(d, SIGTERM, 5), 0);
}

static int64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
  int64_t l = deadline - now_ms();

  return l > 0 ? (int)l : 0;
}

static uint64_t msg_id(const Mlfq__ServerMessage *m) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    return m->accepted->id;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    return m->token->id;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    return m->done->id;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    return m->error->id;
  default:
    return ANY_ID;
  }
}

static int final_error(int code) {
  return code == MLFQ__ERROR_CODE__INVALID_REQUEST ||
         code == MLFQ__ERROR_CODE__OVERLOADED ||
         code == MLFQ__ERROR_CODE__CANCELLED ||
         code == MLFQ__ERROR_CODE__SHUTTING_DOWN ||
         code == MLFQ__ERROR_CODE__INTERNAL;
}

static void record(client_t *c, const Mlfq__ServerMessage *m) {
  uint64_t id = msg_id(m);

  if (id >= MAXID)
    return;
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    c->late[id] += (uint32_t)c->ended[id];
    c->accepted[id]++;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    c->late[id] += (uint32_t)c->ended[id];
    c->tokens[id]++;
    ASSERT_EQ(m->token->index, c->tokens[id]);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    c->late[id] += (uint32_t)c->ended[id];
    c->done[id]++;
    ASSERT_EQ(m->done->iterations, c->tokens[id]);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    c->err[id] = m->error->code;
    if (final_error(m->error->code))
      c->ended[id] = 1;
    break;
  default:
    break;
  }
}

static client_t *cl_open(const mlfq_test_daemon_t *d, int hello) {
  client_t *c = calloc(1, sizeof(*c));
  char err[256];

  ASSERT(c != NULL);
  ASSERT_OK(
      mlfq_peer_connect(&c->p, d->host, d->port, WAIT_MS, err, sizeof(err)));
  if (hello)
    ASSERT_OK(mlfq_peer_hello(&c->p, "test-protocol", NULL, WAIT_MS));
  return c;
}

static void cl_close(client_t *c) {
  mlfq_peer_close(&c->p);
  free(c);
}

static void cl_send(client_t *c, const Mlfq__ClientMessage *m) {
  ASSERT_OK(mlfq_peer_send(&c->p, m));
}

static void put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;

  s.id = id;
  s.input_length = in;
  s.output_length = out;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

static void put_stats(mlfq_buf_t *b) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

/* Forgets what was seen of id: it may be reused once it has ended. */
static void cl_reset(client_t *c, uint64_t id) {
  ASSERT(id < MAXID);
  c->accepted[id] = c->tokens[id] = c->done[id] = c->late[id] = 0;
  c->err[id] = c->ended[id] = 0;
}

static void cl_submit(client_t *c, uint64_t id, uint32_t in, uint32_t out) {
  mlfq_buf_t b;

  if (id < MAXID && (c->ended[id] || c->done[id]))
    cl_reset(c, id);
  mlfq_buf_init(&b, 1 << 16);
  put_submit(&b, id, in, out);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
}

static void cl_cancel(client_t *c, uint64_t id) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;

  k.id = id;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  cl_send(c, &m);
}

static Mlfq__ServerMessage *cl_recv(client_t *c, int timeout_ms) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, timeout_ms);

  if (rc != 0)
    MLFQ_TEST_FAIL("recv: %d (%s)", rc, mlfq_strerror(rc));
  record(c, m);
  return m;
}

/* Receives until a message of kind msg_case (about id, unless ANY_ID) and
 * returns it; what comes before is recorded. */
static Mlfq__ServerMessage *cl_wait(client_t *c, int msg_case, uint64_t id) {
  int64_t deadline = now_ms() + WAIT_MS;
  Mlfq__ServerMessage *m;

  for (;;) {
    m = cl_recv(c, left_ms(deadline));
    if ((int)m->msg_case == msg_case && (id == ANY_ID || msg_id(m) == id))
      return m;
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

static void cl_wait_free(client_t *c, int msg_case, uint64_t id) {
  mlfq__server_message__free_unpacked(cl_wait(c, msg_case, id), NULL);
}

static void expect_error(client_t *c, uint64_t id, int code) {
  Mlfq__ServerMessage *m = cl_wait(c, MLFQ__SERVER_MESSAGE__MSG_ERROR, id);

  if ((int)m->error->code != code)
    MLFQ_TEST_FAIL("error for %llu: %s (%s), expected %s",
                   (unsigned long long)id, mlfq_wire_error_name(m->error->code),
                   m->error->message, mlfq_wire_error_name(code));
  mlfq__server_message__free_unpacked(m, NULL);
}

/* The stats after everything sent so far on c has been handled. */
static Mlfq__ServerMessage *cl_stats(client_t *c) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  cl_send(c, &m);
  return cl_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, ANY_ID);
}

/* Polls Stats on c until no job is running or waiting and conns
 * connections are open (a closed connection's jobs go at once, its count
 * when its handle has closed); returns the last reply. */
static Mlfq__ServerMessage *wait_idle(client_t *c, uint64_t conns) {
  int64_t deadline = now_ms() + WAIT_MS;
  Mlfq__ServerMessage *m;

  for (;;) {
    m = cl_stats(c);
    if (m->stats->running == 0 && m->stats->waiting == 0 &&
        m->stats->connections == conns)
      return m;
    if (now_ms() > deadline)
      MLFQ_TEST_FAIL("still %llu running, %llu waiting, %llu connections "
                     "after %d ms",
                     (unsigned long long)m->stats->running,
                     (unsigned long long)m->stats->waiting,
                     (unsigned long long)m->stats->connections, WAIT_MS);
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

/* A short request on c completes: Accepted, its tokens, Done. */
static void run_ok(client_t *c, uint64_t id) {
  cl_submit(c, id, 4, 3);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
  ASSERT_EQ(c->accepted[id], 1);
  ASSERT_EQ(c->tokens[id], 3);
  ASSERT_EQ(c->done[id], 1);
  ASSERT_EQ(c->ended[id], 0);
}

/* The server closes c: recv ends with -EPIPE, no further message. */
static void expect_closed(client_t *c) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, WAIT_MS);

  if (rc == 0)
    MLFQ_TEST_FAIL("expected the connection closed, got message %d",
                   (int)m->msg_case);
  ASSERT_EQ(rc, -EPIPE);
}

/* A fast cost model: 1 ms per decode. */
#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"

/* A client sends bytes (after Hello if hello) and gets a connection error
 * with id 0 and code, then the connection is closed; a client connected
 * before it keeps working. */
static void fatal_case(const void *bytes, size_t len, int hello, int code) {
  const char *args[] = {FAST, "--max-frame-bytes", "1024", NULL};
  mlfq_test_daemon_t d;
  client_t *a, *b;
  Mlfq__ServerMessage *m;

  start(&d, args);
  b = cl_open(&d, 1);
  a = cl_open(&d, hello);
  ASSERT_OK(mlfq_peer_send_raw(&a->p, bytes, len));
  m = cl_recv(a, WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  if ((int)m->error->code != code)
    MLFQ_TEST_FAIL("got %s (%s), expected %s",
                   mlfq_wire_error_name(m->error->code), m->error->message,
                   mlfq_wire_error_name(code));
  ASSERT_EQ_U64(m->error->id, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  expect_closed(a);
  run_ok(b, 1);
  cl_close(a);
  cl_close(b);
  stop_ok(&d);
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
  client_t *a;

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

  start(&d, args);
  a = cl_open(&d, 1);
  cl_send(a, &m);
  cl_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(a->tokens[1], 3);
  cl_close(a);
  stop_ok(&d);

  fatal_case(over, sizeof(over), 1, MLFQ__ERROR_CODE__BAD_FRAME);
}

/* A length of 2 GiB followed by bytes: refused from its header alone
 * (nothing that size is buffered), the client is closed, others work. */
TEST(protocol, frame_huge_length_with_payload) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m = NULL;
  mlfq_test_daemon_t d;
  static uint8_t bytes[60004];
  client_t *a, *b;
  int rc;

  memset(bytes, 0x5a, sizeof(bytes));
  bytes[0] = 0x7f;
  bytes[1] = bytes[2] = bytes[3] = 0xff;
  start(&d, args);
  b = cl_open(&d, 1);
  a = cl_open(&d, 1);
  ASSERT_OK(mlfq_peer_send_raw(&a->p, bytes, sizeof(bytes)));
  expect_error(a, 0, MLFQ__ERROR_CODE__BAD_FRAME);
  /* Unread bytes may turn the close into a reset. */
  rc = mlfq_peer_recv(&a->p, &m, WAIT_MS);
  if (rc == 0)
    MLFQ_TEST_FAIL("expected the connection closed, got message %d",
                   (int)m->msg_case);
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  run_ok(b, 1);
  cl_close(a);
  cl_close(b);
  stop_ok(&d);
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
  put_submit(&b, 1, 4, 3);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  mlfq_buf_free(&b);
}

TEST(protocol, stats_before_hello) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  put_stats(&b);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  mlfq_buf_free(&b);
}

static void put_hello(mlfq_buf_t *b, uint32_t version) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;

  h.protocol_version = version;
  h.client_name = "test-protocol";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

TEST(protocol, bad_version) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  put_hello(&b, MLFQ_PROTOCOL_VERSION + 1);
  fatal_case(b.data, b.len, 0, MLFQ__ERROR_CODE__BAD_VERSION);
  mlfq_buf_free(&b);
}

TEST(protocol, second_hello) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  put_hello(&b, MLFQ_PROTOCOL_VERSION);
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
  client_t *a, *b, *c;
  mlfq_buf_t buf;
  int64_t deadline;
  int i;

  start(&d, args);
  b = cl_open(&d, 1);
  for (i = 0; i < 2; i++) {
    a = cl_open(&d, 1);
    mlfq_buf_init(&buf, 1 << 16);
    put_submit(&buf, 1, 4, 3);
    if (i == 0)
      ASSERT_OK(mlfq_peer_send_raw(&a->p, header, sizeof(header)));
    else
      ASSERT_OK(mlfq_peer_send_raw(&a->p, buf.data, buf.len - 2));
    mlfq_buf_free(&buf);
    cl_close(a);
    /* The daemon has seen the close when b is the only connection. */
    deadline = now_ms() + WAIT_MS;
    for (;;) {
      m = cl_stats(b);
      if (m->stats->connections == 1)
        break;
      ASSERT_LT(now_ms(), deadline);
      mlfq__server_message__free_unpacked(m, NULL);
    }
    ASSERT_EQ_U64(m->stats->submitted, (uint64_t)i);
    mlfq__server_message__free_unpacked(m, NULL);
    run_ok(b, (uint64_t)i + 1);
  }
  c = cl_open(&d, 1);
  run_ok(c, 1);
  cl_close(c);
  cl_close(b);
  stop_ok(&d);
}

/* Invalid requests get an Error for their id and the connection stays
 * open: a valid request after each completes. */
TEST(protocol, request_errors) {
  const char *args[] = {
      FAST, "--max-input-length", "100", "--max-output-length", "50", NULL};
  static const uint32_t bad[4][2] = {{4, 0}, {0, 3}, {101, 3}, {4, 51}};
  mlfq_test_daemon_t d;
  client_t *c;
  uint64_t id = 1;
  int i;

  start(&d, args);
  c = cl_open(&d, 1);
  for (i = 0; i < 4; i++) {
    cl_submit(c, id, bad[i][0], bad[i][1]);
    expect_error(c, id, MLFQ__ERROR_CODE__INVALID_REQUEST);
    ASSERT_EQ(c->accepted[id], 0);
    run_ok(c, id + 100);
    id++;
  }
  /* The limits themselves are fine. */
  cl_submit(c, id, 100, 50);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
  ASSERT_EQ(c->tokens[id], 50);
  ASSERT_EQ(c->err[id], 0);
  id++;

  /* A duplicate id while in flight; the first goes on. */
  cl_submit(c, id, 4, 40);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  cl_submit(c, id, 4, 3);
  expect_error(c, id, MLFQ__ERROR_CODE__DUPLICATE_ID);
  run_ok(c, 200);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
  ASSERT_EQ(c->accepted[id], 1);
  ASSERT_EQ(c->tokens[id], 40);
  /* Once it has ended the id may be used again. */
  run_ok(c, id);

  /* Cancel of an id never submitted, and of one that has ended. */
  cl_cancel(c, 300);
  expect_error(c, 300, MLFQ__ERROR_CODE__UNKNOWN_ID);
  run_ok(c, 301);
  cl_cancel(c, 301);
  expect_error(c, 301, MLFQ__ERROR_CODE__UNKNOWN_ID);
  run_ok(c, 302);
  cl_close(c);
  stop_ok(&d);
}

/* Cancel of a running and of a waiting request: CANCELLED for each, nothing
 * for them afterwards, and the other request is unaffected. */
TEST(protocol, cancel_running_and_waiting) {
  const char *args[] = {FAST, "--policy", "fcfs", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  client_t *c;
  mlfq_buf_t b;

  start(&d, args);
  c = cl_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  put_submit(&b, 1, 4, 100000); /* runs first (fcfs) */
  put_submit(&b, 2, 4, 100000); /* waits behind it */
  put_submit(&b, 3, 4, 5);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_TOKEN, 1);
  ASSERT_EQ(c->accepted[2], 1);
  ASSERT_EQ(c->tokens[2], 0);

  cl_cancel(c, 2);
  expect_error(c, 2, MLFQ__ERROR_CODE__CANCELLED);
  cl_cancel(c, 1);
  expect_error(c, 1, MLFQ__ERROR_CODE__CANCELLED);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 3);
  ASSERT_EQ(c->tokens[3], 5);

  m = cl_stats(c);
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
  cl_cancel(c, 1);
  expect_error(c, 1, MLFQ__ERROR_CODE__UNKNOWN_ID);
  run_ok(c, 2);
  cl_close(c);
  stop_ok(&d);
}

/* A Cancel that arrives with its Submit (one write, before the request
 * enters the scheduler) ends it the same way: CANCELLED, nothing else for
 * it, and Stats counts it like any cancelled request. */
TEST(protocol, cancel_before_accepted) {
  const char *args[] = {FAST, NULL};
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;
  Mlfq__ServerMessage *r;
  mlfq_test_daemon_t d;
  mlfq_buf_t b;
  client_t *c;

  start(&d, args);
  c = cl_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  put_submit(&b, 1, 4, 100000);
  k.id = 1;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  ASSERT_OK(mlfq_wire_put_client(&b, &m));
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  expect_error(c, 1, MLFQ__ERROR_CODE__CANCELLED);
  r = cl_stats(c);
  ASSERT_EQ(c->late[1], 0);
  ASSERT_EQ(c->tokens[1], 0);
  ASSERT_EQ_U64(r->stats->running + r->stats->waiting, 0);
  ASSERT_EQ_U64(r->stats->cancelled, 1);
  mlfq__server_message__free_unpacked(r, NULL);
  run_ok(c, 2);
  cl_close(c);
  stop_ok(&d);
}

/* Beyond --max-pending requests in flight, Submit is refused at once with
 * OVERLOADED, counted in Stats.rejected; room comes back as they end. */
TEST(protocol, max_pending) {
  const char *args[] = {FAST, "--max-pending", "2", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  client_t *a, *b;

  start(&d, args);
  a = cl_open(&d, 1);
  b = cl_open(&d, 1);
  cl_submit(a, 1, 4, 100000);
  cl_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  cl_submit(b, 1, 4, 100000);
  cl_wait_free(b, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  cl_submit(a, 2, 4, 3);
  expect_error(a, 2, MLFQ__ERROR_CODE__OVERLOADED);
  cl_submit(b, 2, 4, 3);
  expect_error(b, 2, MLFQ__ERROR_CODE__OVERLOADED);
  ASSERT_EQ(a->accepted[2], 0);
  m = cl_stats(a);
  ASSERT_EQ_U64(m->stats->rejected, 2);
  ASSERT_EQ_U64(m->stats->submitted, 2);
  mlfq__server_message__free_unpacked(m, NULL);

  cl_cancel(a, 1);
  expect_error(a, 1, MLFQ__ERROR_CODE__CANCELLED);
  run_ok(a, 3);
  cl_cancel(b, 1);
  expect_error(b, 1, MLFQ__ERROR_CODE__CANCELLED);
  cl_close(a);
  cl_close(b);
  stop_ok(&d);
}

/* One connection more than --max-connections gets TOO_MANY_CONNECTIONS
 * and is closed; the others work, and room comes back when one leaves. */
TEST(protocol, max_connections) {
  const char *args[] = {FAST, "--max-connections", "2", NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  client_t *a, *b, *c;
  int64_t deadline;

  start(&d, args);
  a = cl_open(&d, 1);
  b = cl_open(&d, 1);
  c = cl_open(&d, 0);
  m = cl_recv(c, WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  ASSERT_EQ(m->error->code, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS);
  ASSERT_EQ_U64(m->error->id, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  expect_closed(c);
  cl_close(c);
  run_ok(a, 1);
  run_ok(b, 1);

  cl_close(b);
  deadline = now_ms() + WAIT_MS;
  for (;;) {
    m = cl_stats(a);
    if (m->stats->connections == 1)
      break;
    ASSERT_LT(now_ms(), deadline);
    mlfq__server_message__free_unpacked(m, NULL);
  }
  mlfq__server_message__free_unpacked(m, NULL);
  c = cl_open(&d, 1);
  run_ok(c, 1);
  cl_close(c);
  cl_close(a);
  stop_ok(&d);
}

/* A client that disconnects has its jobs cancelled at once. */
TEST(protocol, disconnect_cancels) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  client_t *a, *b;
  uint64_t id;

  start(&d, args);
  b = cl_open(&d, 1);
  a = cl_open(&d, 1);
  for (id = 1; id <= 3; id++)
    cl_submit(a, id, 4, 100000);
  for (id = 1; id <= 3; id++)
    cl_wait_free(a, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  m = cl_stats(b);
  ASSERT_EQ_U64(m->stats->running + m->stats->waiting, 3);
  mlfq__server_message__free_unpacked(m, NULL);
  cl_close(a);

  m = wait_idle(b, 1);
  ASSERT_EQ_U64(m->stats->cancelled, 3);
  ASSERT_EQ_U64(m->stats->completed, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  run_ok(b, 1);
  cl_close(b);
  stop_ok(&d);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *s;
  long n;

  ASSERT(f != NULL);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = calloc(1, (size_t)n + 1);
  ASSERT(s != NULL);
  if (n > 0)
    ASSERT_EQ(fread(s, 1, (size_t)n, f), n);
  fclose(f);
  return s;
}

/* A client that submits many long requests and never reads is
 * disconnected once its unread output passes --max-queued-bytes, with a
 * log line; its jobs go, and other clients are unaffected. */
TEST(protocol, slow_reader) {
  const char *args[] = {"--decode-ms", "0.01",     "--prefill-ms-per-token",
                        "0.0001",      "--policy", "fcfs",
                        "--max-batch", "256",      "--max-queued-bytes",
                        "65536",       NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  client_t *s, *b;
  int64_t deadline;
  uint8_t scratch[65536];
  mlfq_buf_t buf;
  ssize_t n;
  char *log;
  uint64_t id;

  start(&d, args);
  b = cl_open(&d, 1);
  s = cl_open(&d, 1);
  mlfq_buf_init(&buf, 1 << 20);
  for (id = 1; id <= 256; id++)
    put_submit(&buf, id, 4, 1000000);
  ASSERT_OK(mlfq_peer_send_raw(&s->p, buf.data, buf.len));
  mlfq_buf_free(&buf);

  /* The jobs arrive, then go when the daemon disconnects s. */
  deadline = now_ms() + WAIT_MS;
  for (;;) {
    m = cl_stats(b);
    if (m->stats->submitted == 256)
      break;
    ASSERT_LT(now_ms(), deadline);
    mlfq__server_message__free_unpacked(m, NULL);
  }
  mlfq__server_message__free_unpacked(m, NULL);
  m = wait_idle(b, 1);
  ASSERT_EQ_U64(m->stats->cancelled, 256);
  mlfq__server_message__free_unpacked(m, NULL);
  log = slurp(d.log);
  ASSERT_CONTAINS(log, "slow reader");
  free(log);

  /* s finds its connection closed after what was written. */
  deadline = now_ms() + WAIT_MS;
  for (;;) {
    n = recv(s->p.fd, scratch, sizeof(scratch), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      break;
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      MLFQ_TEST_FAIL("recv: %s", strerror(errno));
    ASSERT_LT(now_ms(), deadline);
  }
  cl_close(s);
  run_ok(b, 1);
  cl_close(b);
  stop_ok(&d);
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
  client_t *c;
  uint64_t id;
  int rc, done = 0;

  start(&d, args);
  c = cl_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  for (id = 1; id <= 4; id++)
    put_submit(&b, id, 4, 4);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  while (done < 4) {
    /* One burst: a message, then all that can be read without waiting. */
    m = cl_recv(c, WAIT_MS);
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
      record(c, m);
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
  cl_close(c);
  stop_ok(&d);
}

/* A Submit sent one byte per write, and split at every byte into two
 * writes, is accepted; several frames in one write are all handled. */
TEST(protocol, split_frames) {
  const char *args[] = {FAST, NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  mlfq_buf_t b;
  client_t *c;
  size_t i, k;

  start(&d, args);
  c = cl_open(&d, 1);
  mlfq_buf_init(&b, 1 << 16);
  put_submit(&b, 1, 4, 3);
  for (i = 0; i < b.len; i++)
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data + i, 1));
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(c->tokens[1], 3);
  mlfq_buf_free(&b);

  for (k = 1;; k++) {
    mlfq_buf_init(&b, 1 << 16);
    put_submit(&b, 100 + k, 4, 3);
    if (k >= b.len) {
      mlfq_buf_free(&b);
      break;
    }
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, k));
    ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data + k, b.len - k));
    mlfq_buf_free(&b);
  }
  for (i = 1; i < k; i++) {
    cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 100 + i);
    ASSERT_EQ(c->tokens[100 + i], 3);
  }

  /* Two Submits and a Stats in one write. */
  mlfq_buf_init(&b, 1 << 16);
  put_submit(&b, 201, 4, 3);
  put_submit(&b, 202, 4, 3);
  put_stats(&b);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  m = cl_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, ANY_ID);
  /* Both Submits were handled before the Stats: in flight or done. */
  ASSERT_EQ_U64(m->stats->running + m->stats->waiting + m->stats->completed,
                k + 2);
  mlfq__server_message__free_unpacked(m, NULL);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 201);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 202);
  cl_close(c);
  stop_ok(&d);
}
