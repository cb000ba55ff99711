/* bench-router: the latency mlfq-router adds to each token event.
 * bench/run.sh starts one mlfqd replica and a router in front of it (see
 * docs/BENCHMARKS.md, "Router") and passes both addresses.
 *
 * The replica has one engine, decode 1 ms and max_batch >= 2 S; each
 * phase sends S requests of L tokens on a connection at once, so S tokens
 * per decode time flow (S = 10: 10,000 tokens/s). Every read is stamped
 * by the kernel when its bytes reached this process's socket
 * (SO_TIMESTAMPNS), so this program's own wake-ups do not count. A
 * token's lateness is that arrival minus the wall time of its model
 * completion, t0 + t_ns * time_scale, where t0 (the replica's model time
 * 0 on CLOCK_MONOTONIC) comes from the replica's Stats uptime at the
 * middle of the fastest of 20 round trips; its error is the same for
 * every phase.
 *
 *   phase 1  S requests to the replica directly: direct_* lateness
 *   phase 2  S requests through the router: router_* lateness;
 *            added_* = router_* - direct_*, percentile by percentile
 *   phase 3  both at once on the same replica, S each: for every token
 *            event (an iteration's tokens, one model time) seen on both
 *            paths, the first routed token's arrival minus the first
 *            direct token's (paired_*). This also counts the replica's
 *            own write to the direct connection, which it makes first.
 *
 * Prints one key=value line. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/hist.h"
#include "net/peer.h"
#include "wire/frame.h"
#include "wire/wire.h"

typedef struct {
  char direct[128];
  char router[128];
  long streams;
  long tokens;
} opts_t;

/* One path: its connection, what it has seen, when tokens arrived. */
typedef struct {
  mlfq_peer_t p; /* connects and says Hello; reading is done here */
  mlfq_buf_t in;
  long tokens;
  long done;
  long errors;
  long early;     /* arrived before their modeled time: counted as 0 */
  long unstamped; /* reads the kernel gave no timestamp: stamped on return */
  mlfq_hist_t late;
  uint64_t *ev_t; /* token events: model time, and first arrival */
  uint64_t *ev_at;
  size_t nev;
  size_t maxev;
} path_t;

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;

  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* CLOCK_REALTIME minus CLOCK_MONOTONIC. One reading of each can be split
 * by a preemption (milliseconds on a loaded machine), so the realtime
 * reading is taken between two monotonic ones, and of 200 tries the one
 * with the narrowest bracket counts; *width is that bracket's width. */
static int64_t clock_offset(uint64_t *width) {
  uint64_t a, b, real, best = UINT64_MAX;
  int64_t off = 0;
  int i;

  for (i = 0; i < 200; i++) {
    a = now_ns();
    real = clock_ns(CLOCK_REALTIME);
    b = now_ns();
    if (b - a < best) {
      best = b - a;
      off = (int64_t)real - (int64_t)(a + (b - a) / 2);
    }
  }
  *width = best;
  return off;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "bench-router: %s: %s\n", what, mlfq_strerror(rc));
  exit(1);
}

static void connect_hello(const char *addr, mlfq_peer_t *p,
                          Mlfq__ServerMessage **welcome) {
  char host[100], err[256];
  int port, rc;

  if (mlfq_peer_parse_addr(addr, host, sizeof(host), &port) != 0)
    die(addr, MLFQ_EINVAL);
  rc = mlfq_peer_connect(p, host, port, 5000, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "bench-router: %s\n", err);
    exit(1);
  }
  rc = mlfq_peer_hello(p, "bench-router", welcome, 5000);
  if (rc)
    die("hello", rc);
}

/* The replica's model time 0 on CLOCK_MONOTONIC: its Stats uptime at the
 * middle of the fastest of n round trips. */
static uint64_t replica_t0(mlfq_peer_t *p, int n, uint64_t *best_rtt) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;
  Mlfq__ServerMessage *r;
  uint64_t t_send, t_recv, t0 = 0;
  int i, rc;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  *best_rtt = UINT64_MAX;
  for (i = 0; i < n; i++) {
    t_send = now_ns();
    rc = mlfq_peer_send(p, &m);
    if (rc == 0)
      rc = mlfq_peer_recv(p, &r, 5000);
    t_recv = now_ns();
    if (rc)
      die("stats", rc);
    if (r->msg_case != MLFQ__SERVER_MESSAGE__MSG_STATS || r->stats == NULL)
      die("stats", MLFQ_EPARSE);
    if (t_recv - t_send < *best_rtt) {
      *best_rtt = t_recv - t_send;
      t0 = t_send + *best_rtt / 2 - (uint64_t)(r->stats->uptime_s * 1e9);
    }
    mlfq__server_message__free_unpacked(r, NULL);
  }
  return t0;
}

