/* The tests' protocol client (client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire/wire.h"

#include "client.h"

uint64_t tc_msg_id(const Mlfq__ServerMessage *m) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    return mlfq_wire_msg_id(m);
  default:
    return TC_ANY_ID;
  }
}

/* Whether an Error with code ends its request. */
static int final_error(int code) {
  return code == MLFQ__ERROR_CODE__INVALID_REQUEST ||
         code == MLFQ__ERROR_CODE__OVERLOADED ||
         code == MLFQ__ERROR_CODE__CANCELLED ||
         code == MLFQ__ERROR_CODE__SHUTTING_DOWN ||
         code == MLFQ__ERROR_CODE__INTERNAL;
}

void tc_record(tc_client_t *c, const Mlfq__ServerMessage *m) {
  uint64_t id = tc_msg_id(m);

  if (id >= TC_MAXID)
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

tc_client_t *tc_open_at(const char *host, int port, int hello) {
  tc_client_t *c = calloc(1, sizeof(*c));
  char err[256];

  ASSERT(c != NULL);
  if (mlfq_peer_connect(&c->p, host, port, TC_WAIT_MS, err, sizeof(err)) != 0)
    MLFQ_TEST_FAIL("connect to %s:%d: %s", host, port, err);
  if (hello)
    ASSERT_OK(mlfq_peer_hello(&c->p, "test-client", NULL, TC_WAIT_MS));
  return c;
}

tc_client_t *tc_open(const mlfq_test_daemon_t *d, int hello) {
  return tc_open_at(d->host, d->port, hello);
}

void tc_close(tc_client_t *c) {
  mlfq_peer_close(&c->p);
  free(c);
}

void tc_send(tc_client_t *c, const Mlfq__ClientMessage *m) {
  ASSERT_OK(mlfq_peer_send(&c->p, m));
}

/* Sends the frames b holds, and frees b. */
static void send_and_free(tc_client_t *c, mlfq_buf_t *b) {
  ASSERT_OK(mlfq_peer_send_raw(&c->p, b->data, b->len));
  mlfq_buf_free(b);
}

void tc_submit(tc_client_t *c, uint64_t id, uint32_t in, uint32_t out) {
  mlfq_buf_t b;

  if (id < TC_MAXID && (c->ended[id] || c->done[id])) {
    c->accepted[id] = c->tokens[id] = c->done[id] = c->late[id] = 0;
    c->err[id] = c->ended[id] = 0;
  }
  mlfq_buf_init(&b, 1 << 16);
  tc_put_submit(&b, id, in, out);
  send_and_free(c, &b);
}

void tc_cancel(tc_client_t *c, uint64_t id) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_cancel(&b, id);
  send_and_free(c, &b);
}

Mlfq__ServerMessage *tc_recv(tc_client_t *c, int timeout_ms) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, timeout_ms);

  if (rc != 0)
    MLFQ_TEST_FAIL("recv: %d (%s)", rc, mlfq_strerror(rc));
  tc_record(c, m);
  return m;
}

Mlfq__ServerMessage *tc_wait(tc_client_t *c, int msg_case, uint64_t id) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  Mlfq__ServerMessage *m;

  for (;;) {
    m = tc_recv(c, tc_left_ms(deadline));
    if ((int)m->msg_case == msg_case && (id == TC_ANY_ID || tc_msg_id(m) == id))
      return m;
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

void tc_wait_free(tc_client_t *c, int msg_case, uint64_t id) {
  mlfq__server_message__free_unpacked(tc_wait(c, msg_case, id), NULL);
}

Mlfq__ServerMessage *tc_stats(tc_client_t *c) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  tc_put_stats(&b);
  send_and_free(c, &b);
  return tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, TC_ANY_ID);
}

