/* DESIGN
 *
 * One upstream connection per replica, carrying every client's requests
 * to it under the router's upstream ids (router.c). It lives through
 * these states:
 *
 *   IDLE -> [RESOLVING ->] CONNECTING -> HELLO -> UP -> CLOSING -> IDLE
 *
 * IDLE waits on the replica's timer for the next try; a numeric address
 * is connected at once, a name is looked up (uv_getaddrinfo) at every
 * try, so a replica that comes back at a new address is found. HELLO has
 * sent Hello and waits for Welcome, at most WELCOME_TIMEOUT_MS; UP takes
 * requests. Any failure (a refused or broken connection, EOF, a bad
 * frame or message, a connection Error, a write error, no Welcome in
 * time) closes the handle and, once it has closed, arms the timer for
 * the next try: 50 ms after the failure, doubling up to 2 s, and back to
 * 50 ms once a Welcome arrives.
 *
 * When an UP replica fails, every request it was running ends with
 * REPLICA_LOST, whose message names it, its load leaves the balancer and
 * it is marked down, so no new request goes to it until it says Welcome
 * again. A replica that answers a request with SHUTTING_DOWN (draining)
 * takes no new work either until it reconnects (router.c).
 *
 * Liveness. A replica that stops (SIGSTOP, a wedged host, a black-holed
 * link) keeps its connection open and says nothing: no failure above
 * comes. So while UP, the replica's timer sends it a probe, a
 * StatsRequest (a round trip through its event loop, which its engine
 * threads never block), probe_interval_ms after the previous probe's
 * answer. Every frame it sends proves its loop alive, so it is lost only
 * when nothing at all has come from it for probe_timeout_ms since the
 * probe was sent: a busy replica whose answer waits behind a stream of
 * tokens (or behind a router slow to read them) is not lost, a silent
 * one is, and is failed as above. At the deadline the router first reads
 * once more (a 1 ms timer, so the loop polls the sockets first): a router
 * whose own loop stalled past the deadline does not blame a replica whose
 * answer is waiting to be read. A stopped replica is therefore lost
 * between probe_timeout_ms and probe_interval_ms + probe_timeout_ms after
 * it stopped, and re-admitted when it says Welcome again (the
 * reconnection above). Replies come in the order of the requests, so a
 * probe's answer is known by its number among the StatsRequests of the
 * connection; the others are the Stats rounds' (stats.c). A StatsReply
 * beyond the StatsRequests sent fails the replica at once: it would shift
 * that count.
 *
 * The last Welcome of a replica is kept while it is down: the router
 * tells its clients that configuration when no replica is up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "net/peer.h"
#include "router.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define WELCOME_TIMEOUT_S 5
#define WELCOME_TIMEOUT_MS (WELCOME_TIMEOUT_S * 1000)
#define REPLICA_MAX_FRAME (64u << 20)
/* The largest framed Cancel (a 10-byte id varint), rounded up: a link has
 * room for one per request in flight (max_pending) past its bound, and
 * for the probe (at most one unwritten), which a full link must not hold
 * back. */
#define CANCEL_FRAME_MAX 24
#define PROBE_FRAME_MAX 16
#define LINK_ROOM(rt)                                                          \
  ((rt)->opt.srv.max_pending * CANCEL_FRAME_MAX + PROBE_FRAME_MAX)
/* After a probe's deadline, the wait for one more read of the sockets. */
#define PROBE_READ_MS 1

#define REPLICA_OF(st) MLFQ_CONTAINER_OF(st, replica_t, s)

static void attempt(replica_t *r);
static void replica_fail(replica_t *r, const char *why);
static void on_timer(uv_timer_t *t);

/* Arms r's timer for ms (r is UP): a failure fails r. */
static void probe_timer(replica_t *r, uint64_t ms) {
  int rc = uv_timer_start(&r->timer, on_timer, ms, 0);
  char why[64];

  if (rc) {
    snprintf(why, sizeof(why), "timer: %s", uv_strerror(rc));
    replica_fail(r, why);
  }
}

/* Appends a StatsRequest to r's output, past its bound unless bounded,
 * and counts it. Returns 0, MLFQ_ERANGE or MLFQ_ENOMEM. */
static int ask_stats(replica_t *r, int bounded) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest req = MLFQ__STATS_REQUEST__INIT;
  int rc;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &req;
  rc = bounded ? mlfq_stream_put_client(&r->s, &m)
               : mlfq_stream_put_client_unbounded(&r->s, &m);
  if (rc == 0)
    r->stats_asked++;
  return rc;
}

