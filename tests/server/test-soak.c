/* The soak: SOAK_CONNS (1,000) client connections at once against a real
 * mlfqd, and against mlfq-router over two replicas, for MLFQ_SOAK_SECONDS
 * (default 20; 10 in a sanitizer build), each connection one of four
 * behaviours drawn at random and replaced by a fresh one when it ends:
 *
 *   good     Hello, up to 4 requests in flight and 4 to 16 in all, every
 *            Token and Done read; one request in 8 is cancelled after its
 *            first token (it ends with CANCELLED, or with Done and then
 *            UNKNOWN_ID for the Cancel if the Done was already on its way)
 *   invalid  a garbage payload, an oversized frame, a Submit before Hello or
 *            a bad version (each: an Error with id 0, then the close); or,
 *            on a connection that stays, a duplicate id, a Cancel of an
 *            unknown id and an invalid request beside a good one
 *   vanish   long requests, then a close (or a reset) after a few tokens
 *   slow     long requests and 32,000 StatsRequests, never reading: the
 *            replies overflow the kernel's socket buffers (4 MB on
 *            loopback) and then --max-queued-bytes, and the server
 *            disconnects it (it sees a reset, or the end of the stream once
 *            it reads again after SLOW_STALL_MS)
 *
 * Every request accepted on a connection that stays ends exactly once: a
 * Done after all its tokens, or a final Error, and nothing follows its end.
 * Warm-up rounds of the same traffic settle the server first: they go on
 * until one adds at most 2% to the RSS the server holds once idle (the
 * allocator's caches and the heap's scatter converge over a few rounds).
 * After the soak, once every connection has closed and the server is idle,
 * its RSS is within 10% of the settled one and it holds as many file
 * descriptors. The
 * figures go to stdout as "soak: ..." lines (docs/RELIABILITY.md). A
 * sanitizer build checks everything but the RSS bound, which the
 * sanitizers' own allocators make meaningless.
 *
 * The test raises RLIMIT_NOFILE for itself and the servers it starts; it
 * fails if the hard limit is too low for the connections. Longer runs:
 * scripts/soak.sh. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/rng.h"
#include "wire/frame.h"
#include "wire/wire.h"

#include "client.h"

#define ROUTER MLFQ_BIN_DIR "/mlfq-router"

#define SANITIZED MLFQ_TEST_SANITIZED

#define SOAK_CONNS 1000
#define REQ_MAX 16         /* requests of a good connection, at most */
#define WINDOW_MAX 4       /* of a good connection in flight, at most */
#define VANISH_OUT 200     /* tokens asked by a vanishing connection */
#define SLOW_REQS 16       /* requests of a slow reader */
#define SLOW_OUT 1000000   /* tokens each */
#define SLOW_STATS 32000   /* and StatsRequests: 6 MB of replies */
#define SLOW_STALL_MS 5000 /* a slow reader reads again after this */
#define TICK_MS 10
#define MAX_FRAME 65536 /* the servers' --max-frame-bytes (the default) */
#define END_MS 60000    /* after the soak, every connection ends within it */
#define IDLE_MS 30000   /* then the server is idle within it */
#define SETTLE_ROUNDS 4 /* warm-up rounds, at most */

/* The servers' options: every job of every connection runs in each
 * iteration (fcfs, large batches) so slow readers and vanishing clients
 * have tokens coming; a small --max-queued-bytes disconnects a slow reader
 * quickly. */
#define REPLICA_ARGS                                                           \
  "--policy", "fcfs", "--max-batch", "4096", "--workers", "2", "--decode-ms",  \
      "20", "--prefill-ms-per-token", "0.001", "--max-connections", "4096"
#define EDGE_ARGS "--max-queued-bytes", "16384"

typedef enum { GOOD, INVALID, VANISH, SLOW, NKINDS } kind_t;
typedef enum {
  INV_GARBAGE,
  INV_OVERSIZED,
  INV_BEFORE_HELLO,
  INV_BAD_VERSION,
  INV_REQUESTS,
  NINV
} inv_t;

