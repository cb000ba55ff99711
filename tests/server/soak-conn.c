/* The soak's connections (soak.h): behaviours, checks, a round's loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/frame.h"
#include "wire/wire.h"

#include "server/soak.h"

static const char *const kind_names[NKINDS] = {"good", "invalid", "vanish",
                                               "slow"};
static const char *const inv_names[NINV] = {
    "garbage", "oversized", "before_hello", "bad_version", "bad_requests"};

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

void soak_round(soak_t *s, double seconds) {
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