static void submit_all(path_t *x, const opts_t *o) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;
  mlfq_buf_t b;
  long i;
  int rc;

  mlfq_buf_init(&b, 1 << 20);
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  for (i = 0; i < o->streams; i++) {
    s.id = (uint64_t)i + 1;
    s.input_length = 16;
    s.output_length = (uint32_t)o->tokens;
    rc = mlfq_wire_put_client(&b, &m);
    if (rc)
      die("encode", rc);
  }
  rc = mlfq_peer_send_raw(&x->p, b.data, b.len);
  if (rc)
    die("send", rc);
  mlfq_buf_free(&b);
}

static void on_token(path_t *x, const Mlfq__Token *t, uint64_t at, uint64_t t0,
                     double scale) {
  uint64_t due = t0 + (uint64_t)((double)t->t_ns * scale);

  x->tokens++;
  if (at >= due) {
    mlfq_hist_add(&x->late, at - due);
  } else {
    x->early++;
    mlfq_hist_add(&x->late, 0);
  }
  if (x->nev > 0 && x->ev_t[x->nev - 1] == t->t_ns)
    return; /* the event's first token is its arrival */
  if (x->nev == x->maxev)
    die("token events", MLFQ_ERANGE);
  x->ev_t[x->nev] = t->t_ns;
  x->ev_at[x->nev++] = at;
}

/* Reads what x's socket holds, stamped by the kernel (CLOCK_REALTIME,
 * taken to CLOCK_MONOTONIC by off), and handles every whole frame. On a
 * loaded machine the kernel now and then returns a read without its stamp:
 * that read is stamped when recvmsg returns, a little late, and counted. */
static void drain(path_t *x, int64_t off, uint64_t t0, double scale) {
  char ctrl[CMSG_SPACE(sizeof(struct timespec))];
  struct msghdr mh;
  struct iovec iov;
  struct cmsghdr *cm;
  struct timespec ts;
  Mlfq__ServerMessage *m;
  const uint8_t *payload;
  size_t plen, pos = 0;
  uint64_t at = 0;
  uint8_t *dst;
  ssize_t n;
  long f;
  int rc;

  dst = mlfq_buf_reserve(&x->in, 65536, &rc);
  if (dst == NULL)
    die("buffer", rc);
  memset(&mh, 0, sizeof(mh));
  iov.iov_base = dst;
  iov.iov_len = 65536;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctrl;
  mh.msg_controllen = sizeof(ctrl);
  n = recvmsg(x->p.fd, &mh, MSG_DONTWAIT);
  if (n == 0)
    die("recv", -EPIPE);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return;
    die("recv", -errno);
  }
  for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
      memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
      at = (uint64_t)((int64_t)((uint64_t)ts.tv_sec * 1000000000u +
                                (uint64_t)ts.tv_nsec) -
                      off);
    }
  if (at == 0) {
    at = now_ns();
    x->unstamped++;
  }
  mlfq_buf_commit(&x->in, (size_t)n);
  for (;;) {
    f = mlfq_frame_decode(x->in.data + pos, x->in.len - pos, 64u << 20,
                          &payload, &plen);
    if (f == 0)
      break;
    m = f > 0 ? mlfq__server_message__unpack(NULL, plen, payload) : NULL;
    if (m == NULL)
      die("recv", MLFQ_EPARSE);
    pos += (size_t)f;
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_TOKEN)
      on_token(x, m->token, at, t0, scale);
    else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE)
      x->done++;
    else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR)
      x->errors++;
    mlfq__server_message__free_unpacked(m, NULL);
  }
  mlfq_buf_consume(&x->in, pos);
}

static double us(uint64_t ns) { return (double)ns / 1e3; }

/* The added latency of every token event seen on both paths, into h.
 * Returns how many events were paired. */