static const char *const kind_names[NKINDS] = {"good", "invalid", "vanish",
                                               "slow"};
static const char *const inv_names[NINV] = {
    "garbage", "oversized", "before_hello", "bad_version", "bad_requests"};

/* What a connection has seen of one of its requests (ids 1..REQ_MAX). */
typedef struct {
  uint32_t out;
  uint32_t accepted, tokens, done, errors;
  int cancel_sent, unknown_seen, ended;
} req_t;

typedef struct {
  int fd;
  uint64_t tag; /* epoll's data: slot | generation << 32 */
  int connected;
  kind_t kind;
  inv_t inv;
  mlfq_buf_t in, out;
  req_t req[REQ_MAX + 1];
  unsigned nreq, window, sent, ended;
  uint32_t vanish_after, seen_tokens;
  int64_t start_ms;
  int reading; /* slow: reading again */
  int welcome, fatal_code, dup_seen;
} conn_t;

/* Counts for the report. */
typedef struct {
  uint64_t sessions[NKINDS], invalid[NINV];
  uint64_t submitted, accepted, done, cancelled, unknown, tokens;
  uint64_t slow_reset, slow_eof, vanish_rst;
  unsigned peak;
} counts_t;

typedef struct {
  const char *host;
  int port;
  int ep;
  conn_t *slot[SOAK_CONNS];
  unsigned open;
  int64_t stop_ms; /* no new connection after it */
  mlfq_rng_t rng;
  uint32_t gen;
  tc_client_t *st; /* for Stats */
  counts_t n;
} soak_t;

static uint32_t pick(soak_t *s, uint32_t lo, uint32_t hi) {
  return lo + (uint32_t)mlfq_rng_below(&s->rng, hi - lo + 1);
}

/* The events c waits for: a slow reader that is not reading waits only
 * for the server's close (and room to write). */
static uint32_t events(const conn_t *c) {
  uint32_t ev = EPOLLRDHUP;

  if (c->kind != SLOW || c->reading)
    ev |= EPOLLIN;
  if (!c->connected || c->out.len > 0)
    ev |= EPOLLOUT;
  return ev;
}

static void want_out(soak_t *s, conn_t *c) {
  struct epoll_event ev;

  ev.events = events(c);
  ev.data.u64 = c->tag;
  ASSERT_EQ(epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev), 0);
}

/* Writes what c has to write; a full socket keeps the rest. Returns 0, or
 * -1 if the connection is gone. */
static int flush(soak_t *s, conn_t *c) {
  ssize_t n;

  while (c->out.len > 0) {
    n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (n < 0)
      return -1;
    mlfq_buf_consume(&c->out, (size_t)n);
  }
  want_out(s, c);
  return 0;
}

static void put_submit(conn_t *c, uint64_t id, uint32_t in, uint32_t out) {
  tc_put_submit(&c->out, id, in, out);
}

/* Submits good requests while the window allows. */
static void good_fill(soak_t *s, conn_t *c) {
  uint64_t id;

  while (c->sent < c->nreq && c->sent - c->ended < c->window) {
    id = ++c->sent;
    c->req[id].out = pick(s, 1, 32);
    put_submit(c, id, pick(s, 1, 64), c->req[id].out);
    s->n.submitted++;
  }
}

