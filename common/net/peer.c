#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/units.h"
#include "net/peer.h"
#include "net/tcp.h"
#include "wire/frame.h"
#include "wire/wire.h"

static int64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (ms). Returns 0, -ETIMEDOUT or a
 * negated errno. */
static int wait_fd(int fd, short events, int64_t deadline) {
  struct pollfd pfd;
  int64_t left;
  int rc;

  for (;;) {
    left = deadline - now_ms();
    if (left < 0)
      left = 0;
    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    rc = poll(&pfd, 1, (int)left);
    if (rc > 0)
      return 0;
    if (rc == 0)
      return -ETIMEDOUT;
    if (errno != EINTR)
      return -errno;
  }
}

int mlfq_peer_parse_addr(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  uint64_t p;
  size_t n;

  if (colon == NULL || colon == s)
    return MLFQ_EINVAL;
  n = (size_t)(colon - s);
  if (s[0] == '[' && n >= 2 && colon[-1] == ']') {
    s++;
    n -= 2;
  }
  if (n == 0 || n >= hostlen ||
      mlfq_parse_u64(colon + 1, strlen(colon + 1), 65535, &p) != 0)
    return MLFQ_EINVAL;
  memcpy(host, s, n);
  host[n] = '\0';
  *port = (int)p;
  return 0;
}

int mlfq_peer_connect(mlfq_peer_t *p, const char *host, int port,
                      int timeout_ms, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sslen, len = sizeof(int);
  int fd = -1, rc, one = 1, soerr = 0;
  int64_t deadline = now_ms() + timeout_ms;

  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->max_frame = 64u << 20;
  if (mlfq_tcp_resolve(host, port, &ss, err, errlen) != 0)
    return -EINVAL; /* err is "HOST: reason" */
  sslen = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  rc = connect(fd, (struct sockaddr *)&ss, sslen);
  if (rc != 0 && errno != EINPROGRESS) {
    rc = -errno;
    goto fail;
  }
  if (rc != 0) {
    rc = wait_fd(fd, POLLOUT, deadline);
    if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0)
      rc = -soerr;
    if (rc)
      goto fail;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  p->fd = fd;
  mlfq_buf_init(&p->in, (size_t)p->max_frame + MLFQ_FRAME_HEADER + 65536);
  return 0;

fail:
  if (fd >= 0)
    close(fd);
  return mlfq_fail(err, errlen, rc, "cannot connect to %s:%d: %s", host, port,
                   strerror(-rc));
}

int mlfq_peer_send_raw(mlfq_peer_t *p, const void *buf, size_t len) {
  const uint8_t *b = buf;
  ssize_t n;
  int rc;

  while (len > 0) {
    n = send(p->fd, b, len, MSG_NOSIGNAL);
    if (n > 0) {
      b += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      rc = wait_fd(p->fd, POLLOUT, now_ms() + 10000);
      if (rc)
        return rc;
      continue;
    }
    return -errno;
  }
  return 0;
}

int mlfq_peer_send(mlfq_peer_t *p, const Mlfq__ClientMessage *m) {
  mlfq_buf_t b;
  int rc;

  mlfq_buf_init(&b, (size_t)p->max_frame + MLFQ_FRAME_HEADER);
  rc = mlfq_wire_put_client(&b, m);
  if (rc == 0)
    rc = mlfq_peer_send_raw(p, b.data, b.len);
  mlfq_buf_free(&b);
  return rc;
}

int mlfq_peer_recv(mlfq_peer_t *p, Mlfq__ServerMessage **m, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  const uint8_t *payload;
  size_t plen;
  uint8_t *dst;
  ssize_t n;
  long f;
  int rc;

  for (;;) {
    f = mlfq_frame_decode(p->in.data, p->in.len, p->max_frame, &payload, &plen);
    if (f < 0)
      return MLFQ_EPARSE;
    if (f > 0) {
      *m = mlfq__server_message__unpack(NULL, plen, payload);
      if (*m == NULL)
        return MLFQ_EPARSE; /* the bytes stay, to be shown */
      mlfq_buf_consume(&p->in, (size_t)f);
      return 0;
    }
    dst = mlfq_buf_reserve(&p->in, 65536, &rc);
    if (dst == NULL)
      return rc;
    n = recv(p->fd, dst, 65536, 0);
    if (n > 0) {
      mlfq_buf_commit(&p->in, (size_t)n);
      continue;
    }
    if (n == 0)
      return -EPIPE;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -errno;
    rc = wait_fd(p->fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
}

int mlfq_peer_hello(mlfq_peer_t *p, const char *name,
                    Mlfq__ServerMessage **welcome, int timeout_ms) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  Mlfq__ServerMessage *r = NULL;
  int rc;

  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = (char *)name;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  rc = mlfq_peer_send(p, &m);
  if (rc == 0)
    rc = mlfq_peer_recv(p, &r, timeout_ms);
  if (rc)
    return rc;
  if (r->msg_case != MLFQ__SERVER_MESSAGE__MSG_WELCOME ||
      mlfq_wire_welcome_check(r->welcome, NULL, 0) != 0) {
    mlfq__server_message__free_unpacked(r, NULL);
    return MLFQ_EPARSE;
  }
  if (welcome != NULL)
    *welcome = r;
  else
    mlfq__server_message__free_unpacked(r, NULL);
  return 0;
}

void mlfq_peer_close(mlfq_peer_t *p) {
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  mlfq_buf_free(&p->in);
}