static size_t pair_events(const path_t *d, const path_t *r, mlfq_hist_t *h,
                          long *negative) {
  size_t i = 0, j = 0, n = 0;

  while (i < d->nev && j < r->nev) {
    if (d->ev_t[i] < r->ev_t[j]) {
      i++;
    } else if (r->ev_t[j] < d->ev_t[i]) {
      j++;
    } else {
      if (r->ev_at[j] >= d->ev_at[i]) {
        mlfq_hist_add(h, r->ev_at[j] - d->ev_at[i]);
      } else {
        mlfq_hist_add(h, 0);
        (*negative)++;
      }
      n++;
      i++;
      j++;
    }
  }
  return n;
}

/* Forgets what x saw in a previous phase. */
static void reset(path_t *x) {
  x->tokens = x->done = x->errors = x->early = 0;
  x->nev = 0;
  mlfq_hist_init(&x->late);
}

/* Sends S requests on each path of x[0..n) at once and reads until they
 * have all ended. Returns the phase's wall time in ns. */
static uint64_t phase(path_t **x, int n, const opts_t *o, int64_t off,
                      uint64_t t0, double scale) {
  struct pollfd pf[2];
  uint64_t start = now_ns();
  int k, busy;

  for (k = 0; k < n; k++) {
    reset(x[k]);
    submit_all(x[k], o);
  }
  for (;;) {
    busy = 0;
    for (k = 0; k < n; k++)
      busy |= x[k]->done + x[k]->errors < o->streams;
    if (!busy)
      break;
    for (k = 0; k < n; k++) {
      pf[k].fd = x[k]->p.fd;
      pf[k].events = POLLIN;
      pf[k].revents = 0;
    }
    if (poll(pf, (nfds_t)n, 30000) <= 0)
      die("poll", errno ? -errno : -ETIMEDOUT);
    for (k = 0; k < n; k++)
      if (pf[k].revents)
        drain(x[k], off, t0, scale);
  }
  return now_ns() - start;
}

/* p50, p99 and max of h in microseconds. */
static void pcts(const mlfq_hist_t *h, double v[3]) {
  v[0] = us(mlfq_hist_percentile(h, 50));
  v[1] = us(mlfq_hist_percentile(h, 99));
  v[2] = us(h->max);
}

/* What one measurement found. */
typedef struct {
  double d[3], r[3], pp[3]; /* direct, router and paired p50, p99, max */
  long negative, errors, tokens[2];
  uint64_t secs_ns; /* of the router's phase */
  size_t events;
} result_t;

/* Parses argv into o. Returns 0, or 2 after saying why on stderr. */
static int parse_opts(int argc, char **argv, opts_t *o) {
  int i;

  memset(o, 0, sizeof(*o));
  o->streams = 10;
  o->tokens = 2000;
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--direct") == 0)
      snprintf(o->direct, sizeof(o->direct), "%s", argv[i + 1]);
    else if (strcmp(argv[i], "--router") == 0)
      snprintf(o->router, sizeof(o->router), "%s", argv[i + 1]);
    else if (strcmp(argv[i], "--streams") == 0)
      o->streams = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--tokens") == 0)
      o->tokens = atol(argv[i + 1]);
    else {
      fprintf(stderr, "bench-router: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (i != argc || o->direct[0] == '\0' || o->router[0] == '\0' ||
      o->streams < 1 || o->streams > 10000 || o->tokens < 2 ||
      o->tokens > 10000000) {
    fprintf(stderr, "usage: bench-router --direct REPLICA --router ROUTER "
                    "[--streams S] [--tokens L]\n");
    return 2;
  }
  return 0;
}

/* Connects x[0] to the replica and x[1] to the router, and gets the
 * replica's time scale and time 0 (*rtt: the round trip it was read
 * with). */
static void open_paths(path_t *x, const opts_t *o, double *scale, uint64_t *t0,
                       uint64_t *rtt) {
  Mlfq__ServerMessage *w;
  int k, on = 1;

  connect_hello(o->direct, &x[0].p, &w);
  *scale =
      w->welcome->config->time_scale > 0 ? w->welcome->config->time_scale : 1;
  mlfq__server_message__free_unpacked(w, NULL);
  connect_hello(o->router, &x[1].p, NULL);
  *t0 = replica_t0(&x[0].p, 20, rtt);
  for (k = 0; k < 2; k++) {
    if (x[k].p.in.len != 0)
      die("unexpected bytes", MLFQ_EPARSE);
    if (setsockopt(x[k].p.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)))
      die("SO_TIMESTAMPNS", -errno);
    mlfq_buf_init(&x[k].in, (64u << 20) + 65536);
    x[k].maxev = (size_t)o->tokens * 2 + 16;
    x[k].ev_t = calloc(x[k].maxev, sizeof(uint64_t));
    x[k].ev_at = calloc(x[k].maxev, sizeof(uint64_t));
    if (x[k].ev_t == NULL || x[k].ev_at == NULL)
      die("alloc", MLFQ_ENOMEM);
  }
}

