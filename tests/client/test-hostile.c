/* A bad peer for loadgen and mlfqctl: answers not in mlfqd's protocol. */
/* A fake server (fake.h) sends what mlfqd never would; loadgen and
 * mlfqctl must fail at once and say why, or tolerate what a newer server
 * may send (docs/RELIABILITY.md, "Hostile tests"). Each test failed on the
 * code before its fix. */
#include <signal.h>
#include <unistd.h>

#include "wire/wire.h"

#include "client.h"
#include "fake.h"

#define HOSTILE_LG MLFQ_BIN_DIR "/loadgen"
#define HOSTILE_CTL MLFQ_BIN_DIR "/mlfqctl"

/* Runs loadgen (3 requests at once, --timeout 2) against f. Returns its
 * status; *err is its stderr (free it). */
static int fake_loadgen(tc_fake_t *f, char **err) {
  char addr[64], *out;
  char *argv[] = {HOSTILE_LG, "--server",  addr, "--num-requests",
                  "3",        "--timeout", "2",  "--quiet",
                  NULL};
  int rc;

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  rc = mlfq_test_run(argv, &out, err, 60);
  free(out);
  return rc;
}

/* Runs mlfqctl ping (--timeout 20000) against f; as fake_loadgen. */
static int fake_ctl(tc_fake_t *f, char **err) {
  char addr[64], *out;
  char *argv[] = {HOSTILE_CTL, "--server", addr, "--timeout",
                  "20000",     "ping",     NULL};
  int rc;

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  rc = mlfq_test_run(argv, &out, err, 60);
  free(out);
  return rc;
}

/* The fake, given its first reply by add(f, arg), is not mlfqd: loadgen
 * exits 2 and mlfqctl 1 at once, saying so and showing want. */
static void expect_not_protocol(void (*add)(tc_fake_t *f, const void *arg),
                                const void *arg, const char *want) {
  tc_fake_t f;
  char *err;

  memset(&f, 0, sizeof(f));
  add(&f, arg);
  tc_fake_start(&f);
  ASSERT_EQ(fake_loadgen(&f, &err), 2);
  ASSERT_CONTAINS(err, "is not mlfqd protocol: ");
  ASSERT_CONTAINS(err, want);
  free(err);
  tc_fake_stop(&f);

  add(&f, arg);
  tc_fake_start(&f);
  ASSERT_EQ(fake_ctl(&f, &err), 1);
  ASSERT_CONTAINS(err, "not mlfqd protocol: ");
  ASSERT_CONTAINS(err, want);
  free(err);
  tc_fake_stop(&f);
}

static void add_welcome(tc_fake_t *f, const void *ts) {
  tc_fake_add_welcome(f, *(const double *)ts);
}

/* A Welcome whose time_scale is ts, naming the field and the value
 * (want). */
static void bad_time_scale(double ts, const char *want) {
  expect_not_protocol(add_welcome, &ts, want);
}

TEST(hostile, welcome_with_a_nonsensical_time_scale_is_refused) {
  /* inf and 1e300 hung loadgen (its send times, converted to integers
   * out of range, fell centuries away; --timeout does not cover unsent
   * requests); NaN and -1 ran at time_scale 1 or nonsense; mlfqctl
   * printed them as a healthy server's. */
  bad_time_scale(INFINITY, "config.time_scale inf is not in [1e-06, 1e+06]");
  bad_time_scale(1e300, "config.time_scale 1e+300 is not in");
  bad_time_scale(NAN, "config.time_scale nan is not in");
  bad_time_scale(-1, "config.time_scale -1 is not in");
}

typedef struct {
  const void *bytes;
  size_t n;
} raw_t;

static void add_raw(tc_fake_t *f, const void *r) {
  tc_fake_add_raw(f, ((const raw_t *)r)->bytes, ((const raw_t *)r)->n);
}

/* Raw bytes as the answer to Hello, shown (want). */
static void bad_answer(const void *bytes, size_t n, const char *want) {
  raw_t r = {bytes, n};

  expect_not_protocol(add_raw, &r, want);
}

