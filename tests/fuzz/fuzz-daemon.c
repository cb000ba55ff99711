/* Fuzzes the daemon's message handling end to end, in process: two real
 * servers (server/server.c, conn.c, workers.c; fzserver.c) run on one libuv
 * loop on 127.0.0.1, started once. Each input is one client connection.
 *
 * Input: byte 0 is control: bit 0 picks the server (variant 0 or 1, see
 * fzserver.h), bit 1 sends a valid Hello before the bytes (so that the
 * fuzzer starts past the handshake), bit 2 half-closes after the bytes
 * (otherwise the client stays until the server is idle, reading every
 * token, then closes). The rest is written to the socket as it is.
 *
 * After each input the connection must be gone, nothing in flight, every
 * frame the server sent a ServerMessage, and the server still listening;
 * every 64 inputs a fresh client must get a Welcome. A hang aborts. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fzserver.h"
#include "harness.h"

static struct {
  int ready;
  uv_loop_t loop;
  server_t sv[2];
  int port[2];
  unsigned long inputs;
} g;

static void start(void) {
  fz_quiet();
  if (uv_loop_init(&g.loop) != 0)
    fz_die("loop");
  fz_server_start(&g.sv[0], &g.loop, 0, &g.port[0]);
  fz_server_start(&g.sv[1], &g.loop, 1, &g.port[1]);
  g.ready = 1;
}

/* The one connection of sv, or NULL once it has closed. */
static conn_t *only_conn(server_t *sv) {
  if (mlfq_list_empty(&sv->conns))
    return NULL;
  return MLFQ_CONTAINER_OF(sv->conns.next, conn_t, link);
}

/* Bytes the server has not read yet from c's socket. */
static size_t conn_unread(conn_t *c) {
  uv_os_fd_t fd;

  if (uv_fileno((uv_handle_t *)&c->s.stream.tcp, &fd) != 0)
    return 0;
  return fz_unread(fd);
}

static void check_alive(server_t *sv, int port) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  size_t welcomes = 0;
  fz_peer_t p;
  mlfq_buf_t b;

  if (!sv->listening || sv->stopping || sv->draining)
    fz_die("the server stopped listening");
  mlfq_buf_init(&b, 1 << 16);
  fz_put_hello(&b);
  fz_peer_connect(&p, port);
  if (fz_peer_write(&p, &g.loop, b.data, b.len) != 0)
    fz_die("the server dropped a new client");
  while (welcomes == 0) {
    if (fz_now_ms() > deadline || p.eof)
      fz_die("no Welcome from the server");
    fz_pump(&g.loop, 1);
    fz_peer_server_frames(&p, MLFQ__SERVER_MESSAGE__MSG_WELCOME, &welcomes);
  }
  fz_peer_close(&p);
  mlfq_buf_free(&b);
  while (sv->nconns != 0) {
    if (fz_now_ms() > deadline)
      fz_die("the server kept a closed connection");
    fz_pump(&g.loop, 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  server_t *sv;
  fz_peer_t p;
  mlfq_buf_t b;
  conn_t *c;
  int v, port, half;

  if (!g.ready)
    start();
  if (size < 1)
    return 0;
  v = data[0] & 1;
  half = (data[0] & 4) != 0;
  sv = &g.sv[v];
  port = g.port[v];
  mlfq_buf_init(&b, 1 << 16);
  if (data[0] & 2)
    fz_put_hello(&b);
  if (mlfq_buf_append(&b, data + 1, size - 1) != 0)
    fz_die("input too large");

  fz_peer_connect(&p, port);
  (void)fz_peer_write(&p, &g.loop, b.data, b.len);
  mlfq_buf_free(&b);
  if (half)
    (void)shutdown(p.fd, SHUT_WR);
  /* Until the server has closed the connection, or read everything and
   * gone idle with the client reading all it sent. */
  while (p.fd >= 0) {
    if (fz_now_ms() > deadline)
      fz_die("the server neither closed nor went idle");
    fz_pump(&g.loop, 1);
    fz_peer_server_frames(&p, -1, NULL);
    c = only_conn(sv);
    if (p.eof || c == NULL)
      break;
    if (!half && fz_server_idle(sv) &&
        (c->s.flow.end != MLFQ_FLOW_OPEN || conn_unread(c) == 0))
      break;
  }
  fz_peer_close(&p);
  while (sv->nconns != 0) {
    if (fz_now_ms() > deadline)
      fz_die("the server kept a closed connection");
    fz_pump(&g.loop, 1);
  }
  if (sv->inflight != 0 || !mlfq_list_empty(&sv->pending))
    fz_die("requests in flight with no connection");
  if (++g.inputs % 64 == 1) /* the first input too: replays are short */
    check_alive(sv, port);
  return 0;
}