/* Sends r a probe and arms its deadline. */
static void probe(replica_t *r) {
  if (ask_stats(r, 0) != 0) {
    replica_fail(r, "out of memory");
    return;
  }
  r->probe_seq = r->stats_asked;
  r->probe_overdue = 0;
  r->heard_ms = uv_now(r->timer.loop);
  probe_timer(r, r->rt->opt.probe_timeout_ms);
}

/* The ms until r has been silent for probe_timeout_ms, 0 if it has. */
static uint64_t quiet_left(const replica_t *r) {
  uint64_t quiet = uv_now(r->timer.loop) - r->heard_ms;
  uint64_t bound = r->rt->opt.probe_timeout_ms;

  return quiet < bound ? bound - quiet : 0;
}

/* r answered its probe: the next one follows after the interval. */
static void probed(replica_t *r) {
  r->probe_seq = 0;
  r->probe_overdue = 0;
  probe_timer(r, r->rt->opt.probe_interval_ms);
}

static void on_timer(uv_timer_t *t) {
  replica_t *r = MLFQ_CONTAINER_OF(t, replica_t, timer);
  char why[96];

  if (r->state == REPLICA_IDLE) {
    attempt(r);
  } else if (r->state == REPLICA_HELLO) {
    /* An accepted connection that never says Welcome is no replica. */
    snprintf(why, sizeof(why), "no Welcome within %d s", WELCOME_TIMEOUT_S);
    replica_fail(r, why);
  } else if (r->state == REPLICA_UP && r->probe_seq == 0) {
    probe(r);
  } else if (r->state == REPLICA_UP && quiet_left(r) > 0) {
    r->probe_overdue = 0; /* it spoke since: wait for its answer */
    probe_timer(r, quiet_left(r));
  } else if (r->state == REPLICA_UP && !r->probe_overdue) {
    r->probe_overdue = 1; /* read what came first */
    probe_timer(r, PROBE_READ_MS);
  } else if (r->state == REPLICA_UP) {
    snprintf(why, sizeof(why),
             "no answer to a health probe, and nothing else, in %u ms",
             r->rt->opt.probe_timeout_ms);
    replica_fail(r, why);
  }
  router_settle(r->rt);
}

/* Arms the timer for the next try and doubles the backoff. */
static void retry_later(replica_t *r) {
  int rc;

  r->state = REPLICA_IDLE;
  rc = uv_timer_start(&r->timer, on_timer, r->backoff_ms, 0);
  if (rc)
    mlfq_log(MLFQ_LOG_ERROR, "replica %zu %s: timer: %s: not retried",
             r->index + 1, r->addr, uv_strerror(rc));
  r->backoff_ms *= 2;
  if (r->backoff_ms > BACKOFF_MAX_MS)
    r->backoff_ms = BACKOFF_MAX_MS;
}

/* A try failed before Welcome: said once per spell of failures. */
static void tried(replica_t *r, const char *what, int err) {
  mlfq_log_level_t level = r->complained ? MLFQ_LOG_DEBUG : MLFQ_LOG_INFO;

  mlfq_log(level, "replica %zu %s: %s: %s (retrying, at most every %d ms)",
           r->index + 1, r->addr, what, uv_strerror(err), BACKOFF_MAX_MS);
  r->complained = 1;
}

static void on_conn_close(uv_handle_t *h) {
  replica_t *r = REPLICA_OF((mlfq_stream_t *)h);

  mlfq_stream_reset(&r->s);
  if (r->state == REPLICA_CLOSING)
    retry_later(r);
}

/* Closes the connection of the moment; the next try follows its close. */
static void close_conn(replica_t *r) {
  r->state = REPLICA_CLOSING;
  mlfq_stream_close(&r->s, on_conn_close);
}

/* s, a string the replica sent (NULL: "?"), escaped for the log into out
 * (MLFQ_LOG_SHOW_BYTES). */
static const char *shown(const char *s, char *out) {
  if (s == NULL)
    s = "?";
  return mlfq_log_escape(s, strlen(s), out, MLFQ_LOG_SHOW_BYTES);
}

/* The connection failed (why says how, with what the replica sent): an UP
 * replica's requests end with REPLICA_LOST and it is marked down; the next
 * try follows. */
