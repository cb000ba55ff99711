/* A raw TCP peer for the tests of common/net on a real libuv loop: a plain
 * socket over loopback whose input the loop collects (a uv_poll_t), so a
 * test waits for events, never sleeps. The other end is accepted into
 * whatever the test exercises. */
#ifndef MLFQ_TEST_TPEER_H
#define MLFQ_TEST_TPEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "base/buf.h"
#include "task.h"
#include "wire/frame.h"
#include "wire/wire.h"

typedef struct {
  int fd;
  uv_poll_t poll;
  mlfq_buf_t in; /* what the peer read */
  int eof;
} tpeer_t;

/* A listening socket on 127.0.0.1 (any port), its port in *port. */
static inline int tpeer_listen(int *port) {
  struct sockaddr_in a;
  socklen_t n = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ASSERT(fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &n), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static inline void tpeer_on_poll(uv_poll_t *h, int status, int events) {
  tpeer_t *p = h->data;
  uint8_t *b;
  ssize_t n;

  (void)status;
  (void)events;
  for (;;) {
    b = mlfq_buf_reserve(&p->in, 65536, NULL);
    ASSERT(b != NULL);
    n = recv(p->fd, b, 65536, MSG_DONTWAIT);
    if (n > 0) {
      mlfq_buf_commit(&p->in, (size_t)n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      p->eof = 1;
      uv_poll_stop(h);
    }
    return;
  }
}

/* Connects p to 127.0.0.1:port and watches its input on loop. */
static inline void tpeer_connect(tpeer_t *p, uv_loop_t *loop, int port) {
  struct sockaddr_in a;

  memset(p, 0, sizeof(*p));
  mlfq_buf_init(&p->in, 1u << 24);
  p->fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(p->fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  ASSERT_EQ(connect(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ASSERT_OK(uv_poll_init(loop, &p->poll, p->fd));
  p->poll.data = p;
  ASSERT_OK(uv_poll_start(&p->poll, UV_READABLE, tpeer_on_poll));
}

static inline void tpeer_send(tpeer_t *p, const void *data, size_t n) {
  ASSERT_EQ(send(p->fd, data, n, 0), (ssize_t)n);
}

/* The next whole ServerMessage the peer read (taken from p->in), or NULL
 * when none is whole yet. Free with mlfq__server_message__free_unpacked. */
static inline Mlfq__ServerMessage *tpeer_next(tpeer_t *p) {
  const uint8_t *payload;
  Mlfq__ServerMessage *m;
  size_t plen;
  long n = mlfq_frame_decode(p->in.data, p->in.len, 1u << 20, &payload, &plen);

  ASSERT_GE(n, 0);
  if (n == 0)
    return NULL;
  m = mlfq__server_message__unpack(NULL, plen, payload);
  ASSERT(m != NULL);
  mlfq_buf_consume(&p->in, (size_t)n);
  return m;
}

/* Closes the peer's socket (its poll handle closes on the loop). */
static inline void tpeer_close(tpeer_t *p) {
  if (!uv_is_closing((uv_handle_t *)&p->poll))
    uv_close((uv_handle_t *)&p->poll, NULL);
  close(p->fd);
  mlfq_buf_free(&p->in);
}

static inline void tpeer_on_deadline(uv_timer_t *t) {
  (void)t;
  MLFQ_TEST_FAIL("no event within the test's deadline");
}

static inline void tpeer_on_timer_close(uv_handle_t *h) { h->data = h; }

/* Runs loop until done(arg) holds, failing the test after 5 s. */
static inline void tpeer_run_until(uv_loop_t *loop, int (*done)(void *),
                                   void *arg) {
  uv_timer_t t;

  ASSERT_OK(uv_timer_init(loop, &t));
  ASSERT_OK(uv_timer_start(&t, tpeer_on_deadline, 5000, 0));
  while (!done(arg))
    uv_run(loop, UV_RUN_ONCE);
  t.data = NULL;
  uv_close((uv_handle_t *)&t, tpeer_on_timer_close);
  while (t.data == NULL) /* t lives on this stack */
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs what is left of loop (every handle closed) and requires it to close
 * cleanly. */
static inline void tpeer_loop_close(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(loop), 0);
}

#endif
