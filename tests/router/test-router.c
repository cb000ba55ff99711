/* mlfq-router against real mlfqd replicas on ephemeral ports, as clients
 * use it: the protocol through it (ids remapped, errors, limits,
 * disconnects, slow readers), each routing policy's spread read from
 * Done.replica, loadgen and mlfqctl against it, a replica killed mid-run
 * and restarted, the drain, daemon mode and bad options. Every wait has a
 * deadline; "the router has handled X" is a Stats reply after X on the
 * same connection. Every router and replica must exit 0 at SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/balance.h"
#include "wire/wire.h"

#include "client.h"

#define ROUTER MLFQ_BIN_DIR "/mlfq-router"
#define MAXREP 3

/* A fast cost model: 1 ms per decode. */
#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"
/* Prefills of 1 ms per prompt token: a burst of Submits is dispatched
 * long before the first Token of any of them can come back. */
#define SLOW_PREFILL                                                           \
  "--decode-ms", "2", "--prefill-ms-per-token", "1", "--max-batch", "32"

/* n replicas and a router over them. */
typedef struct {
  mlfq_test_daemon_t rep[MAXREP];
  int running[MAXREP];
  int n;
  mlfq_test_daemon_t router;
} rig_t;

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
static void rig_start(rig_t *g, int n, const char *const *rargs,
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
static void rig_stop(rig_t *g) {
  int i;

  ASSERT_EQ(mlfq_test_daemon_stop(&g->router, SIGTERM, 10), 0);
  for (i = 0; i < g->n; i++)
    if (g->running[i])
      ASSERT_EQ(mlfq_test_daemon_stop(&g->rep[i], SIGTERM, 10), 0);
}

/* Receives until requests first..last have all ended. */
static void wait_ended(tc_client_t *c, tc_seen_t *s, uint64_t first,
                       uint64_t last) {
  int64_t deadline = tc_now_ms() + 2 * TC_WAIT_MS;
  uint64_t id;

  for (id = first; id <= last; id++)
    while (s->ends[id] == 0)
      tc_take(c, s, deadline);
}

/* Every request first..last ended once, with Done and out Tokens from a
 * replica in 1..n, and nothing came after its end. */
static void assert_all_done(tc_client_t *c, const tc_seen_t *s, uint64_t first,
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
static void wait_accepted(tc_client_t *c, uint64_t first, uint64_t last) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  uint64_t id;

  for (id = first; id <= last; id++)
    while (c->accepted[id] == 0)
      mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)),
                                          NULL);
}

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
  wait_ended(a, sa, 1, 12);
  wait_ended(b, sb, 1, 12);
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
  wait_accepted(a, 1, 6);
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
  Mlfq__ServerMessage *m;
  tc_client_t *s, *b;
  mlfq_buf_t buf;
  uint64_t id;
  char *log;
  long rss0;
  rig_t g;

  rig_start(&g, 2, rargs, args);
  rss0 = mlfq_test_proc_kb(g.router.pid, "VmRSS");
  b = tc_open(&g.router, 1);
  s = tc_open(&g.router, 1);
  mlfq_buf_init(&buf, 1 << 20);
  for (id = 1; id <= 256; id++)
    tc_put_submit(&buf, id, 4, 1000000);
  ASSERT_OK(mlfq_peer_send_raw(&s->p, buf.data, buf.len));
  mlfq_buf_free(&buf);
  tc_wait_submitted(b, 256);
  m = tc_wait_idle(b, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->cancelled, 256);
  mlfq__server_message__free_unpacked(m, NULL);
  log = mlfq_test_slurp(g.router.log);
  ASSERT_CONTAINS(log, "slow reader");
  free(log);
  /* What the replicas sent for it never passed the client's bound: the
   * router's peak memory grew by a few MB, not by gigabytes. */
  printf("slow reader: the router's peak RSS grew by %ld kB\n",
         mlfq_test_proc_kb(g.router.pid, "VmHWM") - rss0);
  if (!MLFQ_TEST_SANITIZED)
    ASSERT_LE(mlfq_test_proc_kb(g.router.pid, "VmHWM") - rss0, 16 * 1024);
  tc_close(s);
  tc_run(b, 1, 4, 3);
  tc_close(b);
  rig_stop(&g);
}