static void replica_fail(replica_t *r, const char *why) {
  router_t *rt = r->rt;
  char said[2 * MLFQ_LOG_SHOW_BYTES];
  size_t n = 0;
  route_t *q;

  if (r->state != REPLICA_HELLO && r->state != REPLICA_UP &&
      r->state != REPLICA_CONNECTING)
    return;
  if (r->state == REPLICA_UP) {
    mlfq_balance_set_up(&rt->bal, r->index, 0);
    while (!mlfq_list_empty(&r->routes)) {
      q = MLFQ_CONTAINER_OF(r->routes.next, route_t, rlink);
      mlfq_session_error(
          &q->client->s, q->client_id, MLFQ__ERROR_CODE__REPLICA_LOST,
          "replica %zu (%s) went away: %s", r->index + 1, r->addr, why);
      r->lost++;
      n++;
      router_end(rt, q);
    }
    mlfq_log(MLFQ_LOG_WARN, "replica %zu %s lost: %s (%zu requests lost)",
             r->index + 1, r->addr,
             mlfq_log_escape(why, strlen(why), said, sizeof(said)), n);
    r->complained = 0;
  } else {
    mlfq_log(r->complained ? MLFQ_LOG_DEBUG : MLFQ_LOG_INFO,
             "replica %zu %s: %s (retrying)", r->index + 1, r->addr,
             mlfq_log_escape(why, strlen(why), said, sizeof(said)));
    r->complained = 1;
  }
  r->draining = 0;
  uv_timer_stop(&r->timer);
  close_conn(r);
  /* After close_conn: a Stats round this ends may start the next, which
   * must not ask r (no longer up) again. */
  stats_replica_lost(r);
}

static void on_connect(uv_connect_t *req, int status) {
  replica_t *r = MLFQ_CONTAINER_OF(req, replica_t, connect);
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  int rc;

  if (r->state != REPLICA_CONNECTING)
    return; /* closed meanwhile: its close callback follows */
  if (status < 0) {
    tried(r, "cannot connect", status);
    close_conn(r);
    return;
  }
  rc = uv_tcp_nodelay(&r->s.tcp, 1);
  if (rc == 0)
    rc = mlfq_stream_read_start(&r->s);
  if (rc) {
    tried(r, "connection", rc);
    close_conn(r);
    return;
  }
  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = "mlfq-router";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  r->state = REPLICA_HELLO;
  if (mlfq_stream_put_client(&r->s, &m) != 0 ||
      uv_timer_start(&r->timer, on_timer, WELCOME_TIMEOUT_MS, 0) != 0) {
    replica_fail(r, "out of memory");
    return;
  }
  router_settle(r->rt);
}

