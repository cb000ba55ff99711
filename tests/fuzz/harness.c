#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "core/cost.h"
#include "core/sched.h"
#include "harness.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define FZ_MAX_READ (64u << 20)

void fz_die(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  fprintf(stderr, "fuzz harness: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

uint64_t fz_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fz_quiet(void) {
  signal(SIGPIPE, SIG_IGN);
  /* Errors too: a harness provokes them on purpose. */
  mlfq_log_init("fuzz", MLFQ_LOG_ERROR, open("/dev/null", O_WRONLY));
}

void fz_pump(uv_loop_t *loop, int ms) {
  struct pollfd pfd;
  int t = uv_backend_timeout(loop);

  if (t < 0 || t > ms)
    t = ms;
  pfd.fd = uv_backend_fd(loop);
  pfd.events = POLLIN;
  pfd.revents = 0;
  if (t > 0)
    (void)poll(&pfd, 1, t);
  uv_run(loop, UV_RUN_NOWAIT);
}

size_t fz_unread(int fd) {
  int n = 0;

  if (fd < 0 || ioctl(fd, FIONREAD, &n) != 0 || n < 0)
    return 0;
  return (size_t)n;
}

static void nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
    fz_die("fcntl: %s", strerror(errno));
}

int fz_listen(int *port) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int fd, one = 1;

  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fz_die("socket: %s", strerror(errno));
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    fz_die("listen: %s", strerror(errno));
  nonblock(fd);
  *port = ntohs(a.sin_port);
  return fd;
}

void fz_peer_adopt(fz_peer_t *p, int fd) {
  int one = 1;

  p->fd = fd;
  p->eof = 0;
  mlfq_buf_init(&p->in, FZ_MAX_READ);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  nonblock(fd);
}

void fz_peer_connect(fz_peer_t *p, int port) {
  struct sockaddr_in a;
  int fd;

  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fz_die("socket: %s", strerror(errno));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  /* The listener's backlog completes the handshake without the loop. The
   * socket is non-blocking first: libFuzzer's SIGALRM would interrupt a
   * blocking connect. */
  nonblock(fd);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    int e = 0, n;

    if (errno != EINPROGRESS && errno != EINTR)
      fz_die("connect: %s", strerror(errno));
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do
      n = poll(&pfd, 1, FZ_DEADLINE_MS);
    while (n < 0 && errno == EINTR);
    if (n != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 || e)
      fz_die("connect: %s", strerror(e ? e : ETIMEDOUT));
  }
  fz_peer_adopt(p, fd);
}

void fz_peer_close(fz_peer_t *p) {
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  p->eof = 1;
  mlfq_buf_free(&p->in);
}

int fz_peer_write(fz_peer_t *p, uv_loop_t *loop, const void *buf, size_t len) {
  const uint8_t *b = buf;
  uint64_t deadline = fz_now_ms() + FZ_DEADLINE_MS;
  ssize_t n;

  while (len > 0) {
    n = send(p->fd, b, len, MSG_NOSIGNAL);
    if (n > 0) {
      b += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return -1; /* the peer has gone: what it did with the rest is moot */
    if (fz_now_ms() > deadline)
      fz_die("write: the peer has not read for %d ms", FZ_DEADLINE_MS);
    /* Full: let the loop read, and read what it wrote us meanwhile. */
    fz_pump(loop, 1);
    fz_peer_read(p);
  }
  return 0;
}

void fz_peer_read(fz_peer_t *p) {
  uint8_t *d;
  ssize_t n;

  while (p->fd >= 0 && !p->eof) {
    d = mlfq_buf_reserve(&p->in, 65536, NULL);
    if (d == NULL)
      fz_die("read: more than %u bytes unconsumed", FZ_MAX_READ);
    n = recv(p->fd, d, 65536, 0);
    if (n > 0) {
      mlfq_buf_commit(&p->in, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    p->eof = 1; /* 0: EOF; ECONNRESET and the like: gone too */
  }
}

size_t fz_peer_client_frames(fz_peer_t *p,
                             void (*fn)(void *ud, const Mlfq__ClientMessage *m),
                             void *ud) {
  Mlfq__ClientMessage *m;
  const uint8_t *payload;
  size_t plen, count = 0;
  long n;

  fz_peer_read(p);
  for (;;) {
    n = mlfq_frame_decode(p->in.data, p->in.len, FZ_MAX_READ, &payload, &plen);
    if (n == 0)
      break;
    if (n < 0)
      fz_die("the router sent a bad frame header");
    m = mlfq__client_message__unpack(NULL, plen, payload);
    if (m == NULL || m->msg_case == MLFQ__CLIENT_MESSAGE__MSG__NOT_SET)
      fz_die("the router sent a frame that is not a ClientMessage");
    fn(ud, m);
    mlfq__client_message__free_unpacked(m, NULL);
    mlfq_buf_consume(&p->in, (size_t)n);
    count++;
  }
  return count;
}

size_t fz_peer_server_frames(fz_peer_t *p, int want, size_t *nwant) {
  Mlfq__ServerMessage *m;
  const uint8_t *payload;
  size_t plen, count = 0;
  long n;

  fz_peer_read(p);
  for (;;) {
    n = mlfq_frame_decode(p->in.data, p->in.len, FZ_MAX_READ, &payload, &plen);
    if (n == 0)
      break;
    if (n < 0)
      fz_die("the server sent a bad frame header");
    m = mlfq__server_message__unpack(NULL, plen, payload);
    if (m == NULL || m->msg_case == MLFQ__SERVER_MESSAGE__MSG__NOT_SET)
      fz_die("the server sent a frame that is not a ServerMessage");
    if (nwant != NULL && (int)m->msg_case == want)
      (*nwant)++;
    mlfq__server_message__free_unpacked(m, NULL);
    mlfq_buf_consume(&p->in, (size_t)n);
    count++;
  }
  return count;
}

static void put(mlfq_buf_t *b, Mlfq__ClientMessage *m) {
  if (mlfq_wire_put_client(b, m) != 0)
    fz_die("out of memory");
}

void fz_put_hello(mlfq_buf_t *b) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;

  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = "fuzz";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  put(b, &m);
}

void fz_put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;

  s.id = id;
  s.input_length = in;
  s.output_length = out;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  put(b, &m);
}

void fz_put_cancel(mlfq_buf_t *b, uint64_t id) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Cancel k = MLFQ__CANCEL__INIT;

  k.id = id;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m.cancel = &k;
  put(b, &m);
}

void fz_put_stats(mlfq_buf_t *b) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  put(b, &m);
}

void fz_put_welcome(mlfq_buf_t *b, uint32_t version, const char *server_id,
                    const char *server_version) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  mlfq_limits_t lim = {1, 64, 4096, 32, 65536, 64};
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t p;
  mlfq_wire_config_t wc;
  mlfq_cost_t cost;
  char err[256];

  mlfq_sched_config_init(&cfg);
  if (mlfq_cost_linear(&cost, 1, 0.01, 2) != 0 ||
      mlfq_sched_resolve(&p, &cfg, &cost, err, sizeof(err)) != 0 ||
      mlfq_wire_config_init(&wc, &cfg, &p, &cost, &lim) != 0)
    fz_die("config");
  w.protocol_version = version;
  w.server_id = (char *)server_id;
  w.server_version = (char *)server_version;
  w.config = &wc.config;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  if (mlfq_wire_put_server(b, &m) != 0)
    fz_die("out of memory");
  mlfq_wire_config_free(&wc);
  mlfq_cost_free(&cost);
}

char *fz_copy(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);

  if (buf != NULL && size > 0)
    memcpy(buf, data, size);
  return buf;
}