static void conn_open(soak_t *s, unsigned i) {
  struct sockaddr_in sa;
  struct epoll_event ev;
  conn_t *c = calloc(1, sizeof(*c));
  uint32_t r;
  int one = 1, small = 4096;

  ASSERT(c != NULL);
  r = pick(s, 0, 99);
  c->kind = r < 55 ? GOOD : r < 75 ? INVALID : r < 95 ? VANISH : SLOW;
  c->start_ms = tc_now_ms();
  mlfq_buf_init(&c->in, 4 << 20);
  mlfq_buf_init(&c->out, 1 << 20);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    MLFQ_TEST_FAIL("socket: %s", strerror(errno));
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (c->kind == SLOW) /* no autotuning: the stall shows at once */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)s->port);
  ASSERT_EQ(inet_pton(AF_INET, s->host, &sa.sin_addr), 1);
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
      errno != EINPROGRESS)
    MLFQ_TEST_FAIL("connect: %s", strerror(errno));
  c->tag = (uint64_t)++s->gen << 32 | i;
  ev.events = events(c);
  ev.data.u64 = c->tag;
  ASSERT_EQ(epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev), 0);

  switch (c->kind) {
  case GOOD:
    tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
    c->nreq = pick(s, 4, REQ_MAX);
    c->window = pick(s, 1, WINDOW_MAX);
    good_fill(s, c);
    break;
  case INVALID:
    c->inv = (inv_t)pick(s, 0, NINV - 1);
    s->n.invalid[c->inv]++;
    switch (c->inv) {
    case INV_GARBAGE: {
      static const uint8_t g[12] = {0,    0,    0,    8,    0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
      tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
      ASSERT_OK(mlfq_buf_append(&c->out, g, sizeof(g)));
      c->fatal_code = MLFQ__ERROR_CODE__BAD_MESSAGE;
      break;
    }
    case INV_OVERSIZED: {
      uint8_t h[MLFQ_FRAME_HEADER];
      mlfq_frame_header(h, MAX_FRAME + 1);
      tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
      ASSERT_OK(mlfq_buf_append(&c->out, h, sizeof(h)));
      c->fatal_code = MLFQ__ERROR_CODE__BAD_FRAME;
      break;
    }
    case INV_BEFORE_HELLO:
      put_submit(c, 1, 4, 4);
      c->fatal_code = MLFQ__ERROR_CODE__HELLO_FIRST;
      break;
    case INV_BAD_VERSION:
      tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION + 1);
      c->fatal_code = MLFQ__ERROR_CODE__BAD_VERSION;
      break;
    default: /* request 1 runs beside a duplicate, an unknown Cancel, 2 */
      tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
      c->req[1].out = 20;
      put_submit(c, 1, 4, 20);
      put_submit(c, 1, 4, 20);
      tc_put_cancel(&c->out, 99);
      put_submit(c, 2, 4, 0);
      s->n.submitted += 2;
      c->nreq = c->sent = 2;
      break;
    }
    break;
  case VANISH:
    tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
    for (r = 1; r <= 4; r++)
      put_submit(c, r, 4, VANISH_OUT);
    c->vanish_after = pick(s, 1, 50);
    break;
  default:
    tc_put_hello(&c->out, MLFQ_PROTOCOL_VERSION);
    for (r = 1; r <= SLOW_REQS; r++)
      put_submit(c, r, 1, SLOW_OUT);
    for (r = 0; r < SLOW_STATS; r++)
      tc_put_stats(&c->out);
    break;
  }
  s->n.sessions[c->kind]++;
  s->slot[i] = c;
  s->open++;
  if (s->open > s->n.peak)
    s->n.peak = s->open;
}

/* Ends c (rst: with a reset) and starts another in its slot while the
 * soak lasts. */
static void conn_end(soak_t *s, conn_t *c, int rst) {
  struct linger lg = {1, 0};
  unsigned i;

  if (rst)
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(c->fd); /* leaves the epoll set */
  mlfq_buf_free(&c->in);
  mlfq_buf_free(&c->out);
  for (i = 0; i < SOAK_CONNS; i++)
    if (s->slot[i] == c)
      break;
  ASSERT_LT(i, SOAK_CONNS);
  free(c);
  s->slot[i] = NULL;
  s->open--;
  if (tc_now_ms() < s->stop_ms)
    conn_open(s, i);
}

/* A good connection's checks that request id may hear m. */
static req_t *live(conn_t *c, uint64_t id, const char *what) {
  if (id < 1 || id > c->sent)
    MLFQ_TEST_FAIL("%s for request %llu, never sent (%s connection)", what,
                   (unsigned long long)id, kind_names[c->kind]);
  if (c->req[id].ended)
    MLFQ_TEST_FAIL("%s for request %llu after its end", what,
                   (unsigned long long)id);
  return &c->req[id];
}

