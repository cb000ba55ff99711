/* Fuzzes the router's handling of what a replica sends (router/replica.c,
 * router.c, stats.c) end to end, in process: a real router (fzrouter.h)
 * whose one replica is a socket this harness listens on and answers, and a
 * client of the router that the harness drives; one libuv loop, started
 * once.
 *
 * Input: byte 0 is control. Bit 0 clear: the replica is up (the harness
 * answered the router's Hello with a valid Welcome), the client submits
 * requests 1, 2 and 3, which must reach the replica (the router keeps
 * routing) as upstream ids 1, 2 and 3, bit 1 adds a StatsRequest, and the
 * rest of the input is what the replica sends next. Bit 0 set: the rest is
 * the replica's answer to a fresh connection's Hello. Afterwards the
 * client cancels its requests, and the router must have no route left and
 * its client still connected; a replica connection left mid-frame or down
 * is closed, and the router must connect again. A hang aborts.
 *
 * Upstream ids: the harness restarts the router's counter at 0 before its
 * submits (nothing is in flight then), so that the fuzzer's ids 1..3 name
 * live requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cost.h"
#include "fzrouter.h"
#include "harness.h"
#include "wire/frame.h"
#include "wire/wire.h"

static struct {
  int ready;
  uv_loop_t loop;
  router_t rt;
  int port;
  int lfd;        /* the replica's listener */
  fz_peer_t rep;  /* the replica's side of the router's connection */
  int hello_seen; /* the router said Hello on rep */
  fz_peer_t cli;  /* the harness's client of the router */
  mlfq_buf_t welcome;
  uint64_t submits[8];
  size_t nsubmits;
  size_t welcomes; /* Welcomes the client got */
  int ours;        /* the router's replica took the harness's Welcome */
} g;

static replica_t *replica(void) { return &g.rt.replicas[0]; }

static void on_router_msg(void *ud, const Mlfq__ClientMessage *m) {
  (void)ud;
  if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_HELLO)
    g.hello_seen = 1;
  else if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_SUBMIT &&
           g.nsubmits < sizeof(g.submits) / sizeof(g.submits[0]))
    g.submits[g.nsubmits++] = m->submit->id;
}

static void make_welcome(void) {
  mlfq_buf_init(&g.welcome, 1 << 16);
  fz_put_welcome(&g.welcome, MLFQ_PROTOCOL_VERSION, "fuzz-replica", "0");
}

/* Pumps once, taking the router's connection when it comes, reading what
 * the router sends the replica and dropping a connection it closed. A
 * replica waiting for its next try is tried at once: the backoff is not
 * what this harness tests. */
static void step(void) {
  replica_t *r = replica();
  int fd;

  if (r->state == REPLICA_IDLE && uv_is_active((uv_handle_t *)&r->timer))
    uv_timer_start(&r->timer, r->timer.timer_cb, 0, 0);
  fz_pump(&g.loop, 1);
  if (g.rep.fd < 0) {
    fd = accept(g.lfd, NULL, NULL);
    if (fd >= 0) {
      fz_peer_adopt(&g.rep, fd);
      g.hello_seen = 0;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fz_die("accept: %s", strerror(errno));
    }
  }
  if (g.rep.fd >= 0) {
    fz_peer_client_frames(&g.rep, on_router_msg, NULL);
    if (g.rep.eof)
      fz_peer_close(&g.rep);
  }
  if (g.cli.fd >= 0)
    fz_peer_server_frames(&g.cli, MLFQ__SERVER_MESSAGE__MSG_WELCOME,
                          &g.welcomes);
}

static void wait_for(int (*cond)(void), const char *what) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;

  while (!cond()) {
    if (fz_now_ms() > deadline)
      fz_die("timed out waiting until %s", what);
    step();
  }
}

/* The router has seen the replica's connection go. */
static int replica_gone(void) {
  return replica()->state != REPLICA_UP && replica()->state != REPLICA_HELLO;
}

/* Closes the replica's side and waits until the router has noticed, so
 * that nothing is routed to a connection that is gone. */
static void drop_replica(void);

static int hello_came(void) { return g.rep.fd >= 0 && g.hello_seen; }
/* Up and taking work (not said SHUTTING_DOWN). */
static int replica_up(void) {
  return replica()->state == REPLICA_UP && !replica()->draining;
}
static int three_submits(void) { return g.nsubmits >= 3; }
static int client_welcomed(void) {
  if (g.cli.eof)
    fz_die("the router closed its client");
  return g.welcomes > 0;
}

