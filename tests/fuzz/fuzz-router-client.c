/* Fuzzes the router's handling of its clients (router/client.c, router.c,
 * stream.c, stats.c) end to end, in process: a real mlfqd (fzserver.h)
 * and a real router in front of it (fzrouter.h) on one libuv loop, started
 * once. Each input is one client connection to the router.
 *
 * Input: byte 0 is control: bit 1 sends a valid Hello before the bytes,
 * bit 2 half-closes after them (otherwise the client stays, reading, until
 * the router and the replica are idle). The rest goes to the socket.
 *
 * After each input the client must be gone, no route left, every frame a
 * ServerMessage, and the replica still up; every 64 inputs a request must
 * go through the router and come back Done. A hang aborts. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fzrouter.h"
#include "fzserver.h"
#include "harness.h"

static struct {
  int ready;
  uv_loop_t loop;
  server_t sv;
  router_t rt;
  int port;
  unsigned long inputs;
} g;

static void start(void) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  int sport;

  fz_quiet();
  if (uv_loop_init(&g.loop) != 0)
    fz_die("loop");
  fz_server_start(&g.sv, &g.loop, 1, &sport);
  fz_router_start(&g.rt, &g.loop, sport, &g.port);
  while (g.rt.replicas[0].state != REPLICA_UP) {
    if (fz_now_ms() > deadline)
      fz_die("the replica did not come up");
    fz_pump(&g.loop, 1);
  }
  g.ready = 1;
}

static int router_idle(void) {
  client_t *c = fz_router_client(&g.rt);

  if (g.rt.routes.n != 0 || g.rt.stats_round != NULL ||
      !mlfq_list_empty(&g.rt.streams.dirty) || !fz_server_idle(&g.sv))
    return 0;
  return c == NULL || c->s.flow.end != MLFQ_FLOW_OPEN ||
         (c->s.stream.queued == 0 && c->s.stream.out.len == 0 &&
          fz_stream_unread(&c->s.stream) == 0);
}

/* A request goes through the router and comes back Done. */
static void check_routing(void) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  size_t done = 0;
  fz_peer_t p;
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 16);
  fz_put_hello(&b);
  fz_put_submit(&b, 1, 10, 2);
  fz_peer_connect(&p, g.port);
  if (fz_peer_write(&p, &g.loop, b.data, b.len) != 0)
    fz_die("the router dropped a new client");
  mlfq_buf_free(&b);
  while (done == 0) {
    if (fz_now_ms() > deadline || p.eof)
      fz_die("no Done through the router");
    fz_pump(&g.loop, 1);
    fz_peer_server_frames(&p, MLFQ__SERVER_MESSAGE__MSG_DONE, &done);
  }
  fz_peer_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  fz_peer_t p;
  mlfq_buf_t b;
  int half;

  if (!g.ready)
    start();
  if (size < 1)
    return 0;
  half = (data[0] & 4) != 0;
  mlfq_buf_init(&b, 1 << 16);
  if (data[0] & 2)
    fz_put_hello(&b);
  if (mlfq_buf_append(&b, data + 1, size - 1) != 0)
    fz_die("input too large");
  fz_peer_connect(&p, g.port);
  (void)fz_peer_write(&p, &g.loop, b.data, b.len);
  mlfq_buf_free(&b);
  if (half)
    (void)shutdown(p.fd, SHUT_WR);
  for (;;) {
    if (fz_now_ms() > deadline)
      fz_die("the router neither closed nor went idle");
    fz_pump(&g.loop, 1);
    fz_peer_server_frames(&p, -1, NULL);
    if (p.eof || (g.rt.nclients == 0 && p.in.len == 0))
      break;
    if (!half && router_idle())
      break;
  }
  fz_peer_close(&p);
  while (g.rt.nclients != 0 || g.rt.routes.n != 0) {
    if (fz_now_ms() > deadline)
      fz_die("the router kept a closed client");
    fz_pump(&g.loop, 1);
  }
  if (g.rt.replicas[0].state != REPLICA_UP)
    fz_die("a client took the replica down");
  if (++g.inputs % 64 == 1) /* the first input too: replays are short */
    check_routing();
  return 0;
}