static void end_req(conn_t *c, req_t *q) {
  q->ended = 1;
  c->ended++;
}

/* A message to a connection that stays (good, or invalid with requests). */
static void on_request_msg(soak_t *s, conn_t *c, const Mlfq__ServerMessage *m) {
  uint64_t id;
  req_t *q;

  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    q = live(c, m->accepted->id, "Accepted");
    ASSERT_EQ(q->accepted, 0);
    q->accepted = 1;
    s->n.accepted++;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    q = live(c, m->token->id, "Token");
    ASSERT_EQ(q->accepted, 1);
    ASSERT_EQ(m->token->index, q->tokens + 1);
    q->tokens++;
    s->n.tokens++;
    if (c->kind == GOOD && q->tokens == 1 && !q->cancel_sent && q->out > 1 &&
        pick(s, 0, 7) == 0) {
      q->cancel_sent = 1;
      tc_put_cancel(&c->out, m->token->id);
    }
    break;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    q = live(c, m->done->id, "Done");
    ASSERT_EQ(q->accepted, 1);
    ASSERT_EQ(q->tokens, q->out);
    ASSERT_EQ(m->done->iterations, q->tokens);
    q->done++;
    s->n.done++;
    end_req(c, q);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    id = m->error->id;
    switch (m->error->code) {
    case MLFQ__ERROR_CODE__CANCELLED:
      q = live(c, id, "CANCELLED");
      ASSERT(q->cancel_sent);
      q->errors++;
      s->n.cancelled++;
      end_req(c, q);
      break;
    case MLFQ__ERROR_CODE__UNKNOWN_ID:
      if (c->kind == INVALID && id == 99) {
        c->req[0].unknown_seen = 1; /* the invalid connection's own check */
        break;
      }
      ASSERT(id >= 1 && id <= c->sent);
      q = &c->req[id];
      ASSERT(q->cancel_sent && q->done == 1 && !q->unknown_seen);
      q->unknown_seen = 1;
      s->n.unknown++;
      break;
    case MLFQ__ERROR_CODE__DUPLICATE_ID:
      ASSERT(c->kind == INVALID && id == 1 && !c->dup_seen);
      c->dup_seen = 1;
      break;
    case MLFQ__ERROR_CODE__INVALID_REQUEST:
      ASSERT(c->kind == INVALID && id == 2);
      q = live(c, 2, "INVALID_REQUEST");
      ASSERT_EQ(q->accepted, 0);
      end_req(c, q);
      break;
    default:
      MLFQ_TEST_FAIL("%s connection: error %s (%s) for %llu",
                     kind_names[c->kind], mlfq_wire_error_name(m->error->code),
                     m->error->message, (unsigned long long)id);
    }
    break;
  default:
    break;
  }
}

/* Whether a connection that stays is finished: every request ended, every
 * Cancel answered. */
static int requests_over(const conn_t *c) {
  unsigned id;

  if (c->ended < c->nreq)
    return 0;
  for (id = 1; id <= c->sent; id++)
    if (c->req[id].cancel_sent && c->req[id].done && !c->req[id].unknown_seen)
      return 0;
  if (c->kind == INVALID)
    return c->dup_seen && c->req[0].unknown_seen;
  return 1;
}