/* Runs the requests first..last (in, out tokens) as one burst on c and
 * counts where they ran: count[r] for replica r (1-based). */
static void spread(tc_client_t *c, tc_seen_t *s, uint64_t first, uint64_t last,
                   uint32_t in, uint32_t out, int count[MAXREP + 1]) {
  uint64_t id;

  tc_submit_burst(c, first, last, in, out);
  wait_ended(c, s, first, last);
  assert_all_done(c, s, first, last, out, MAXREP);
  for (id = first; id <= last; id++)
    count[s->replica[id]]++;
}

/* The router's picks replayed on a balancer of the same policy and seed:
 * with no Token back during the burst, they must be the same. */
static void assert_replayed(const tc_seen_t *s, mlfq_balance_policy_t p,
                            uint64_t seed, uint64_t n, uint32_t in,
                            uint32_t out) {
  mlfq_balance_load_t *l = calloc(n + 1, sizeof(*l));
  mlfq_balance_t b;
  uint64_t id;
  int i;

  ASSERT(l != NULL);
  ASSERT_OK(mlfq_balance_init(&b, p, MAXREP, seed));
  for (i = 0; i < MAXREP; i++)
    mlfq_balance_set_up(&b, (size_t)i, 1);
  for (id = 1; id <= n; id++) {
    i = mlfq_balance_pick(&b);
    mlfq_balance_dispatch(&b, (size_t)i, &l[id], in, out);
    if (s->replica[id] != i + 1)
      MLFQ_TEST_FAIL("%s: request %llu ran on replica %d, the policy picks %d",
                     mlfq_balance_name(p), (unsigned long long)id,
                     s->replica[id], i + 1);
  }
  mlfq_balance_free(&b);
  free(l);
}

/* Runs one burst of n requests through a router of policy p over three
 * replicas; returns the count per replica in count. */
static void policy_run(const char *p, uint64_t n, uint32_t in, uint32_t out,
                       tc_seen_t *s, int count[MAXREP + 1]) {
  const char *rargs[] = {SLOW_PREFILL, NULL};
  const char *args[] = {"--policy", p, "--seed", "7", NULL};
  tc_client_t *c;
  rig_t g;

  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  spread(c, s, 1, n, in, out, count);
  tc_close(c);
  rig_stop(&g);
}

TEST(router, policy_round_robin) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};
  uint64_t id;

  ASSERT(s != NULL);
  policy_run("round-robin", 30, 10, 3, s, count);
  for (id = 1; id <= 30; id++)
    ASSERT_EQ(s->replica[id], (int)((id - 1) % 3) + 1);
  free(s);
}

/* 30 requests in one burst: loads count at dispatch, so 10 each. */
TEST(router, policy_least_requests) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};

  ASSERT(s != NULL);
  policy_run("least-requests", 30, 10, 3, s, count);
  ASSERT_EQ(count[1], 10);
  ASSERT_EQ(count[2], 10);
  ASSERT_EQ(count[3], 10);
  assert_replayed(s, MLFQ_BALANCE_LEAST_REQUESTS, 7, 30, 10, 3);
  free(s);
}

/* Token-aware: one long request (1,000 + 200 tokens) goes to replica 1,
 * and 20 short ones (20 + 20) all to the other two, which stay lighter in
 * tokens although they run more requests. */
TEST(router, policy_least_tokens) {
  const char *rargs[] = {SLOW_PREFILL, NULL};
  const char *args[] = {"--policy", "least-tokens", NULL};
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0};
  mlfq_buf_t b;
  tc_client_t *c;
  uint64_t id;
  rig_t g;

  ASSERT(s != NULL);
  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  mlfq_buf_init(&b, 1 << 20);
  tc_put_submit(&b, 1, 1000, 200);
  for (id = 2; id <= 21; id++)
    tc_put_submit(&b, id, 20, 20);
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b.data, b.len));
  mlfq_buf_free(&b);
  wait_ended(c, s, 1, 21);
  assert_all_done(c, s, 2, 21, 20, 3);
  ASSERT_EQ(c->tokens[1], 200);
  ASSERT_EQ(s->replica[1], 1);
  for (id = 2; id <= 21; id++)
    count[s->replica[id]]++;
  ASSERT_EQ(count[1], 0);
  ASSERT_EQ(count[2], 10);
  ASSERT_EQ(count[3], 10);
  tc_close(c);
  rig_stop(&g);
  free(s);
}