static void connect_to(replica_t *r, const struct sockaddr *sa) {
  router_t *rt = r->rt;
  int rc;

  mlfq_stream_init(&r->s, &rt->streams, r->s.ops, REPLICA_MAX_FRAME,
                   rt->opt.replica_queued_bytes, LINK_ROOM(rt));
  rc = uv_tcp_init(rt->loop, &r->s.tcp);
  if (rc) {
    tried(r, "socket", rc);
    retry_later(r);
    return;
  }
  r->state = REPLICA_CONNECTING;
  r->stats_asked = r->stats_heard = r->probe_seq = 0;
  r->probe_overdue = 0;
  rc = uv_tcp_connect(&r->connect, &r->s.tcp, sa, on_connect);
  if (rc) { /* on_connect will not run */
    tried(r, "cannot connect", rc);
    close_conn(r);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  replica_t *r = MLFQ_CONTAINER_OF(req, replica_t, resolve);

  if (r->state != REPLICA_RESOLVING) { /* stopped */
    uv_freeaddrinfo(res);
    return;
  }
  if (status < 0 || res == NULL) {
    tried(r, "cannot resolve the host", status < 0 ? status : UV_EAI_NONAME);
    retry_later(r);
  } else {
    connect_to(r, res->ai_addr);
  }
  uv_freeaddrinfo(res);
  router_settle(r->rt);
}

static void attempt(replica_t *r) {
  struct addrinfo hints;
  struct sockaddr_storage ss;
  char port[16];
  int rc;

  if (uv_ip4_addr(r->host, r->port, (struct sockaddr_in *)&ss) == 0 ||
      uv_ip6_addr(r->host, r->port, (struct sockaddr_in6 *)&ss) == 0) {
    connect_to(r, (const struct sockaddr *)&ss);
    return;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof(port), "%d", r->port);
  r->state = REPLICA_RESOLVING;
  rc = uv_getaddrinfo(r->rt->loop, &r->resolve, on_resolved, r->host, port,
                      &hints);
  if (rc) {
    tried(r, "cannot resolve the host", rc);
    retry_later(r);
  }
}

/* Welcome: checked, kept, and the replica takes requests. Returns 1 if it
 * kept m. */
static int welcomed(replica_t *r, Mlfq__ServerMessage *m) {
  const Mlfq__Welcome *w = m->welcome;
  char id[MLFQ_LOG_SHOW_BYTES], version[MLFQ_LOG_SHOW_BYTES];
  char policy[MLFQ_LOG_SHOW_BYTES];
  router_t *rt = r->rt;
  char err[256], why[300];
  size_t n;

  if (mlfq_wire_welcome_check(w, err, sizeof(err)) != 0) {
    snprintf(why, sizeof(why), "its Welcome is not mlfqd protocol: %s", err);
    replica_fail(r, why);
    return 0;
  }
  /* Clients are sent its configuration (Welcome, Stats): as mlfqd checks
   * of its own at start, it must fit half of a client's output bound. */
  n = MLFQ_FRAME_HEADER + protobuf_c_message_get_packed_size(&m->base);
  if (n > rt->opt.srv.max_queued_bytes / 2) {
    snprintf(why, sizeof(why),
             "its Welcome is %zu bytes, more than half of --max-queued-bytes "
             "(%zu): clients could not be sent its configuration",
             n, rt->opt.srv.max_queued_bytes);
    replica_fail(r, why);
    return 0;
  }
  if (r->welcome != NULL)
    mlfq__server_message__free_unpacked(r->welcome, NULL);
  r->welcome = m;
  r->state = REPLICA_UP;
  r->draining = 0;
  r->complained = 0;
  r->backoff_ms = BACKOFF_MIN_MS;
  mlfq_balance_set_up(&rt->bal, r->index, 1);
  mlfq_log(MLFQ_LOG_INFO, "replica %zu %s up: %s %s, policy %s", r->index + 1,
           r->addr, shown(w->server_id, id), shown(w->server_version, version),
           shown(w->config->policy, policy));
  /* A router answers a probe within two of its --stats-timeout (stats.c),
   * whose value it does not tell: warn with its default. */
  if (w->replicas > 0 &&
      rt->opt.probe_timeout_ms <= 2 * ROUTER_STATS_TIMEOUT_MS)
    mlfq_log(MLFQ_LOG_WARN,
             "replica %zu %s is a router: it may take twice its "
             "--stats-timeout (%d ms by default) to answer a health probe, "
             "and --probe-timeout is %u ms: give this router a --probe-timeout "
             "above twice that (docs/ROUTER.md, Health)",
             r->index + 1, r->addr, ROUTER_STATS_TIMEOUT_MS,
             rt->opt.probe_timeout_ms);
  router_replica_ready(rt);
  probed(r); /* the first probe after the interval: it has just answered */
  return 1;
}

static void on_frame(mlfq_stream_t *s, const uint8_t *p, size_t len) {
  Mlfq__ServerMessage *m = mlfq__server_message__unpack(NULL, len, p);
  replica_t *r = REPLICA_OF(s);
  char why[300];
  route_t *q;
  int kept = 0;

  if (m == NULL || !mlfq_wire_tags_valid(&m->base)) {
    if (m != NULL)
      mlfq__server_message__free_unpacked(m, NULL);
    replica_fail(r, "it sent bytes that are not a ServerMessage");
    return;
  }
  r->heard_ms = uv_now(r->timer.loop); /* its loop is alive */
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_WELCOME:
    if (r->state == REPLICA_HELLO)
      kept = welcomed(r, m);
    else
      replica_fail(r, "a second Welcome");
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR && m->error->id == 0) {
      snprintf(why, sizeof(why), "it closed the connection with %s: %s",
               mlfq_wire_error_name(m->error->code),
               m->error->message ? m->error->message : "");
      replica_fail(r, why);
      break;
    }
    if (r->state != REPLICA_UP) {
      replica_fail(r, "a reply before its Welcome");
      break;
    }
    /* A request that has ended (cancelled, its client gone) is not
     * found: what the replica still says of it is dropped. */
    q = mlfq_idmap_get(&r->rt->routes, mlfq_wire_msg_id(m));
    if (q != NULL && q->replica == r)
      router_forward(r->rt, q, m);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_STATS:
    /* Replies are known by their number: one nobody asked for would give
     * the probe's answer to a Stats round, and the probe would time out. */
    if (r->stats_heard >= r->stats_asked) {
      replica_fail(r, "it sent a StatsReply it was not asked for");
      break;
    }
    if (++r->stats_heard == r->probe_seq)
      probed(r);
    else
      kept = stats_reply(r, m);
    break;
  default:
    break;
  }
  if (!kept)
    mlfq__server_message__free_unpacked(m, NULL);
}