TEST(hostile, http_answer_is_not_mlfqd_protocol) {
  /* loadgen dropped the connection and said "did not answer within 5 s"
   * five seconds later. */
  static const char http[] = "HTTP/1.1 400 Bad Request\r\n"
                             "Content-Length: 0\r\n\r\n";

  bad_answer(http, sizeof(http) - 1, "\"HTTP/1.1 400 Bad Request\\r\\n");
}

TEST(hostile, garbage_answer_is_not_mlfqd_protocol) {
  /* A frame of 8 bytes that are no ServerMessage (a field 0 tag). */
  static const uint8_t junk[] = {0,    0,    0,    8,    0,    0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

  bad_answer(junk, sizeof(junk), "\"\\x00\\x00\\x00\\x08\\x00\\xff");
}

TEST(hostile, token_out_of_order_ends_the_run) {
  /* Token 5 of a request that has had none: loadgen counted it as a
   * first token and waited for the rest until --timeout. */
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Token t = MLFQ__TOKEN__INIT;
  tc_fake_t f;
  char *err;

  memset(&f, 0, sizeof(f));
  tc_fake_add_welcome(&f, 1);
  t.id = 1;
  t.index = 5;
  t.t_ns = 1000;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
  m.token = &t;
  tc_fake_add_msg(&f, &m);
  tc_fake_start(&f);
  ASSERT_EQ(fake_loadgen(&f, &err), 1);
  ASSERT_CONTAINS(err, "is not mlfqd protocol: Token 5 of request 1 after 0 "
                       "of its");
  free(err);
  tc_fake_stop(&f);
}

TEST(hostile, silent_server_after_welcome_is_bounded_by_timeout) {
  /* Welcome, then nothing: every request fails with TIMEOUT after
   * --timeout, and loadgen exits 1. */
  tc_fake_t f;
  char *err;

  memset(&f, 0, sizeof(f));
  tc_fake_add_welcome(&f, 1);
  tc_fake_start(&f);
  ASSERT_EQ(fake_loadgen(&f, &err), 1);
  ASSERT_STR_EQ(err, "");
  free(err);
  tc_fake_stop(&f);
}

/* Runs argv (NULL-terminated) and returns its exit status, its stdout in
 * *out and its stderr in *err (free both). */
static int bp_run(char **argv, char **out, char **err) {
  return mlfq_test_run(argv, out, err, 60);
}

/* mlfqctl ping against d: exit 0. */
static void bp_ping(const mlfq_test_daemon_t *d) {
  char addr[160], *out, *err;
  char *argv[] = {HOSTILE_CTL, "--server", addr, "ping", NULL};

  snprintf(addr, sizeof(addr), "%s", d->addr);
  ASSERT_EQ(bp_run(argv, &out, &err), 0);
  free(out);
  free(err);
}

/* Polls the router's Stats on c until all n of its replicas are up. */
static void bp_replicas_up(tc_client_t *c, size_t n) {
  int64_t deadline = tc_now_ms() + 2 * TC_WAIT_MS;
  Mlfq__ServerMessage *m;
  size_t i, up;

  for (;;) {
    m = tc_stats(c);
    ASSERT_EQ(m->stats->n_replicas, n);
    for (i = 0, up = 0; i < n; i++)
      up += m->stats->replicas[i]->up;
    mlfq__server_message__free_unpacked(m, NULL);
    if (up == n)
      return;
    ASSERT_LT(tc_now_ms(), deadline);
  }
}

/* mlfqd with --profile profil-été.csv (the file's base name goes out in
 * Config.cost.source): mlfqctl, loadgen and the router refused it as "not
 * mlfqd protocol", the name not being printable ASCII. */
TEST(hostile, profile_name_in_utf8_is_accepted) {
  const char *name = "profil-\xc3\xa9t\xc3\xa9.csv";
  const char *dargs[] = {"--profile", NULL, "--time-scale", "0.01", NULL};
  const char *rargs[] = {"--replica", NULL, NULL};
  char dir[64], path[128], addr[160], *out, *err;
  char *lg[] = {HOSTILE_LG, "--server",    addr,       "--num-requests",
                "5",        "--input-len", "fixed:16", "--output-len",
                "fixed:2",  "--timeout",   "20",       NULL};
  mlfq_test_daemon_t d, rt;
  tc_client_t *c;
  FILE *f;

  snprintf(dir, sizeof(dir), "/tmp/mlfq-bp-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("input_length,prefill_ms,decode_ms\n1,5.0,5.1\n64,8.0,5.2\n", f);
  ASSERT_EQ(fclose(f), 0);
  dargs[1] = path;
  mlfq_test_daemon_start(&d, dargs);
  bp_ping(&d);
  rargs[1] = d.addr;
  mlfq_test_server_start(&rt, MLFQ_BIN_DIR "/mlfq-router", rargs);
  c = tc_open(&rt, 1);
  bp_replicas_up(c, 1);
  tc_close(c);
  bp_ping(&rt);
  snprintf(addr, sizeof(addr), "%s", rt.addr);
  ASSERT_EQ(bp_run(lg, &out, &err), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT_CONTAINS(out, "5 requests");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  ASSERT_EQ(unlink(path), 0);
  ASSERT_EQ(rmdir(dir), 0);
}

/* A Welcome like tc_fake_add_welcome's (time_scale 1) whose preempt, on_full
 * and cost.kind are names a newer server might send, followed by a
 * message of a kind this build does not know (ServerMessage field 15). */
static void bp_newer_welcome(tc_fake_t *f) {
  static const uint8_t unknown[] = {0, 0, 0, 2, 15 << 3, 1};
  Mlfq__Welcome *w;
  Mlfq__ServerMessage *m;
  mlfq_buf_t *b;
  uint8_t *d;

  tc_fake_add_welcome(f, 1);
  b = &f->reply[f->nreply - 1];
  m = mlfq__server_message__unpack(NULL, b->len - 4, b->data + 4);
  ASSERT(m != NULL && m->msg_case == MLFQ__SERVER_MESSAGE__MSG_WELCOME);
  w = m->welcome;
  free(w->config->preempt);
  free(w->config->on_full);
  free(w->config->cost->kind);
  w->config->preempt = strdup("sometimes");
  w->config->on_full = strdup("evict-lru");
  w->config->cost->kind = strdup("neural");
  mlfq_buf_consume(b, b->len);
  ASSERT_OK(mlfq_wire_put_server(b, m));
  mlfq__server_message__free_unpacked(m, NULL);
  d = mlfq_buf_reserve(b, sizeof(unknown), NULL);
  ASSERT(d != NULL);
  memcpy(d, unknown, sizeof(unknown));
  mlfq_buf_commit(b, sizeof(unknown));
}

/* Appends to the fake's last reply an Accepted, a Token and a Done of
 * request id (one token, at 1 and 2 us). */
static void bp_complete(tc_fake_t *f, uint64_t id) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Accepted a = MLFQ__ACCEPTED__INIT;
  Mlfq__Token t = MLFQ__TOKEN__INIT;
  Mlfq__Done d = MLFQ__DONE__INIT;

  a.id = t.id = d.id = id;
  a.arrival_ns = d.arrival_ns = 1000;
  t.index = 1;
  t.t_ns = d.first_token_ns = d.finish_ns = 2000;
  d.iterations = 1;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ACCEPTED;
  m.accepted = &a;
  tc_fake_append(f, &m);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
  m.token = &t;
  tc_fake_append(f, &m);
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
  m.done = &d;
  tc_fake_append(f, &m);
}

/* Runs loadgen (3 requests of 4 and 1 tokens at once, --timeout 20)
 * against f. Returns its status; *out and *err are its output (free
 * them). */
static int bp_loadgen(tc_fake_t *f, char **out, char **err) {
  char addr[64];
  char *argv[] = {HOSTILE_LG, "--server",    addr,      "--num-requests",
                  "3",        "--input-len", "fixed:4", "--output-len",
                  "fixed:1",  "--timeout",   "20",      NULL};

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  return bp_run(argv, out, err);
}

/* A newer server (docs/PROTOCOL.md, "Versions": an older client keeps
 * working with it): kinds of preempt, on_full and cost, a message kind and
 * an error code this build does not know. loadgen refused the Welcome
 * (exit 2), or ended the run at the message or the Error as "not mlfqd
 * protocol"; now the request with the unknown code fails, showing the
 * code, the others complete, and the model replay says it cannot replay
 * that configuration. */
TEST(hostile, newer_server_kinds_and_codes_are_tolerated) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Error e = MLFQ__ERROR__INIT;
  char *out, *err;
  tc_fake_t f;

  memset(&f, 0, sizeof(f));
  bp_newer_welcome(&f);
  e.id = 1;
  e.code = 99;
  e.message = "a reason this loadgen has no name for";
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ERROR;
  m.error = &e;
  tc_fake_add_msg(&f, &m);
  bp_complete(&f, 2);
  bp_complete(&f, 3);
  tc_fake_start(&f);
  ASSERT_EQ(bp_loadgen(&f, &out, &err), 1);
  ASSERT_STR_EQ(err, "");
  ASSERT_CONTAINS(out, "1 failed: ERROR_CODE_99 1\n");
  free(out);
  free(err);
  tc_fake_stop(&f);

  bp_newer_welcome(&f);
  tc_fake_step(&f);
  bp_complete(&f, 1);
  bp_complete(&f, 2);
  bp_complete(&f, 3);
  tc_fake_start(&f);
  ASSERT_EQ(bp_loadgen(&f, &out, &err), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT_CONTAINS(out, "model error: not computed: this loadgen cannot replay "
                       "the server's configuration: config.preempt "
                       "'sometimes' is not one this build knows");
  free(out);
  free(err);
  tc_fake_stop(&f);

  bp_newer_welcome(&f);
  tc_fake_start(&f);
  ASSERT_EQ(fake_ctl(&f, &err), 0);
  free(err);
  tc_fake_stop(&f);
}

/* Replicas may differ (ROUTER.md), and a router's Welcome carries the
 * configuration of one: loadgen checked Accepted.level against it, so
 * through a router over replicas of 2 and 8 queues a 2,000-token prompt
 * placed at level 7 by the second ended the run ("Accepted.level 7 ... is
 * not below the 2 queues", every request PROTOCOL_ERROR). */
TEST(hostile, replicas_with_different_queues_through_router) {
  const char *two[] = {"--queues", "2", "--time-scale", "0.01", NULL};
  const char *eight[] = {"--queues", "8", "--time-scale", "0.01", NULL};
  const char *rargs[] = {"--replica", NULL,          "--replica", NULL,
                         "--policy",  "round-robin", NULL};
  char addr[160], *out, *err;
  char *lg[] = {HOSTILE_LG, "--server",    addr,         "--num-requests",
                "20",       "--input-len", "fixed:2000", "--output-len",
                "fixed:2",  "--timeout",   "30",         NULL};
  mlfq_test_daemon_t r2, r8, rt;
  tc_client_t *c;

  mlfq_test_daemon_start(&r2, two);
  mlfq_test_daemon_start(&r8, eight);
  rargs[1] = r2.addr;
  rargs[3] = r8.addr;
  mlfq_test_server_start(&rt, MLFQ_BIN_DIR "/mlfq-router", rargs);
  c = tc_open(&rt, 1);
  bp_replicas_up(c, 2); /* the Welcome is then replica 1's: 2 queues */
  tc_close(c);
  snprintf(addr, sizeof(addr), "%s", rt.addr);
  ASSERT_EQ(bp_run(lg, &out, &err), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT_CONTAINS(out, "20 requests");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&r2, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&r8, SIGTERM, 10), 0);
}