/* A seeded policy over a burst of 60: the router's picks are exactly the
 * balancer's own for the seed, and each replica gets at least min_each. */
static void seeded_policy(const char *name, mlfq_balance_policy_t p,
                          int min_each) {
  tc_seen_t *s = calloc(1, sizeof(*s));
  int count[MAXREP + 1] = {0}, i;

  ASSERT(s != NULL);
  policy_run(name, 60, 10, 3, s, count);
  assert_replayed(s, p, 7, 60, 10, 3);
  for (i = 1; i <= MAXREP; i++)
    ASSERT_GE(count[i], min_each);
  free(s);
}

TEST(router, policy_random) { seeded_policy("random", MLFQ_BALANCE_RANDOM, 6); }

/* Loads count at dispatch: the burst spreads evenly (the heaviest replica
 * is never picked). */
TEST(router, policy_power_of_two) {
  seeded_policy("power-of-two", MLFQ_BALANCE_POWER_OF_TWO, 15);
}

/* Runs loadgen with argv (NULL-terminated); it must exit 0. Returns its
 * stdout (malloc'ed). */
static char *loadgen(char *const *argv) {
  char *out, *err;
  int status = mlfq_test_run(argv, &out, &err, 60);

  if (status != 0)
    MLFQ_TEST_FAIL("loadgen exit %d: %s%s", status, out, err);
  free(err);
  return out;
}

/* The rows of loadgen's per-job CSV at path whose status is ok. */
static int count_ok(const char *path) {
  char *text = mlfq_test_slurp(path), *line, *next, *f, *comma;
  int col = -1, i, n = 0;

  for (line = text; *line != '\0'; line = next) {
    next = strchr(line, '\n');
    ASSERT(next != NULL);
    *next++ = '\0';
    for (i = 0, f = line; f != NULL; i++, f = comma ? comma + 1 : NULL) {
      comma = strchr(f, ',');
      if (comma != NULL)
        *comma = '\0';
      if (line == text && strcmp(f, "status") == 0)
        col = i;
      else if (line != text && i == col)
        n += strcmp(f, "ok") == 0;
    }
    ASSERT_GE(col, 0);
  }
  free(text);
  return n;
}

/* loadgen runs through the router unchanged, alone and in compare mode
 * beside a replica: every request completes. */
TEST(router, loadgen) {
  const char *rargs[] = {FAST, "--max-batch", "8", NULL};
  const char *args[] = {NULL};
  char jobs[64], router[160], direct[160], *out;
  char *alone[] = {MLFQ_BIN_DIR "/loadgen",
                   "--server",
                   router,
                   "--connections",
                   "2",
                   "--num-requests",
                   "90",
                   "--rate",
                   "300",
                   "--input-len",
                   "uniform:1:64",
                   "--output-len",
                   "uniform:1:30",
                   "--jobs-csv",
                   jobs,
                   NULL};
  char *compare[] = {MLFQ_BIN_DIR "/loadgen",
                     "--server",
                     direct,
                     "--server",
                     router,
                     "--num-requests",
                     "30",
                     "--rate",
                     "300",
                     "--output-len",
                     "fixed:5",
                     "--quiet",
                     NULL};
  rig_t g;

  rig_start(&g, 3, rargs, args);
  snprintf(jobs, sizeof(jobs), "/tmp/mlfq-router-jobs-XXXXXX");
  ASSERT_GE(mkstemp(jobs), 0);
  snprintf(router, sizeof(router), "router=%s", g.router.addr);
  snprintf(direct, sizeof(direct), "direct=%s", g.rep[0].addr);
  out = loadgen(alone);
  ASSERT_CONTAINS(out, "requests");
  free(out);
  ASSERT_EQ(count_ok(jobs), 90);
  unlink(jobs);

  out = loadgen(compare);
  ASSERT_CONTAINS(out, "direct");
  ASSERT_CONTAINS(out, "router");
  free(out);
  rig_stop(&g);
}