void tc_expect_error(tc_client_t *c, uint64_t id, int code) {
  Mlfq__ServerMessage *m = tc_wait(c, MLFQ__SERVER_MESSAGE__MSG_ERROR, id);

  if ((int)m->error->code != code)
    MLFQ_TEST_FAIL("error for %llu: %s (%s), expected %s",
                   (unsigned long long)id, mlfq_wire_error_name(m->error->code),
                   m->error->message, mlfq_wire_error_name(code));
  mlfq__server_message__free_unpacked(m, NULL);
}

void tc_expect_closed(tc_client_t *c) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, TC_WAIT_MS);

  if (rc == 0)
    MLFQ_TEST_FAIL("expected the connection closed, got message %d",
                   (int)m->msg_case);
  ASSERT_EQ(rc, -EPIPE);
}

void tc_run(tc_client_t *c, uint64_t id, uint32_t in, uint32_t out) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;

  ASSERT_LT(id, TC_MAXID);
  tc_submit(c, id, in, out);
  while (c->done[id] == 0 && c->ended[id] == 0)
    mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)), NULL);
  if (c->err[id] != 0)
    MLFQ_TEST_FAIL("request %llu got %s", (unsigned long long)id,
                   mlfq_wire_error_name(c->err[id]));
  ASSERT_EQ(c->accepted[id], 1);
  ASSERT_EQ(c->tokens[id], out);
  ASSERT_EQ(c->done[id], 1);
  ASSERT_EQ(c->ended[id], 0);
}

void tc_expect_fatal(const mlfq_test_daemon_t *d, const void *bytes, size_t len,
                     int hello, int code) {
  Mlfq__ServerMessage *m;
  tc_client_t *a, *b;

  b = tc_open(d, 1);
  a = tc_open(d, hello);
  ASSERT_OK(mlfq_peer_send_raw(&a->p, bytes, len));
  m = tc_recv(a, TC_WAIT_MS);
  ASSERT_EQ(m->msg_case, MLFQ__SERVER_MESSAGE__MSG_ERROR);
  if ((int)m->error->code != code)
    MLFQ_TEST_FAIL("got %s (%s), expected %s",
                   mlfq_wire_error_name(m->error->code), m->error->message,
                   mlfq_wire_error_name(code));
  ASSERT_EQ_U64(m->error->id, 0);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_expect_closed(a);
  tc_run(b, 1, 4, 3);
  tc_close(a);
  tc_close(b);
}

void tc_expect_hello_timeout(const mlfq_test_daemon_t *d, int timeout_ms) {
  int64_t t0 = tc_now_ms();

  tc_expect_fatal(d, "", 0, 0, MLFQ__ERROR_CODE__HELLO_FIRST);
  /* less a little: the server's loop clock may lag its reads */
  ASSERT_GE(tc_now_ms() - t0, timeout_ms - 50);
}

void tc_wait_draining(tc_client_t *c) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  Mlfq__ServerMessage *m;
  int draining;

  for (;;) {
    m = tc_stats(c);
    draining = m->stats->draining;
    mlfq__server_message__free_unpacked(m, NULL);
    if (draining)
      return;
    ASSERT_LT(tc_now_ms(), deadline);
  }
}

void tc_put_hello(mlfq_buf_t *b, uint32_t version) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;

  h.protocol_version = version;
  h.client_name = "tests";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

void tc_put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;

  s.id = id;
  s.input_length = in;
  s.output_length = out;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

void tc_put_cancel(mlfq_buf_t *b, uint64_t id) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;

  k.id = id;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

void tc_put_stats(mlfq_buf_t *b) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  ASSERT_OK(mlfq_wire_put_client(b, &m));
}