/* Handles one message; returns 1 when c is finished (closed by us). */
static int on_msg(soak_t *s, conn_t *c, const Mlfq__ServerMessage *m) {
  if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_WELCOME) {
    ASSERT_EQ(c->welcome, 0);
    c->welcome = 1;
    return 0;
  }
  if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_STATS)
    return 0;
  switch (c->kind) {
  case GOOD:
    on_request_msg(s, c, m);
    good_fill(s, c);
    return requests_over(c);
  case INVALID:
    if (c->inv == INV_REQUESTS) {
      on_request_msg(s, c, m);
      return requests_over(c);
    }
    if (m->msg_case != MLFQ__SERVER_MESSAGE__MSG_ERROR || m->error->id != 0 ||
        (int)m->error->code != c->fatal_code)
      MLFQ_TEST_FAIL("%s: message %d (error %s), expected %s",
                     inv_names[c->inv], (int)m->msg_case,
                     m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR
                         ? mlfq_wire_error_name(m->error->code)
                         : "-",
                     mlfq_wire_error_name(c->fatal_code));
    c->fatal_code = -1; /* seen: the close comes next */
    return 0;
  case VANISH:
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_TOKEN &&
        ++c->seen_tokens >= c->vanish_after)
      return 1;
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR ||
        m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE)
      MLFQ_TEST_FAIL("vanishing connection: message %d (%s)", (int)m->msg_case,
                     m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR
                         ? m->error->message
                         : "Done");
    return 0;
  default: /* slow, reading again: whatever was queued before the close */
    return 0;
  }
}

/* The server closed c (rst: with a reset): fine only where expected. */
static void on_closed(soak_t *s, conn_t *c, int rst) {
  if (c->kind == SLOW) {
    if (rst)
      s->n.slow_reset++;
    else
      s->n.slow_eof++;
    conn_end(s, c, 0);
    return;
  }
  if (c->kind == INVALID && c->inv != INV_REQUESTS && c->fatal_code == -1) {
    conn_end(s, c, 0);
    return;
  }
  MLFQ_TEST_FAIL("the server %s a %s connection%s%s (%u of %u requests "
                 "ended)",
                 rst ? "reset" : "closed", kind_names[c->kind],
                 c->kind == INVALID ? " " : "",
                 c->kind == INVALID ? inv_names[c->inv] : "", c->ended,
                 c->nreq);
}

/* Reads what c has; returns -1 if c has ended (and is freed). */
static int on_readable(soak_t *s, conn_t *c) {
  const uint8_t *payload;
  Mlfq__ServerMessage *m;
  size_t off, plen;
  uint8_t *p;
  ssize_t n;
  long f;
  int fin;

  for (;;) {
    p = mlfq_buf_reserve(&c->in, 65536, NULL);
    ASSERT(p != NULL);
    n = recv(c->fd, p, 65536, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    if (n <= 0) {
      on_closed(s, c, n < 0);
      return -1;
    }
    mlfq_buf_commit(&c->in, (size_t)n);
    off = 0;
    fin = 0;
    while (!fin) {
      f = mlfq_frame_decode(c->in.data + off, c->in.len - off, 1 << 20,
                            &payload, &plen);
      ASSERT_GE(f, 0);
      if (f == 0)
        break;
      m = mlfq__server_message__unpack(NULL, plen, payload);
      ASSERT(m != NULL);
      fin = on_msg(s, c, m);
      mlfq__server_message__free_unpacked(m, NULL);
      off += (size_t)f;
    }
    mlfq_buf_consume(&c->in, off);
    if (fin) {
      fin = c->kind == VANISH && pick(s, 0, 1); /* vanish with a reset */
      s->n.vanish_rst += (uint64_t)fin;
      conn_end(s, c, fin);
      return -1;
    }
    if (flush(s, c) != 0) {
      on_closed(s, c, 1);
      return -1;
    }
  }
}

static void on_event(soak_t *s, conn_t *c, uint32_t ev) {
  int err = 0;
  socklen_t len = sizeof(err);

  if (!c->connected && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      MLFQ_TEST_FAIL("connect: %s", strerror(err));
    c->connected = 1;
  }
  if (c->kind == SLOW && !c->reading) {
    if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
      on_closed(s, c, (ev & EPOLLERR) != 0);
      return;
    }
    if (flush(s, c) != 0)
      on_closed(s, c, 1);
    return;
  }
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
    if (on_readable(s, c) != 0)
      return;
  if (flush(s, c) != 0)
    on_closed(s, c, 1);
}

