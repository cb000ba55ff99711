/* DESIGN
 *
 * A framed TCP connection of the router, to a client or to a replica: the
 * same reading, framing and writing under two owners. Reading appends to
 * `in` and hands each whole frame to the owner's ops->frame in order,
 * until the owner sets `stop`; a bad frame header or the end of the
 * stream goes to ops->failed. Output is appended to `out` (never past
 * max_queued bytes unwritten, written included, but for the unbounded
 * messages the room is kept for) and written by the
 * owner's flush with one uv_write per flush, the write request allocated
 * together with its bytes. The router flushes every dirty stream once at
 * the end of each callback, so the frames one read produces for a peer
 * go out in one write.
 *
 * The stream owns no close path: its owner closes the handle and frees
 * the buffers (stream_reset) when the handle has closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/tcp.h"
#include "router.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define READ_CHUNK 65536

void stream_init(stream_t *s, router_t *rt, const stream_ops_t *ops,
                 uint32_t max_frame, size_t max_queued, size_t room) {
  s->rt = rt;
  s->ops = ops;
  s->queued = 0;
  s->max_queued = max_queued;
  s->max_frame = max_frame;
  s->stop = 0;
  mlfq_buf_init(&s->in, (size_t)max_frame + MLFQ_FRAME_HEADER + READ_CHUNK);
  mlfq_buf_init(&s->out, max_queued + room);
  mlfq_list_init(&s->dirty);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  stream_t *s = (stream_t *)h;
  uint8_t *p = mlfq_buf_reserve(&s->in, READ_CHUNK, NULL);

  (void)suggested;
  *buf = uv_buf_init((char *)p, p ? READ_CHUNK : 0);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  stream_t *s = (stream_t *)h;
  router_t *rt = s->rt;
  const uint8_t *payload;
  size_t off = 0, plen;
  long n;

  (void)buf;
  if (nread == 0)
    return;
  if (nread < 0) {
    s->ops->failed(s, (int)nread);
    router_settle(rt);
    return;
  }
  mlfq_buf_commit(&s->in, (size_t)nread);
  while (!s->stop) {
    n = mlfq_frame_decode(s->in.data + off, s->in.len - off, s->max_frame,
                          &payload, &plen);
    if (n == 0)
      break;
    if (n < 0) {
      s->ops->failed(s, (int)n);
      break;
    }
    off += (size_t)n;
    s->ops->frame(s, payload, plen);
  }
  mlfq_buf_consume(&s->in, off);
  router_settle(rt);
}

int stream_read_start(stream_t *s) {
  return uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

void stream_read_stop(stream_t *s) {
  (void)uv_read_stop((uv_stream_t *)&s->tcp); /* always 0 */
}

static void mark_dirty(stream_t *s) {
  if (!mlfq_list_linked(&s->dirty))
    mlfq_list_push_tail(&s->rt->dirty, &s->dirty);
}

/* After a frame was appended to s->out at offset before: takes it back
 * if the unwritten output now passes max_queued (when bounded). */
static int bound(stream_t *s, size_t before, int rc, int bounded) {
  if (rc == 0 && bounded && s->queued + s->out.len > s->max_queued) {
    s->out.len = before;
    rc = MLFQ_ERANGE;
  }
  return rc;
}

int stream_put_server(stream_t *s, const Mlfq__ServerMessage *m) {
  size_t before = s->out.len;

  mark_dirty(s); /* a refused frame too: the owner's flush decides */
  return bound(s, before, mlfq_wire_put_server(&s->out, m), 1);
}

int stream_put_client(stream_t *s, const Mlfq__ClientMessage *m) {
  size_t before = s->out.len;

  mark_dirty(s);
  return bound(s, before, mlfq_wire_put_client(&s->out, m), 1);
}

int stream_put_client_unbounded(stream_t *s, const Mlfq__ClientMessage *m) {
  mark_dirty(s);
  return mlfq_wire_put_client(&s->out, m);
}

static void on_write(uv_write_t *req, int status) {
  mlfq_tcp_write_t *w = (mlfq_tcp_write_t *)req;
  stream_t *s = w->owner;
  router_t *rt = s->rt;

  s->queued -= w->len;
  free(w);
  s->ops->written(s, status);
  router_settle(rt);
}

int stream_write(stream_t *s) {
  return mlfq_tcp_write_buf((uv_stream_t *)&s->tcp, &s->out, s, on_write,
                            &s->queued);
}

void stream_reset(stream_t *s) {
  mlfq_buf_free(&s->in);
  mlfq_buf_free(&s->out);
  if (mlfq_list_linked(&s->dirty))
    mlfq_list_remove(&s->dirty);
  s->stop = 0;
}

void stream_peer_name(stream_t *s, char *buf, size_t len) {
  struct sockaddr_storage ss;
  int n = sizeof(ss);

  if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) == 0)
    mlfq_tcp_addr_name((struct sockaddr *)&ss, buf, len);
  else
    snprintf(buf, len, "?");
}
