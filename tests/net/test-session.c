/* common/net/session.c on a real libuv loop over loopback TCP, as a server
 * of its own (ops of the test's): Hello first and the Welcome, the
 * answers to Submit and Cancel the session gives itself (DUPLICATE_ID,
 * INVALID_REQUEST, UNKNOWN_ID, CANCELLED, SHUTTING_DOWN), the errors that
 * close a connection once written (a message before Hello, a bad frame
 * header, no Hello in time, one connection too many), back-pressure
 * (reading stops while a quarter of the bound is unwritten, and starts
 * again) and the bound (a slow reader is disconnected). */
#include <stdlib.h>

#include <uv.h>

#include "client.h"
#include "net/session.h"
#include "task.h"
#include "tpeer.h"

#define MAXCONN 4

typedef struct {
  mlfq_session_t s;
} tconn_t;

typedef struct {
  uint64_t id;
} treq_t;

static struct {
  uv_loop_t loop;
  uv_tcp_t listener;
  mlfq_deadlines_t hellos;
  mlfq_stream_group_t group;
  mlfq_session_cfg_t cfg;
  int port;
  int draining;
  size_t open;
  uint64_t seq;
  tconn_t *conns[MAXCONN];
  treq_t reqs[8];
  int submits, cancels, closings, closed;
  int stats_errors; /* Errors a StatsRequest is answered with */
  int paused, resumed, was_paused;
} g;

static size_t on_opened(mlfq_session_t *s) {
  g.conns[g.seq - 1] = (tconn_t *)s;
  return ++g.open;
}

static void on_welcome(mlfq_session_t *s, Mlfq__Welcome *w, Mlfq__Config *cfg) {
  (void)s;
  (void)cfg;
  w->server_id = "test";
}

static int on_check(mlfq_session_t *s, const Mlfq__Submit *m, char *err,
                    size_t errlen) {
  (void)s;
  if (m->input_length != 13)
    return 0;
  snprintf(err, errlen, "thirteen");
  return 1;
}

static void on_submit(mlfq_session_t *s, const Mlfq__Submit *m) {
  treq_t *r = &g.reqs[m->id % 8];

  r->id = m->id;
  ASSERT_OK(mlfq_idmap_put(&s->ids, m->id, r));
  g.submits++;
}

static void on_cancel(mlfq_session_t *s, void *req) {
  treq_t *r = req;

  mlfq_idmap_del(&s->ids, r->id);
  g.cancels++;
}

static void on_stats(mlfq_session_t *s) {
  char msg[201];
  int i;

  memset(msg, 'x', sizeof(msg) - 1);
  msg[sizeof(msg) - 1] = '\0';
  for (i = 0; i < g.stats_errors; i++)
    mlfq_session_error(s, 99, MLFQ__ERROR_CODE__INTERNAL, "%s", msg);
}

static void on_closing(mlfq_session_t *s) {
  (void)s;
  g.closings++;
}

static void on_closed(mlfq_session_t *s) {
  size_t i;

  for (i = 0; i < MAXCONN; i++)
    if (g.conns[i] == (tconn_t *)s)
      g.conns[i] = NULL;
  g.open--;
  g.closed++;
  free(s);
}

static const mlfq_session_ops_t ops = {on_opened, NULL,       on_welcome,
                                       on_check,  on_submit,  on_cancel,
                                       on_stats,  on_closing, on_closed};

/* Counts the changes of the first connection's pause, as seen at the end
 * of each callback. */
static void on_settle(mlfq_stream_group_t *grp) {
  tconn_t *c;
  int now;

  mlfq_stream_group_flush(grp);
  c = g.conns[0];
  now = c != NULL && c->s.flow.paused;
  g.paused += !g.was_paused && now;
  g.resumed += g.was_paused && !now;
  g.was_paused = now;
}

static void on_connection(uv_stream_t *l, int status) {
  tconn_t *c = calloc(1, sizeof(*c));

  ASSERT_EQ(status, 0);
  ASSERT(c != NULL);
  ASSERT_LT(g.seq, MAXCONN);
  ++g.seq;
  (void)l;
  mlfq_session_accept(&c->s, &g.cfg, &ops, g.seq);
  on_settle(&g.group); /* as a program ends its callbacks */
}

/* A server of the test's on 127.0.0.1: Hello within hello_ms, at most
 * max_conns connections, max_queued bytes of output each. */