/* Every tick: slow readers read again after SLOW_STALL_MS. */
static void on_tick(soak_t *s) {
  int64_t now = tc_now_ms();
  unsigned i;
  conn_t *c;

  for (i = 0; i < SOAK_CONNS; i++) {
    c = s->slot[i];
    if (c == NULL || c->kind != SLOW || c->reading || !c->connected)
      continue;
    if (now - c->start_ms > SLOW_STALL_MS) {
      c->reading = 1;
      want_out(s, c);
      continue;
    }
  }
}

/* Runs the traffic for seconds, then until every connection has ended. */
static void run_round(soak_t *s, double seconds) {
  struct epoll_event evs[256];
  int64_t next_tick, end;
  unsigned i;
  int n, k;

  s->stop_ms = tc_now_ms() + (int64_t)(seconds * 1000);
  for (i = 0; i < SOAK_CONNS; i++)
    conn_open(s, i);
  next_tick = tc_now_ms() + TICK_MS;
  end = s->stop_ms + END_MS;
  while (s->open > 0) {
    if (tc_now_ms() > end) {
      unsigned left[NKINDS] = {0};
      Mlfq__ServerMessage *m = tc_stats(s->st);
      for (i = 0; i < SOAK_CONNS; i++)
        if (s->slot[i] != NULL)
          left[s->slot[i]->kind]++;
      MLFQ_TEST_FAIL("%u connections still open %d s after the soak: %u "
                     "good, %u invalid, %u vanish, %u slow; the server has "
                     "%llu running, %llu waiting, %llu connections",
                     s->open, END_MS / 1000, left[GOOD], left[INVALID],
                     left[VANISH], left[SLOW],
                     (unsigned long long)m->stats->running,
                     (unsigned long long)m->stats->waiting,
                     (unsigned long long)m->stats->connections);
    }
    n = epoll_wait(s->ep, evs, 256, tc_left_ms(next_tick));
    if (n < 0 && errno != EINTR)
      MLFQ_TEST_FAIL("epoll_wait: %s", strerror(errno));
    for (k = 0; k < n; k++) {
      /* a connection ended earlier in this batch may have been replaced
       * in its slot: the generation tells its stale events apart */
      conn_t *c = s->slot[evs[k].data.u64 & 0xffffffffu];
      if (c != NULL && c->tag == evs[k].data.u64)
        on_event(s, c, evs[k].events);
    }
    if (tc_now_ms() >= next_tick) {
      on_tick(s);
      next_tick = tc_now_ms() + TICK_MS;
    }
  }
}

/* Waits until the server at target is idle with only st connected, and
 * has then given its freed heap back to the system (common/net/trim.c): a
 * probe connection opened and closed after the idle reply is activity
 * the server's next idle tick must trim after. Returns the idle reply. */