Mlfq__ServerMessage *tc_wait_idle(tc_client_t *c, uint64_t conns,
                                  int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  Mlfq__ServerMessage *m;

  for (;;) {
    m = tc_stats(c);
    if (m->stats->running == 0 && m->stats->waiting == 0 &&
        m->stats->connections == conns)
      return m;
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("still %llu running, %llu waiting, %llu connections "
                     "after %d ms",
                     (unsigned long long)m->stats->running,
                     (unsigned long long)m->stats->waiting,
                     (unsigned long long)m->stats->connections, timeout_ms);
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

void tc_wait_submitted(tc_client_t *c, uint64_t n) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  Mlfq__ServerMessage *m;
  uint64_t got;

  for (;;) {
    m = tc_stats(c);
    got = m->stats->submitted;
    mlfq__server_message__free_unpacked(m, NULL);
    if (got >= n)
      return;
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("%llu of %llu requests submitted after %d ms",
                     (unsigned long long)got, (unsigned long long)n,
                     TC_WAIT_MS);
  }
}

void tc_take(tc_client_t *c, tc_seen_t *s, int64_t deadline) {
  Mlfq__ServerMessage *m = tc_recv(c, tc_left_ms(deadline));
  uint64_t id = tc_msg_id(m);

  if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR)
    ASSERT_NE(id, 0); /* no connection error */
  if (id < TC_MAXID) {
    s->after[id] += s->ends[id] > 0;
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE) {
      s->replica[id] = (int)m->done->replica;
      s->ends[id]++;
    } else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR) {
      s->code[id] = m->error->code;
      s->ends[id]++;
      if (m->error->code == MLFQ__ERROR_CODE__REPLICA_LOST) {
        s->lost[id]++;
        s->last_lost = tc_now_ms();
        ASSERT_CONTAINS(m->error->message, s->lost_name);
      }
    }
  }
  mlfq__server_message__free_unpacked(m, NULL);
}

void tc_submit_cycle(tc_client_t *c, uint64_t first, uint64_t last, uint32_t in,
                     const uint32_t *out, size_t n) {
  mlfq_buf_t b;
  uint64_t id;

  ASSERT_GT(n, 0);
  mlfq_buf_init(&b, 1 << 20);
  for (id = first; id <= last; id++)
    tc_put_submit(&b, id, in, out[(id - first) % n]);
  send_and_free(c, &b);
}

void tc_submit_burst(tc_client_t *c, uint64_t first, uint64_t last, uint32_t in,
                     uint32_t out) {
  tc_submit_cycle(c, first, last, in, &out, 1);
}

void tc_wait_replica(tc_client_t *c, size_t i, int want, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  Mlfq__ServerMessage *m;
  int up;

  for (;;) {
    m = tc_stats(c);
    ASSERT_LT(i, m->stats->n_replicas);
    up = m->stats->replicas[i]->up;
    mlfq__server_message__free_unpacked(m, NULL);
    if (up == want)
      return;
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("replica %zu still %s after %d ms", i + 1,
                     up ? "up" : "down", timeout_ms);
  }
}

void tc_tmpdir(char *dir, size_t len, const char *name) {
  ASSERT_LT(snprintf(dir, len, "/tmp/%s-XXXXXX", name), (int64_t)len);
  if (mkdtemp(dir) == NULL)
    MLFQ_TEST_FAIL("mkdtemp %s: %s", dir, strerror(errno));
}

void tc_rmtree(const char *dir, const char *const *names) {
  char path[512];

  for (; *names != NULL; names++) {
    snprintf(path, sizeof(path), "%s/%s", dir, *names);
    unlink(path);
  }
  rmdir(dir);
}

void tc_hold(tc_held_t *h, const char *prog, const char *const *args,
             int errfd) {
  char *argv[32];
  char path[256];
  int go[2], out[2], n = 0;

  snprintf(path, sizeof(path), "%s/%s", MLFQ_BIN_DIR, prog);
  argv[n++] = path;
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  h->pid = mlfq_test_spawn(argv, go[0], out[1], errfd);
  close(go[0]);
  close(out[1]);
  h->go = go[1];
  h->out = out[0];
  mlfq_test_track(h->pid);
}