/* The router has read all the replica sent and has nothing in flight but
 * what the client has open. */
static int replica_read(void) {
  replica_t *r = replica();

  if (r->state != REPLICA_UP && r->state != REPLICA_HELLO)
    return 1;
  return fz_stream_unread(&r->s) == 0;
}

static int settled(void) {
  client_t *c = fz_router_client(&g.rt);

  if (c == NULL)
    fz_die("the router dropped its client");
  return g.rt.routes.n == 0 && g.rt.stats_round == NULL &&
         mlfq_list_empty(&g.rt.streams.dirty) &&
         fz_stream_unread(&c->s.stream) == 0 && c->s.stream.queued == 0 &&
         replica_read();
}

static void drop_replica(void) {
  if (g.rep.fd < 0)
    return;
  fz_peer_close(&g.rep);
  g.ours = 0;
  wait_for(replica_gone, "the router sees the replica go");
}

/* The replica is up and answered; the client is connected. */
static void bring_up(void) {
  mlfq_buf_t b;

  if (!replica_up() || !g.ours) {
    drop_replica(); /* a connection in an unknown state */
    wait_for(hello_came, "the router says Hello");
    if (fz_peer_write(&g.rep, &g.loop, g.welcome.data, g.welcome.len) != 0)
      fz_die("the router dropped the replica");
    wait_for(replica_up, "the replica is up");
    g.ours = 1;
  }
  if (g.cli.fd < 0) {
    fz_peer_connect(&g.cli, g.port);
    g.welcomes = 0;
    mlfq_buf_init(&b, 1 << 16);
    fz_put_hello(&b);
    (void)fz_peer_write(&g.cli, &g.loop, b.data, b.len);
    mlfq_buf_free(&b);
    wait_for(client_welcomed, "the client is welcomed");
  }
}

static void start(void) {
  fz_quiet();
  if (uv_loop_init(&g.loop) != 0)
    fz_die("loop");
  make_welcome();
  g.rep.fd = -1;
  g.cli.fd = -1;
  {
    int rport;

    g.lfd = fz_listen(&rport);
    fz_router_start(&g.rt, &g.loop, rport, &g.port);
  }
  g.ready = 1;
}

/* Does s[0..n) end at a frame boundary with every header valid? */
static int whole_frames(const uint8_t *s, size_t n) {
  const uint8_t *payload;
  size_t plen;
  long k;

  while (n > 0) {
    k = mlfq_frame_decode(s, n, 64u << 20, &payload, &plen);
    if (k <= 0)
      return 0;
    s += k;
    n -= (size_t)k;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlfq_buf_t b;
  uint64_t i;

  if (!g.ready)
    start();
  if (size < 1)
    return 0;
  bring_up();
  mlfq_buf_init(&b, 1 << 16);
  if (data[0] & 1) {
    /* A fresh connection: the input answers its Hello. */
    drop_replica();
    wait_for(hello_came, "the router says Hello again");
    (void)fz_peer_write(&g.rep, &g.loop, data + 1, size - 1);
    wait_for(replica_read, "the router reads the replica");
  } else {
    if (g.rt.routes.n != 0)
      fz_die("routes left from the last input");
    g.rt.next_up_id = 0;
    g.nsubmits = 0;
    for (i = 1; i <= 3; i++)
      fz_put_submit(&b, i, 10 * i, (uint32_t)i);
    if (data[0] & 2)
      fz_put_stats(&b);
    (void)fz_peer_write(&g.cli, &g.loop, b.data, b.len);
    mlfq_buf_consume(&b, b.len);
    wait_for(three_submits, "the router routes 3 requests");
    for (i = 0; i < 3; i++)
      if (g.submits[i] != i + 1)
        fz_die("upstream id %llu where %llu was due",
               (unsigned long long)g.submits[i], (unsigned long long)i + 1);
    (void)fz_peer_write(&g.rep, &g.loop, data + 1, size - 1);
    wait_for(replica_read, "the router reads the replica");
  }
  /* What is still open ends: the client cancels (UNKNOWN_ID for those that
   * ended), and the router must settle. */
  if (g.cli.fd >= 0 && !g.cli.eof) {
    for (i = 1; i <= 3; i++)
      fz_put_cancel(&b, i);
    (void)fz_peer_write(&g.cli, &g.loop, b.data, b.len);
  }
  mlfq_buf_free(&b);
  wait_for(settled, "the router settles");
  if (g.rep.fd >= 0 && (!replica_up() || !whole_frames(data + 1, size - 1)))
    drop_replica(); /* out of step: the router connects again */
  return 0;
}