/* mlfqctl ping and stats against a router of three replicas: the ping
 * line names it, stats sums the replicas and shows each (text and JSON). */
TEST(router, mlfqctl) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  char *argv[8], *out, *err;
  const cJSON *a, *r, *st;
  tc_client_t *c;
  uint64_t id;
  cJSON *doc;
  rig_t g;
  int i;

  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 6; id++)
    tc_run(c, id, 4, 5);
  tc_close(c);
  argv[0] = MLFQ_BIN_DIR "/mlfqctl";
  argv[1] = "--server";
  argv[2] = g.router.addr;
  argv[3] = "ping";
  argv[4] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  ASSERT_CONTAINS(out, " mlfq-router ");
  ASSERT_CONTAINS(out, " policy mlfq replicas 3: ok in ");
  free(out);
  free(err);
  argv[4] = "--json";
  argv[5] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  ASSERT_EQ(cJSON_GetObjectItem(doc, "replicas")->valuedouble, 3);
  ASSERT_STR_EQ(cJSON_GetObjectItem(doc, "server_id")->valuestring,
                "mlfq-router");
  cJSON_Delete(doc);
  free(out);
  free(err);
  argv[4] = NULL;

  argv[3] = "stats";
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  ASSERT_CONTAINS(out, "mlfq-router");
  ASSERT_CONTAINS(out, "\n  submitted               6\n");
  ASSERT_CONTAINS(out, "\n  tokens                  30\n");
  ASSERT_CONTAINS(out, "\nReplicas\n");
  for (i = 0; i < 3; i++) {
    char row[200];
    snprintf(row, sizeof(row), "\n  %-3d %-24s yes ", i + 1, g.rep[i].addr);
    ASSERT_CONTAINS(out, row);
  }
  free(out);
  free(err);

  argv[4] = "--json";
  argv[5] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  st = cJSON_GetObjectItem(doc, "stats");
  ASSERT_EQ(cJSON_GetObjectItem(st, "completed")->valuedouble, 6);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(st, "worker_busy")), 3);
  a = cJSON_GetObjectItem(doc, "replicas");
  ASSERT(cJSON_IsArray(a));
  ASSERT_EQ(cJSON_GetArraySize(a), 3);
  for (i = 0; i < 3; i++) {
    r = cJSON_GetArrayItem(a, i);
    ASSERT_STR_EQ(cJSON_GetObjectItem(r, "address")->valuestring,
                  g.rep[i].addr);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(r, "up")));
    ASSERT_EQ(cJSON_GetObjectItem(r, "routed")->valuedouble, 2);
    ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "stats"), "completed")
                  ->valuedouble,
              2);
  }
  cJSON_Delete(doc);
  free(out);
  free(err);
  rig_stop(&g);
}

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
  wait_ended(c, s, 1, 45);
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
  wait_ended(c, s, 101, 110);
  assert_all_done(c, s, 101, 110, 5, 3);
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
  wait_ended(c, s, 1, 39);
  for (id = 1; id <= 30; id++) {
    ASSERT_EQ(s->ends[id], 1);
    if ((id - 1) % 3 == 1)
      ASSERT_EQ(s->code[id], MLFQ__ERROR_CODE__REPLICA_LOST);
    else
      ASSERT_EQ(c->tokens[id], 100);
  }
  assert_all_done(c, s, 31, 39, 5, 3);
  for (id = 31; id <= 39; id++)
    ASSERT_NE(s->replica[id], 2);

  mlfq_test_daemon_start(&g.rep[1], again);
  g.running[1] = 1;
  ASSERT_STR_EQ(g.rep[1].addr, addr);
  tc_wait_replica(ctl, 1, 1, TC_WAIT_MS);
  tc_submit_burst(c, 40, 48, 4, 5);
  wait_ended(c, s, 40, 48);
  assert_all_done(c, s, 40, 48, 5, 3);
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
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  ASSERT(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  port = ntohs(sa.sin_port);
  close(fd);
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

/* The first SIGTERM lets the requests in flight finish while new
 * connections are refused and new Submits get SHUTTING_DOWN; then the
 * router closes the connection and exits 0. The replicas keep running. A
 * fifth request, behind the others (fcfs) and far longer, keeps the drain
 * open until the test has seen all that, however slowly it runs; then it
 * is cancelled. */
TEST(router, sigterm_drains) {
  const char *rargs[] = {"--decode-ms", "20",       "--prefill-ms-per-token",
                         "0.01",        "--policy", "fcfs",
                         NULL};
  const char *args[] = {NULL};
  mlfq_peer_t late;
  tc_client_t *c;
  char err[256];
  uint64_t id;
  rig_t g;
  int i;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 4; id++)
    tc_submit(c, id, 4, 25);  /* 500 ms each */
  tc_submit(c, 5, 4, 100000); /* 2,000 s */
  wait_accepted(c, 1, 5);
  ASSERT_EQ(kill(g.router.pid, SIGTERM), 0);
  tc_wait_draining(c);
  ASSERT_EQ(mlfq_peer_connect(&late, g.router.host, g.router.port, TC_WAIT_MS,
                              err, sizeof(err)),
            -ECONNREFUSED);
  tc_submit(c, 10, 4, 3);
  tc_expect_error(c, 10, MLFQ__ERROR_CODE__SHUTTING_DOWN);
  for (id = 1; id <= 4; id++) {
    if (c->done[id] == 0)
      tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
    ASSERT_EQ(c->tokens[id], 25);
  }
  tc_cancel(c, 5);
  tc_expect_error(c, 5, MLFQ__ERROR_CODE__CANCELLED);
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.router, 0, 5), 0);
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[i], SIGTERM, 10), 0);
}