static void setup(unsigned hello_ms, unsigned max_conns, size_t max_queued) {
  struct sockaddr_storage ss;
  struct sockaddr_in a;
  int n = sizeof(ss);

  memset(&g, 0, sizeof(g));
  ASSERT_OK(uv_loop_init(&g.loop));
  ASSERT_OK(uv_tcp_init(&g.loop, &g.listener));
  ASSERT_OK(uv_ip4_addr("127.0.0.1", 0, &a));
  ASSERT_OK(uv_tcp_bind(&g.listener, (struct sockaddr *)&a, 0));
  ASSERT_OK(uv_listen((uv_stream_t *)&g.listener, 8, on_connection));
  ASSERT_OK(uv_tcp_getsockname(&g.listener, (struct sockaddr *)&ss, &n));
  g.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  ASSERT_OK(mlfq_deadlines_init(&g.hellos, &g.loop, hello_ms,
                                mlfq_session_hello_due));
  mlfq_stream_group_init(&g.group, on_settle);
  mlfq_session_cfg_init(&g.cfg, "test", &g.loop, (uv_stream_t *)&g.listener,
                        &g.group, &g.hellos, &g.draining);
  g.cfg.max_connections = max_conns;
  g.cfg.max_frame = 1024;
  g.cfg.max_queued = max_queued;
  g.cfg.hello_timeout_s = hello_ms / 1e3;
  g.cfg.max_input_length = 100;
  g.cfg.max_output_length = 100;
}

static void teardown(tpeer_t *peers, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    tpeer_close(&peers[i]);
  for (i = 0; i < MAXCONN; i++)
    if (g.conns[i] != NULL)
      mlfq_session_close(&g.conns[i]->s);
  uv_close((uv_handle_t *)&g.listener, NULL);
  mlfq_deadlines_close(&g.hellos);
  tpeer_loop_close(&g.loop);
  ASSERT_EQ(g.open, 0);
}

/* The next message the peer gets: run the loop until it is whole. */
static tpeer_t *waiting;
static Mlfq__ServerMessage *got;

static int have_message(void *arg) {
  (void)arg;
  got = tpeer_next(waiting);
  return got != NULL;
}

static Mlfq__ServerMessage *next(tpeer_t *p) {
  waiting = p;
  tpeer_run_until(&g.loop, have_message, NULL);
  return got;
}

/* The next message is an Error about id with code (and message msg, when
 * not NULL). */
static void expect_error(tpeer_t *p, uint64_t id, int code, const char *msg) {
  Mlfq__ServerMessage *m = next(p);

  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  ASSERT_EQ_U64(m->error->id, id);
  ASSERT_EQ(m->error->code, code);
  if (msg != NULL)
    ASSERT_STR_EQ(m->error->message, msg);
  mlfq__server_message__free_unpacked(m, NULL);
}

static int peer_eof(void *arg) { return ((tpeer_t *)arg)->eof; }

/* The connection is closed once what was queued is written. */
static void expect_eof(tpeer_t *p) {
  tpeer_run_until(&g.loop, peer_eof, p);
  ASSERT_EQ(p->in.len, 0);
}

/* Sends what put appends (tests/client.h's tc_put_*). */
#define SEND(p, put)                                                           \
  do {                                                                         \
    mlfq_buf_t b_;                                                             \
    mlfq_buf_init(&b_, 1024);                                                  \
    put;                                                                       \
    tpeer_send((p), b_.data, b_.len);                                          \
    mlfq_buf_free(&b_);                                                        \
  } while (0)
#define SEND_HELLO(p) SEND(p, tc_put_hello(&b_, MLFQ_PROTOCOL_VERSION))
#define SEND_SUBMIT(p, id, in, out) SEND(p, tc_put_submit(&b_, id, in, out))
#define SEND_CANCEL(p, id) SEND(p, tc_put_cancel(&b_, id))
#define SEND_STATS(p) SEND(p, tc_put_stats(&b_))

static void hello(tpeer_t *p) {
  Mlfq__ServerMessage *m;

  SEND_HELLO(p);
  m = next(p);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_WELCOME);
  ASSERT_EQ(m->welcome->protocol_version, MLFQ_PROTOCOL_VERSION);
  ASSERT_STR_EQ(m->welcome->server_id, "test");
  mlfq__server_message__free_unpacked(m, NULL);
}

static int submitted(void *arg) { return g.submits >= *(int *)arg; }