/* The three phases: direct alone, router alone, both at once and paired.
 * Returns how far the realtime clock's offset moved over them, ns, and
 * *slack the error of its two readings. */
static int64_t measure(path_t *x, const opts_t *o, uint64_t t0, double scale,
                       mlfq_hist_t *paired, result_t *res, int64_t *slack) {
  path_t *both[2];
  uint64_t w0, w1;
  int64_t off;

  off = clock_offset(&w0);
  res->errors = 0;
  res->negative = 0;
  mlfq_hist_init(paired);
  both[0] = &x[0];
  phase(both, 1, o, off, t0, scale);
  pcts(&x[0].late, res->d);
  res->tokens[0] = x[0].tokens;
  res->errors += x[0].errors;
  both[0] = &x[1];
  res->secs_ns = phase(both, 1, o, off, t0, scale);
  pcts(&x[1].late, res->r);
  res->tokens[1] = x[1].tokens;
  res->errors += x[1].errors;
  both[0] = &x[0];
  both[1] = &x[1];
  phase(both, 2, o, off, t0, scale);
  res->errors += x[0].errors + x[1].errors;
  res->events = pair_events(&x[0], &x[1], paired, &res->negative);
  pcts(paired, res->pp);
  off = llabs(clock_offset(&w1) - off);
  *slack = (int64_t)(w0 + w1);
  return off;
}

int main(int argc, char **argv) {
  opts_t o;
  path_t *x;
  mlfq_hist_t *paired;
  uint64_t t0, rtt;
  int64_t moved, slack;
  double scale;
  result_t z;
  int k, attempt;

  if (parse_opts(argc, argv, &o) != 0)
    return 2;
  x = calloc(2, sizeof(*x));
  paired = malloc(sizeof(*paired));
  if (x == NULL || paired == NULL)
    die("alloc", MLFQ_ENOMEM);
  mlfq_hist_init(paired);
  open_paths(x, &o, &scale, &t0, &rtt);
  /* The kernel stamps in CLOCK_REALTIME: the offset to CLOCK_MONOTONIC
   * must not move during the run. If the realtime clock is stepped (NTP,
   * on a machine that has just booted), the run is measured again, at
   * most three times in all. */
  for (attempt = 1;; attempt++) {
    moved = measure(x, &o, t0, scale, paired, &z, &slack);
    if (moved <= 1000 + slack)
      break;
    if (attempt == 3)
      die("the realtime clock moved during each of 3 runs", MLFQ_EIO);
    fprintf(stderr,
            "bench-router: the realtime clock moved by %lld ns during the "
            "run; measuring again\n",
            (long long)moved);
  }

  printf("bench=router mode=latency streams=%ld tokens_per_request=%ld "
         "tokens_direct=%ld tokens_router=%ld errors=%ld "
         "router_tokens_per_s=%.0f t0_rtt_us=%.1f direct_p50_us=%.1f "
         "direct_p99_us=%.1f direct_max_us=%.1f router_p50_us=%.1f "
         "router_p99_us=%.1f router_max_us=%.1f added_p50_us=%.1f "
         "added_p99_us=%.1f added_max_us=%.1f events=%zu negative=%ld "
         "paired_p50_us=%.1f paired_p99_us=%.1f paired_max_us=%.1f "
         "unstamped=%ld\n",
         o.streams, o.tokens, z.tokens[0], z.tokens[1], z.errors,
         (double)z.tokens[1] / ((double)z.secs_ns / 1e9), us(rtt), z.d[0],
         z.d[1], z.d[2], z.r[0], z.r[1], z.r[2], z.r[0] - z.d[0],
         z.r[1] - z.d[1], z.r[2] - z.d[2], z.events, z.negative, z.pp[0],
         z.pp[1], z.pp[2], x[0].unstamped + x[1].unstamped);
  for (k = 0; k < 2; k++) {
    mlfq_peer_close(&x[k].p);
    mlfq_buf_free(&x[k].in);
    free(x[k].ev_t);
    free(x[k].ev_at);
  }
  free(x);
  free(paired);
  return 0;
}