/* Requests still in flight at --drain-timeout get SHUTTING_DOWN, the
 * router exits 0 soon after, and the replicas cancel them. */
TEST(router, drain_timeout) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--drain-timeout", "0.2", NULL};
  Mlfq__ServerMessage *m;
  int64_t signalled, deadline;
  tc_client_t *c;
  uint64_t id, cancelled;
  rig_t g;
  int i;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 4; id++)
    tc_submit(c, id, 4, 100000);
  wait_accepted(c, 1, 4);
  signalled = tc_now_ms();
  ASSERT_EQ(kill(g.router.pid, SIGTERM), 0);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (id = 1; id <= 4; id++)
    while (c->err[id] == 0)
      mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)),
                                          NULL);
  ASSERT_GE(tc_now_ms() - signalled, 150);
  for (id = 1; id <= 4; id++) {
    ASSERT_EQ(c->err[id], MLFQ__ERROR_CODE__SHUTTING_DOWN);
    ASSERT_EQ(c->done[id], 0);
  }
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.router, 0, 3), 0);
  ASSERT_LT(tc_now_ms() - signalled, 3000);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    cancelled = 0;
    for (i = 0; i < 2; i++) {
      c = tc_open(&g.rep[i], 1);
      m = tc_stats(c);
      cancelled += m->stats->cancelled;
      mlfq__server_message__free_unpacked(m, NULL);
      tc_close(c);
    }
    if (cancelled == 4)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[i], SIGTERM, 10), 0);
}

/* --daemon returns once the detached router listens: the port file holds
 * its address, the pidfile its pid; SIGTERM stops it with exit 0 and
 * removes the pidfile; the log file has its life. */