static Mlfq__ServerMessage *wait_trimmed(tc_client_t *st,
                                         const mlfq_test_daemon_t *target) {
  Mlfq__ServerMessage *idle = tc_wait_idle(st, 1, IDLE_MS), *m;
  int64_t deadline = tc_now_ms() + IDLE_MS;
  uint64_t k = idle->stats->heap_trims;

  tc_close(tc_open(target, 1));
  for (;;) {
    m = tc_stats(st);
    if (m->stats->heap_trims > k && m->stats->connections == 1) {
      mlfq__server_message__free_unpacked(m, NULL);
      return idle;
    }
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("no heap trim within %d ms of going idle (%llu)", IDLE_MS,
                     (unsigned long long)m->stats->heap_trims);
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

/* The resident set (kB) and the open file descriptors of pid. */
static long rss_kb(int pid) { return mlfq_test_proc_kb(pid, "VmRSS"); }

static int nfds(int pid) {
  char path[64];
  struct dirent *e;
  int n = 0;
  DIR *d;

  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  d = opendir(path);
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* Raises the soft RLIMIT_NOFILE (inherited by the servers started after). */
static void raise_nofile(rlim_t need) {
  struct rlimit rl;

  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur >= need)
    return;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
    MLFQ_TEST_FAIL("the soak needs %lu file descriptors; the hard limit is "
                   "%lu (ulimit -Hn)",
                   (unsigned long)need, (unsigned long)rl.rlim_max);
  rl.rlim_cur = need;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static double soak_seconds(void) {
  const char *e = getenv("MLFQ_SOAK_SECONDS");
  double v;

  if (e == NULL || *e == '\0')
    return SANITIZED ? 10 : 20;
  v = atof(e);
  if (!(v > 0 && v <= 86400))
    MLFQ_TEST_FAIL("MLFQ_SOAK_SECONDS='%s': not a number of seconds", e);
  return v;
}

static void print_counts(const char *what, const counts_t *n) {
  printf("soak: %s: sessions %llu (good %llu, invalid %llu, vanish %llu, "
         "slow %llu), peak %u connections\n",
         what,
         (unsigned long long)(n->sessions[0] + n->sessions[1] + n->sessions[2] +
                              n->sessions[3]),
         (unsigned long long)n->sessions[GOOD],
         (unsigned long long)n->sessions[INVALID],
         (unsigned long long)n->sessions[VANISH],
         (unsigned long long)n->sessions[SLOW], n->peak);
  printf("soak: %s: invalid: garbage %llu, oversized %llu, before_hello "
         "%llu, bad_version %llu, bad_requests %llu\n",
         what, (unsigned long long)n->invalid[0],
         (unsigned long long)n->invalid[1], (unsigned long long)n->invalid[2],
         (unsigned long long)n->invalid[3], (unsigned long long)n->invalid[4]);
  printf("soak: %s: tracked requests %llu, accepted %llu, done %llu, "
         "cancelled %llu (+%llu Done before the Cancel), tokens %llu\n",
         what, (unsigned long long)n->submitted,
         (unsigned long long)n->accepted, (unsigned long long)n->done,
         (unsigned long long)n->cancelled, (unsigned long long)n->unknown,
         (unsigned long long)n->tokens);
  printf("soak: %s: slow readers disconnected %llu (reset %llu, end of "
         "stream %llu), vanished with a reset %llu\n",
         what, (unsigned long long)(n->slow_reset + n->slow_eof),
         (unsigned long long)n->slow_reset, (unsigned long long)n->slow_eof,
         (unsigned long long)n->vanish_rst);
}

/* Soaks the server at target (pid: the process measured; others: more
 * processes whose descriptors must not leak either). */
static void soak(const char *name, const mlfq_test_daemon_t *target,
                 const mlfq_test_daemon_t *others, int nothers) {
  double seconds = soak_seconds(), warm = seconds;
  soak_t *s = calloc(1, sizeof(*s));
  long rss0, rss1, anon0, anon1, prev;
  int fd0, fd1, ofd0[4], i, rounds = 0;
  Mlfq__ServerMessage *m;
  tc_client_t *st;
  int64_t t0, t1;

  ASSERT(s != NULL && nothers <= 4);
  s->host = target->host;
  s->port = target->port;
  s->ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(s->ep, 0);
  mlfq_rng_seed(&s->rng, 20240601, 0);
  st = tc_open(target, 1);
  s->st = st;

  /* Settled: warm-up rounds until one adds at most 2% to the idle RSS
   * (the allocator's caches and the heap's page scatter converge over a
   * few rounds), at most SETTLE_ROUNDS; one round under a sanitizer. */
  rss0 = 0;
  do {
    prev = rss0;
    run_round(s, warm);
    mlfq__server_message__free_unpacked(wait_trimmed(st, target), NULL);
    rss0 = rss_kb(target->pid);
    rounds++;
  } while (!SANITIZED && rounds < SETTLE_ROUNDS &&
           (prev == 0 || (rss0 - prev) * 50 > prev));
  printf("soak: warm-up: %d rounds of %.0f s, idle RSS %ld kB\n", rounds, warm,
         rss0);
  print_counts("warm-up", &s->n);
  anon0 = mlfq_test_proc_kb(target->pid, "RssAnon");
  fd0 = nfds(target->pid);
  for (i = 0; i < nothers; i++)
    ofd0[i] = nfds(others[i].pid);

  memset(&s->n, 0, sizeof(s->n));
  t0 = tc_now_ms();
  run_round(s, seconds);
  t1 = tc_now_ms();
  m = wait_trimmed(st, target);
  rss1 = rss_kb(target->pid);
  anon1 = mlfq_test_proc_kb(target->pid, "RssAnon");
  fd1 = nfds(target->pid);

  printf("soak: %s: %d connections for %.0f s (warm-up %d x %.0f s), wall "
         "%.1f s to the last close\n",
         name, SOAK_CONNS, seconds, rounds, warm, (double)(t1 - t0) / 1000);
  print_counts(name, &s->n);
  printf("soak: %s: server: submitted %llu, completed %llu, cancelled %llu, "
         "rejected %llu, tokens %llu\n",
         name, (unsigned long long)m->stats->submitted,
         (unsigned long long)m->stats->completed,
         (unsigned long long)m->stats->cancelled,
         (unsigned long long)m->stats->rejected,
         (unsigned long long)m->stats->tokens);
  printf("soak: %s: RSS settled %ld kB (%ld anonymous), after %ld kB (%ld "
         "anonymous; %+.1f%%); fds %d, after %d\n",
         name, rss0, anon0, rss1, anon1,
         100.0 * (double)(rss1 - rss0) / (double)rss0, fd0, fd1);
  fflush(stdout);
  mlfq__server_message__free_unpacked(m, NULL);

  /* Every request tracked ended exactly once (checked as they came). */
  ASSERT_EQ_U64(s->n.done + s->n.cancelled + s->n.invalid[INV_REQUESTS],
                s->n.submitted);
  ASSERT_EQ_U64(s->n.accepted, s->n.submitted - s->n.invalid[INV_REQUESTS]);
  ASSERT_GT(s->n.sessions[SLOW], 0);
  ASSERT_EQ_U64(s->n.slow_reset + s->n.slow_eof, s->n.sessions[SLOW]);
  ASSERT_EQ(fd1, fd0);
  for (i = 0; i < nothers; i++)
    ASSERT_EQ(nfds(others[i].pid), ofd0[i]);
  if (!SANITIZED)
    ASSERT_LE(labs(rss1 - rss0) * 10, rss0);
  tc_close(st);
  close(s->ep);
  free(s);
}

TEST(soak, daemon) {
  const char *args[] = {REPLICA_ARGS, EDGE_ARGS, NULL};
  mlfq_test_daemon_t d;

  raise_nofile(2 * SOAK_CONNS + 1024);
  mlfq_test_daemon_start(&d, args);
  soak("mlfqd", &d, NULL, 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 30), 0);
}

/* The same through mlfq-router over two replicas: the router is measured,
 * and neither replica may leak a descriptor. */
TEST(soak, router) {
  const char *rargs[] = {REPLICA_ARGS, NULL};
  mlfq_test_daemon_t rep[2], router;
  const char *argv[16];
  Mlfq__ServerMessage *m;
  int64_t deadline;
  tc_client_t *c;
  int i, k = 0;

  raise_nofile(2 * SOAK_CONNS + 1024);
  for (i = 0; i < 2; i++) {
    mlfq_test_daemon_start(&rep[i], rargs);
    argv[k++] = "--replica";
    argv[k++] = rep[i].addr;
  }
  argv[k++] = "--max-connections";
  argv[k++] = "4096";
  argv[k++] = "--max-queued-bytes";
  argv[k++] = "16384";
  argv[k] = NULL;
  mlfq_test_server_start(&router, ROUTER, argv);
  c = tc_open(&router, 1);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) { /* both replicas up */
    m = tc_stats(c);
    k = (int)m->stats->n_replicas == 2 && m->stats->replicas[0]->up &&
        m->stats->replicas[1]->up;
    mlfq__server_message__free_unpacked(m, NULL);
    if (k)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  tc_close(c);
  soak("mlfq-router", &router, rep, 2);
  ASSERT_EQ(mlfq_test_daemon_stop(&router, SIGTERM, 30), 0);
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&rep[i], SIGTERM, 30), 0);
}