void tc_release(tc_held_t *h, mlfq_test_daemon_t *d) {
  int64_t deadline = tc_now_ms() + 10000;
  char line[128] = "";
  size_t len = 0;
  ssize_t r;

  memset(d, 0, sizeof(*d));
  d->pid = h->pid;
  ASSERT_EQ(write(h->go, "x", 1), 1);
  close(h->go);
  while (strchr(line, '\n') == NULL) {
    struct pollfd p = {h->out, POLLIN, 0};
    if (len + 1 >= sizeof(line) || poll(&p, 1, tc_left_ms(deadline)) <= 0)
      MLFQ_TEST_FAIL("pid %d printed no address within 10 s", (int)h->pid);
    r = read(h->out, line + len, sizeof(line) - 1 - len);
    if (r <= 0)
      MLFQ_TEST_FAIL("pid %d exited before listening", (int)h->pid);
    len += (size_t)r;
    line[len] = '\0';
  }
  close(h->out);
  *strchr(line, '\n') = '\0';
  snprintf(d->addr, sizeof(d->addr), "%s", line);
  if (sscanf(line, "%31[^:]:%d", d->host, &d->port) != 2)
    MLFQ_TEST_FAIL("pid %d printed '%s', not HOST:PORT", (int)h->pid, line);
}

void tc_profile(size_t n, char *path, size_t len) {
  FILE *f;
  size_t i;

  snprintf(path, len, "%s", mlfq_test_tmpfile(".csv", ""));
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fprintf(f, "input_length,prefill_ms,decode_ms\n");
  for (i = 1; i <= n; i++)
    fprintf(f, "%zu,%.3f,%.5f\n", i, 5 + (double)i * 0.09,
            5.1 + (double)i * 1e-5);
  ASSERT_EQ(fclose(f), 0);
}

char *tc_wait_log(const mlfq_test_daemon_t *d, const char *want) {
  int64_t deadline = tc_now_ms() + 2 * TC_WAIT_MS;
  char *log;

  for (;;) {
    log = mlfq_test_slurp(d->log);
    if (strstr(log, want) != NULL)
      return log;
    free(log);
    ASSERT_LT(tc_now_ms(), deadline);
    poll(NULL, 0, 20);
  }
}

uint64_t tc_slack_ns(const mlfq_test_daemon_t *d) {
  tc_client_t *c = tc_open(d, 1);
  Mlfq__ServerMessage *m;
  uint64_t rtt, slack;

  rtt = tc_now_ns();
  m = tc_stats(c);
  rtt = tc_now_ns() - rtt;
  slack = rtt + (uint64_t)(m->stats->lateness_max_us * 1e3);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  return slack;
}

tc_client_t *tc_slow_reader(const mlfq_test_daemon_t *d, const char *name,
                            tc_client_t **b) {
  long rss0 = mlfq_test_proc_kb(d->pid, "VmRSS");
  Mlfq__ServerMessage *m;
  tc_client_t *s;
  mlfq_buf_t buf;
  uint64_t id;

  *b = tc_open(d, 1);
  s = tc_open(d, 1);
  mlfq_buf_init(&buf, 1 << 20);
  for (id = 1; id <= 256; id++)
    tc_put_submit(&buf, id, 4, 1000000);
  ASSERT_OK(mlfq_peer_send_raw(&s->p, buf.data, buf.len));
  mlfq_buf_free(&buf);
  /* The requests arrive, then go when the server disconnects s. */
  tc_wait_submitted(*b, 256);
  m = tc_wait_idle(*b, 1, TC_WAIT_MS);
  ASSERT_EQ_U64(m->stats->cancelled, 256);
  mlfq__server_message__free_unpacked(m, NULL);
  /* The log's writer thread writes the line a moment later. */
  free(tc_wait_log(d, "slow reader"));
  /* Its 256 million tokens were never more than the output bound: the
   * server's peak memory grew by a few MB, not by gigabytes. */
  printf("slow reader: %s's peak RSS grew by %ld kB\n", name,
         mlfq_test_proc_kb(d->pid, "VmHWM") - rss0);
  if (!MLFQ_TEST_SANITIZED)
    ASSERT_LE(mlfq_test_proc_kb(d->pid, "VmHWM") - rss0, 16 * 1024);
  return s;
}

int tc_listen_any(int *port) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  ASSERT_GE(fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}
