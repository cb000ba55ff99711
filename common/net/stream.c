/* DESIGN
 *
 * The read loop, the output bound and the write of every framed TCP
 * connection (stream.h). on_read appends to `in` and decodes frames in
 * place; what a read leaves of a frame stays at the head of `in` for the
 * next. Writes copy `out` into one request allocated with its bytes
 * (mlfq_tcp_write_buf), so `out` is free for the next flush at once.
 * Every read and write callback ends with the group's settle, so a
 * program needs no call of its own to get its output out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "net/stream.h"
#include "net/tcp.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define READ_CHUNK 65536

void mlfq_stream_group_init(mlfq_stream_group_t *g,
                            void (*settle)(mlfq_stream_group_t *g)) {
  mlfq_list_init(&g->dirty);
  g->settle = settle;
}

void mlfq_stream_group_flush(mlfq_stream_group_t *g) {
  mlfq_stream_t *s;

  while (!mlfq_list_empty(&g->dirty)) {
    s = MLFQ_CONTAINER_OF(g->dirty.next, mlfq_stream_t, dirty);
    mlfq_list_remove(&s->dirty);
    s->ops->flush(s);
  }
}

static void settle(mlfq_stream_group_t *g) {
  if (g != NULL && g->settle != NULL)
    g->settle(g);
}

void mlfq_stream_init(mlfq_stream_t *s, mlfq_stream_group_t *group,
                      const mlfq_stream_ops_t *ops, uint32_t max_frame,
                      size_t max_queued, size_t room) {
  s->group = group;
  s->ops = ops;
  s->pos = 0;
  s->queued = 0;
  s->max_queued = max_queued;
  s->max_frame = max_frame;
  s->stop = 0;
  mlfq_buf_init(&s->in, (size_t)max_frame + MLFQ_FRAME_HEADER + READ_CHUNK);
  mlfq_buf_init(&s->out, max_queued + room);
  mlfq_list_init(&s->dirty);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  mlfq_stream_t *s = (mlfq_stream_t *)h;
  uint8_t *p = mlfq_buf_reserve(&s->in, READ_CHUNK, NULL);

  (void)suggested;
  *buf = uv_buf_init((char *)p, p ? READ_CHUNK : 0);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  mlfq_stream_t *s = (mlfq_stream_t *)h;
  mlfq_stream_group_t *g = s->group;
  const uint8_t *payload;
  size_t plen;
  long n;

  (void)buf;
  if (nread == 0)
    return;
  if (nread < 0) {
    s->ops->failed(s, (int)nread);
    settle(g);
    return;
  }
  mlfq_buf_commit(&s->in, (size_t)nread);
  if (s->ops->read != NULL)
    s->ops->read(s);
  s->pos = 0;
  while (!s->stop) {
    n = mlfq_frame_decode(s->in.data + s->pos, s->in.len - s->pos, s->max_frame,
                          &payload, &plen);
    if (n == 0)
      break;
    if (n < 0) {
      s->ops->failed(s, (int)n);
      break;
    }
    s->ops->frame(s, payload, plen);
    s->pos += (size_t)n;
  }
  mlfq_buf_consume(&s->in, s->pos);
  s->pos = 0;
  settle(g);
}

int mlfq_stream_read_start(mlfq_stream_t *s) {
  return uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

void mlfq_stream_read_stop(mlfq_stream_t *s) {
  (void)uv_read_stop((uv_stream_t *)&s->tcp); /* always 0 */
}

static void mark_dirty(mlfq_stream_t *s) {
  if (s->group != NULL && !mlfq_list_linked(&s->dirty))
    mlfq_list_push_tail(&s->group->dirty, &s->dirty);
}

/* After a frame was appended to s->out at offset before: takes it back
 * if the unwritten output now passes max_queued. */
static int bound(mlfq_stream_t *s, size_t before, int rc) {
  if (rc == 0 && s->queued + s->out.len > s->max_queued) {
    s->out.len = before;
    rc = MLFQ_ERANGE;
  }
  return rc;
}

int mlfq_stream_put_server(mlfq_stream_t *s, const Mlfq__ServerMessage *m) {
  size_t before = s->out.len;

  mark_dirty(s); /* a refused frame too: the owner's flush decides */
  return bound(s, before, mlfq_wire_put_server(&s->out, m));
}

int mlfq_stream_put_client(mlfq_stream_t *s, const Mlfq__ClientMessage *m) {
  size_t before = s->out.len;

  mark_dirty(s);
  return bound(s, before, mlfq_wire_put_client(&s->out, m));
}

int mlfq_stream_put_client_unbounded(mlfq_stream_t *s,
                                     const Mlfq__ClientMessage *m) {
  mark_dirty(s);
  return mlfq_wire_put_client(&s->out, m);
}

static void on_write(uv_write_t *req, int status) {
  mlfq_tcp_write_t *w = (mlfq_tcp_write_t *)req;
  mlfq_stream_t *s = w->owner;
  mlfq_stream_group_t *g = s->group;

  s->queued -= w->len;
  free(w);
  if (s->ops->written != NULL)
    s->ops->written(s, status);
  settle(g);
}

int mlfq_stream_write(mlfq_stream_t *s) {
  return mlfq_tcp_write_buf((uv_stream_t *)&s->tcp, &s->out, s, on_write,
                            &s->queued);
}

void mlfq_stream_close(mlfq_stream_t *s, uv_close_cb cb) {
  s->stop = 1;
  if (mlfq_list_linked(&s->dirty))
    mlfq_list_remove(&s->dirty);
  uv_close((uv_handle_t *)&s->tcp, cb);
}

void mlfq_stream_reset(mlfq_stream_t *s) {
  mlfq_buf_free(&s->in);
  mlfq_buf_free(&s->out);
  if (mlfq_list_linked(&s->dirty))
    mlfq_list_remove(&s->dirty);
  s->stop = 0;
}

void mlfq_stream_peer_name(mlfq_stream_t *s, char *buf, size_t len) {
  struct sockaddr_storage ss;
  int n = sizeof(ss);

  if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) == 0)
    mlfq_tcp_addr_name((struct sockaddr *)&ss, buf, len);
  else
    snprintf(buf, len, "?");
}