TEST(session, hello_then_the_answers_the_session_gives) {
  tpeer_t p;
  int one = 1;

  setup(5000, 4, 1 << 16);
  tpeer_connect(&p, &g.loop, g.port);
  hello(&p);
  SEND_SUBMIT(&p, 1, 5, 5);
  tpeer_run_until(&g.loop, submitted, &one);
  ASSERT_EQ(g.conns[0]->s.ids.n, 1);
  SEND_SUBMIT(&p, 1, 5, 5);
  expect_error(&p, 1, MLFQ__ERROR_CODE__DUPLICATE_ID,
               "request 1 is already in flight on this connection");
  SEND_SUBMIT(&p, 2, 13, 5); /* the program's check */
  expect_error(&p, 2, MLFQ__ERROR_CODE__INVALID_REQUEST, "thirteen");
  SEND_SUBMIT(&p, 3, 5, 101); /* over max_output_length */
  expect_error(&p, 3, MLFQ__ERROR_CODE__INVALID_REQUEST, NULL);
  SEND_CANCEL(&p, 5);
  expect_error(&p, 5, MLFQ__ERROR_CODE__UNKNOWN_ID,
               "request 5 is not in flight on this connection");
  SEND_CANCEL(&p, 1);
  expect_error(&p, 1, MLFQ__ERROR_CODE__CANCELLED, "cancelled");
  ASSERT_EQ(g.cancels, 1);
  ASSERT_EQ(g.conns[0]->s.ids.n, 0);
  g.draining = 1;
  SEND_SUBMIT(&p, 4, 5, 5);
  expect_error(&p, 4, MLFQ__ERROR_CODE__SHUTTING_DOWN,
               "the test is shutting down");
  g.stats_errors = 1;
  SEND_STATS(&p);
  expect_error(&p, 99, MLFQ__ERROR_CODE__INTERNAL, NULL);
  ASSERT_EQ(g.submits, 1);
  ASSERT_EQ(g.closed, 0);
  teardown(&p, 1);
  ASSERT_EQ(g.closings, 1);
}

TEST(session, connection_errors_close_once_written) {
  static const uint8_t empty[] = {0, 0, 0, 0};
  tpeer_t p;

  setup(5000, 4, 1 << 16);
  tpeer_connect(&p, &g.loop, g.port);
  SEND_SUBMIT(&p, 1, 5, 5); /* before Hello */
  expect_error(&p, 0, MLFQ__ERROR_CODE__HELLO_FIRST, NULL);
  expect_eof(&p);
  ASSERT_EQ(g.submits, 0);
  teardown(&p, 1);
  ASSERT_EQ(g.closed, 1);

  setup(5000, 4, 1 << 16);
  tpeer_connect(&p, &g.loop, g.port);
  hello(&p);
  tpeer_send(&p, empty, sizeof(empty));
  SEND_SUBMIT(&p, 1, 5, 5); /* after the bad header: never read */
  expect_error(&p, 0, MLFQ__ERROR_CODE__BAD_FRAME, NULL);
  expect_eof(&p);
  ASSERT_EQ(g.submits, 0);
  teardown(&p, 1);
}

TEST(session, no_hello_in_time_closes_with_hello_first) {
  tpeer_t p;

  setup(50, 4, 1 << 16);
  tpeer_connect(&p, &g.loop, g.port);
  expect_error(&p, 0, MLFQ__ERROR_CODE__HELLO_FIRST,
               "no Hello within 0.05 s (hello-timeout)");
  expect_eof(&p);
  teardown(&p, 1);
  ASSERT_EQ(g.closed, 1);
}

TEST(session, one_connection_too_many_is_refused) {
  tpeer_t p[2];

  setup(5000, 1, 1 << 16);
  tpeer_connect(&p[0], &g.loop, g.port);
  hello(&p[0]);
  tpeer_connect(&p[1], &g.loop, g.port);
  expect_error(&p[1], 0, MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS,
               "too many connections (max-connections)");
  expect_eof(&p[1]);
  ASSERT_EQ(g.open, 1);
  SEND_CANCEL(&p[0], 3); /* the first is still served */
  expect_error(&p[0], 3, MLFQ__ERROR_CODE__UNKNOWN_ID, NULL);
  teardown(p, 2);
}

TEST(session, back_pressure_pauses_reading_until_half_is_written) {
  tpeer_t p;
  int i;

  /* Reading stops above 1024 unwritten bytes: 8 Errors of ~220 are more. */
  setup(5000, 4, 4096);
  tpeer_connect(&p, &g.loop, g.port);
  hello(&p);
  g.stats_errors = 8;
  SEND_STATS(&p);
  for (i = 0; i < 8; i++)
    expect_error(&p, 99, MLFQ__ERROR_CODE__INTERNAL, NULL);
  ASSERT_EQ(g.paused, 1);
  SEND_CANCEL(&p, 3); /* read again once the writes ended */
  expect_error(&p, 3, MLFQ__ERROR_CODE__UNKNOWN_ID, NULL);
  ASSERT_EQ(g.resumed, 1);
  ASSERT_EQ(g.closed, 0);
  teardown(&p, 1);
}

TEST(session, slow_reader_is_disconnected_past_the_bound) {
  tpeer_t p;

  setup(5000, 4, 1024); /* 8 Errors of ~220 bytes do not fit */
  tpeer_connect(&p, &g.loop, g.port);
  hello(&p);
  g.stats_errors = 8;
  SEND_STATS(&p);
  expect_eof(&p); /* nothing of what was queued is written */
  ASSERT_EQ(g.closed, 1);
  teardown(&p, 1);
}