TEST(router, daemon_mode) {
  const char *rargs[] = {FAST, NULL};
  char dir[64], pidfile[128], portfile[128], logfile[128], *out, *err, *text;
  char *argv[16], host[64];
  mlfq_test_daemon_t d;
  int64_t deadline;
  tc_client_t *c;
  int port, status, n = 0;
  long pid;

  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
  mlfq_test_daemon_start(&d, rargs);
  snprintf(dir, sizeof(dir), "/tmp/mlfq-router-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  argv[n++] = ROUTER;
  argv[n++] = "--daemon";
  argv[n++] = "--listen";
  argv[n++] = "127.0.0.1:0";
  argv[n++] = "--replica";
  argv[n++] = d.addr;
  argv[n++] = "--pidfile";
  argv[n++] = pidfile;
  argv[n++] = "--port-file";
  argv[n++] = portfile;
  argv[n++] = "--log-file";
  argv[n++] = logfile;
  argv[n] = NULL;
  status = mlfq_test_run(argv, &out, &err, 10);
  /* The detached router is this test's to stop even if the rest fails. */
  text = access(pidfile, F_OK) == 0 ? mlfq_test_slurp(pidfile) : NULL;
  pid = text != NULL ? strtol(text, NULL, 10) : 0;
  free(text);
  if (pid > 0)
    mlfq_test_track((int)pid);
  if (status != 0)
    MLFQ_TEST_FAIL("mlfq-router --daemon: exit %d: %s", status, err);
  ASSERT_GT(pid, 0);
  text = mlfq_test_slurp(portfile);
  ASSERT_STR_EQ(text, out);
  free(text);
  *strchr(out, '\n') = '\0';
  ASSERT_OK(mlfq_peer_parse_addr(out, host, sizeof(host), &port));
  c = tc_open_at(host, port, 1);
  tc_run(c, 1, 4, 3);
  tc_close(c);
  ASSERT_EQ(kill((pid_t)pid, SIGTERM), 0);
  deadline = tc_now_ms() + TC_WAIT_MS;
  while (waitpid((pid_t)pid, &status, WNOHANG) != (pid_t)pid) {
    ASSERT_LT(tc_now_ms(), deadline);
    poll(NULL, 0, 10); /* waiting for a process has no event to wait on */
  }
  mlfq_test_untrack((int)pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(access(pidfile, F_OK), -1);
  text = mlfq_test_slurp(logfile);
  ASSERT_CONTAINS(text, "listening on");
  ASSERT_CONTAINS(text, "replica 1");
  ASSERT_CONTAINS(text, "stopped");
  free(text);
  free(out);
  free(err);
  unlink(portfile);
  unlink(logfile);
  rmdir(dir);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

/* mlfq-router with args exits 2 with one line on stderr naming why. */
static void bad_option(const char *const *args, const char *why) {
  char *argv[16], *out, *err;
  int n = 0, status;

  argv[n++] = ROUTER;
  while (*args != NULL && n < 15)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  status = mlfq_test_run(argv, &out, &err, 5);
  if (status != 2)
    MLFQ_TEST_FAIL("exit %d, expected 2 (stderr: %s)", status, err);
  ASSERT_STR_EQ(out, "");
  ASSERT(strncmp(err, "mlfq-router: ", 13) == 0);
  ASSERT_CONTAINS(err, why);
  if (strchr(err, '\n') != err + strlen(err) - 1)
    MLFQ_TEST_FAIL("stderr is not one line: \"%s\"", err);
  free(out);
  free(err);
}

TEST(router, bad_options) {
  static const char *const none[] = {"--listen", "127.0.0.1:0", NULL};
  static const char *const addr[] = {"--replica", "nonsense", NULL};
  static const char *const port0[] = {"--replica", "127.0.0.1:0", NULL};
  static const char *const policy[] = {"--replica", "127.0.0.1:1", "--policy",
                                       "fastest", NULL};
  static const char *const listen[] = {"--replica", "127.0.0.1:1", "--listen",
                                       "nowhere:1", NULL};
  static const char *const unknown[] = {"--replicas", "127.0.0.1:1", NULL};
  static const char *const probe0[] = {"--replica", "127.0.0.1:1",
                                       "--probe-timeout", "0", NULL};
  char *argv[3], *out, *err;

  bad_option(none, "--replica");
  bad_option(addr, "--replica: 'nonsense'");
  bad_option(port0, "--replica");
  bad_option(policy, "--policy: unknown 'fastest'");
  bad_option(listen, "--listen");
  bad_option(unknown, "--replicas");
  bad_option(probe0, "--probe-timeout: 0 is not in [1, 600000]");

  argv[0] = ROUTER;
  argv[1] = "--help";
  argv[2] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 0);
  ASSERT_CONTAINS(out, "Usage: mlfq-router");
  ASSERT_CONTAINS(out, "--replica HOST:PORT");
  ASSERT_CONTAINS(out, "power-of-two");
  ASSERT_CONTAINS(out, "--max-queued-bytes");
  ASSERT_CONTAINS(out, "--probe-timeout MS");
  free(out);
  free(err);
  argv[1] = "--version";
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 0);
  ASSERT_CONTAINS(out, "mlfq-router ");
  ASSERT_CONTAINS(out, "(protocol 1)");
  free(out);
  free(err);
}

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