static void on_failed(mlfq_stream_t *s, int err) {
  replica_t *r = REPLICA_OF(s);
  char why[128];

  if (err == UV_EOF)
    snprintf(why, sizeof(why), "it closed the connection");
  else if (err == MLFQ_EFRAMESIZE || err == MLFQ_EFRAMEEMPTY)
    snprintf(why, sizeof(why), "bad frame: %s", mlfq_strerror(err));
  else
    snprintf(why, sizeof(why), "read: %s", uv_strerror(err));
  replica_fail(r, why);
}

static void on_flush(mlfq_stream_t *s) {
  replica_t *r = REPLICA_OF(s);
  char why[128];
  int rc;

  if (r->state != REPLICA_HELLO && r->state != REPLICA_UP)
    return;
  rc = mlfq_stream_write(s);
  if (rc) {
    snprintf(why, sizeof(why), "write: %s", uv_strerror(rc));
    replica_fail(r, why);
  }
}

static void on_written(mlfq_stream_t *s, int status) {
  replica_t *r = REPLICA_OF(s);
  char why[128];

  if (status < 0 && (r->state == REPLICA_HELLO || r->state == REPLICA_UP)) {
    snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
    replica_fail(r, why);
  }
}

static const mlfq_stream_ops_t replica_ops = {NULL, on_frame, on_failed,
                                              on_flush, on_written};

int replica_init(replica_t *r, router_t *rt, size_t index, const char *addr,
                 char *err, size_t errlen) {
  int rc;

  memset(r, 0, sizeof(*r));
  r->rt = rt;
  r->index = index;
  mlfq_list_init(&r->routes);
  mlfq_list_init(&r->stats);
  r->backoff_ms = BACKOFF_MIN_MS;
  mlfq_stream_init(&r->s, &rt->streams, &replica_ops, REPLICA_MAX_FRAME,
                   rt->opt.replica_queued_bytes, LINK_ROOM(rt));
  snprintf(r->addr, sizeof(r->addr), "%s", addr);
  if (mlfq_peer_parse_addr(addr, r->host, sizeof(r->host), &r->port) != 0 ||
      r->port < 1)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--replica: '%s' is not HOST:PORT", addr);
  r->state = REPLICA_STOPPED;
  rc = uv_timer_init(rt->loop, &r->timer);
  if (rc)
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  r->timer_open = 1;
  r->state = REPLICA_IDLE;
  rc = uv_timer_start(&r->timer, on_timer, 0, 0);
  if (rc)
    return mlfq_fail(err, errlen, rc, "timer: %s", uv_strerror(rc));
  return 0;
}

void replica_cancel(replica_t *r, uint64_t up_id) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;
  int rc;

  if (r->state != REPLICA_UP)
    return;
  k.id = up_id;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  rc = mlfq_stream_put_client_unbounded(&r->s, &m);
  if (rc != 0)
    mlfq_log(MLFQ_LOG_ERROR, "replica %zu %s: %s: a Cancel is lost",
             r->index + 1, r->addr, mlfq_strerror(rc));
}

int replica_ask_stats(replica_t *r) { return ask_stats(r, 1); }

void replica_stop(replica_t *r) {
  int was = r->state;

  r->state = REPLICA_STOPPED;
  if (r->timer_open) {
    r->timer_open = 0;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, NULL);
  }
  switch (was) {
  case REPLICA_RESOLVING:
    /* Its callback runs either way, cancelled or done, and frees: a
     * lookup already running cannot be cancelled (an error here). */
    (void)uv_cancel((uv_req_t *)&r->resolve);
    break;
  case REPLICA_CONNECTING:
  case REPLICA_HELLO:
  case REPLICA_UP:
    if (was == REPLICA_UP)
      mlfq_balance_set_up(&r->rt->bal, r->index, 0);
    mlfq_stream_close(&r->s, on_conn_close);
    break;
  default:
    break;
  }
}

void replica_free(replica_t *r) {
  if (r->welcome != NULL)
    mlfq__server_message__free_unpacked(r->welcome, NULL);
  r->welcome = NULL;
  mlfq_stream_reset(&r->s);
}
