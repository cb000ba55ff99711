/* bench-http: load on a running mlfqd's HTTP front door (docs/HTTP.md),
 * over real TCP: C connections at a time, N completions in all, each of L
 * tokens. Each completion has a connection of its own ("Connection:
 * close"), or with --keep-alive each connection carries one completion
 * after another. bench/run.sh starts the daemon with a zero-time cost
 * model, so what is measured is the front door itself.
 *
 *   --mode stream   "stream": true; one server-sent event per token
 *   --mode plain    one JSON body per completion
 *
 * Every response is checked: status 200, L token events and "[DONE]" last
 * (stream), or a body with "completion_tokens":L (plain); any other counts
 * as an error. A response ends where its framing says (Content-Length, the
 * last chunk) or, without keep-alive, where the server closes. Prints one
 * key=value line; with --server-pid, also the CPU time the server spent
 * (/proc/PID/stat, user and system) per request and per token. Wall time
 * is CLOCK_MONOTONIC. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024

typedef struct {
  int fd;   /* -1: free */
  char *in; /* the response so far */
  size_t len, cap;
} slot_t;

typedef struct {
  int stream;
  int keep_alive;
  struct sockaddr_in addr;
  long n, len;
  int conns;
  long server_pid; /* 0: not measured */
} opts_t;

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "bench-http: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* The CPU seconds (user and system) process pid has used. */
static double cpu_s(long pid) {
  char path[64], buf[1024], *p;
  unsigned long ut, st;
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  f = fopen(path, "r");
  if (f == NULL)
    die(path);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  p = strrchr(buf, ')'); /* the name may hold spaces */
  if (p == NULL || sscanf(p + 2,
                          "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                          "%*u %lu %lu",
                          &ut, &st) != 2) {
    errno = EINVAL;
    die(path);
  }
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Sends the request, whole, in one write. */
static void send_req(const slot_t *s, const char *req, size_t n) {
  if (send(s->fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
    die("send");
}

/* Opens a connection, sends the request and adds it to the epoll set ep. */
static void start(int ep, slot_t *s, const opts_t *o, const char *req,
                  size_t n) {
  struct epoll_event ev;
  int one = 1;

  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->fd < 0)
    die("socket");
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(s->fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) != 0)
    die("connect");
  send_req(s, req, n);
  s->len = 0;
  ev.events = EPOLLIN;
  ev.data.ptr = s;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) != 0)
    die("epoll_ctl");
}

static long count(const char *s, const char *what) {
  size_t n = strlen(what);
  long k = 0;

  while ((s = strstr(s, what)) != NULL) {
    k++;
    s += n;
  }
  return k;
}

/* Whether the response in s is a whole, good one. */
static int good(const slot_t *s, const opts_t *o) {
  char want[64];
  const char *done;

  if (strncmp(s->in, "HTTP/1.1 200 ", 13) != 0)
    return 0;
  if (!o->stream) {
    snprintf(want, sizeof(want), "\"completion_tokens\":%ld,", o->len);
    return strstr(s->in, want) != NULL;
  }
  done = strstr(s->in, "data: [DONE]\n\n");
  return count(s->in, "data: {") == o->len && done != NULL &&
         strstr(done + 1, "data: ") == NULL;
}

/* Parses argv into o, the server's host into host[64]. Returns 0, or 2
 * after saying why on stderr. */
static int parse_opts(int argc, char **argv, opts_t *o, char *host) {
  int i, port = 0;

  memset(o, 0, sizeof(*o));
  o->stream = 1;
  o->n = 1000;
  o->len = 64;
  o->conns = 8;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--keep-alive") == 0) {
      o->keep_alive = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "bench-http: %s needs a value\n", argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--server") == 0) {
      if (sscanf(argv[++i], "%63[^:]:%d", host, &port) != 2 ||
          inet_pton(AF_INET, host, &o->addr.sin_addr) != 1) {
        fprintf(stderr, "bench-http: --server: not a numeric HOST:PORT\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--mode") == 0) {
      i++;
      if (strcmp(argv[i], "stream") != 0 && strcmp(argv[i], "plain") != 0) {
        fprintf(stderr, "bench-http: --mode: stream or plain\n");
        return 2;
      }
      o->stream = strcmp(argv[i], "stream") == 0;
    } else if (strcmp(argv[i], "--requests") == 0) {
      o->n = atol(argv[++i]);
    } else if (strcmp(argv[i], "--tokens") == 0) {
      o->len = atol(argv[++i]);
    } else if (strcmp(argv[i], "--conns") == 0) {
      o->conns = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--server-pid") == 0) {
      o->server_pid = atol(argv[++i]);
    } else {
      fprintf(stderr, "bench-http: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (port <= 0 || o->n < 1 || o->len < 1 || o->conns < 1 ||
      o->conns > MAX_CONNS) {
    fprintf(stderr, "usage: bench-http --server HOST:PORT [--mode "
                    "stream|plain] [--requests N] [--tokens L] [--conns C "
                    "(1..1024)] [--keep-alive] [--server-pid PID]\n");
    return 2;
  }
  o->addr.sin_family = AF_INET;
  o->addr.sin_port = htons((uint16_t)port);
  return 0;
}

/* Whether the response in s (NUL-terminated) is whole by its framing: a
 * plain one's Content-Length, a stream's last chunk. */
static int framed_whole(const slot_t *s, const opts_t *o) {
  const char *end = strstr(s->in, "\r\n\r\n"), *cl;
  long n;

  if (end == NULL)
    return 0;
  if (o->stream)
    return s->len >= 5 && memcmp(s->in + s->len - 5, "0\r\n\r\n", 5) == 0;
  cl = strstr(s->in, "\r\nContent-Length: ");
  if (cl == NULL || cl > end || sscanf(cl + 18, "%ld", &n) != 1)
    return 0;
  return s->len >= (size_t)(end + 4 - s->in) + (size_t)n;
}

/* Reads what came on slot s; at the end of its response, checks it and,
 * with keep-alive and more to send (*started < o->n), sends the next
 * request, else frees the slot. Returns 1 when a response ended, counting
 * an error in *errors, else 0. */
static int on_readable(slot_t *s, const opts_t *o, const char *req, size_t n,
                       long *started, long *errors) {
  ssize_t r = recv(s->fd, s->in + s->len, s->cap - s->len, 0);

  if (r < 0 && errno == EINTR)
    return 0;
  if (r > 0 && s->len + (size_t)r < s->cap) {
    s->len += (size_t)r;
    s->in[s->len] = '\0';
    if (!o->keep_alive || !framed_whole(s, o))
      return 0;
    if (!good(s, o))
      (*errors)++;
    /* A server that closes (--http-max-requests) says so; the slot then
     * opens a new connection. */
    if (*started < o->n && strstr(s->in, "\r\nConnection: close\r\n") == NULL) {
      s->len = 0;
      send_req(s, req, n);
      (*started)++;
    } else {
      close(s->fd); /* done with this connection */
      s->fd = -1;
    }
    return 1;
  }
  /* closed (the end of a response without keep-alive), failed, or far too
   * long; with keep-alive the server never closes first */
  s->in[s->len] = '\0';
  if (r != 0 || o->keep_alive || !good(s, o))
    (*errors)++;
  close(s->fd); /* which takes it out of the epoll set */
  s->fd = -1;
  return 1;
}

int main(int argc, char **argv) {
  static slot_t slots[MAX_CONNS];
  struct epoll_event evs[MAX_CONNS];
  char body[256], req[512], host[64];
  long started = 0, finished = 0, errors = 0;
  double t0, secs, cpu0 = 0, cpu;
  opts_t o;
  size_t rn;
  int k, nev, ep;

  if (parse_opts(argc, argv, &o, host) != 0)
    return 2;
  snprintf(body, sizeof(body),
           "{\"prompt\":\"a b c d e f g h\",\"max_tokens\":%ld,"
           "\"stream\":%s}",
           o.len, o.stream ? "true" : "false");
  rn = (size_t)snprintf(req, sizeof(req),
                        "POST /v1/completions HTTP/1.1\r\nHost: %s\r\n"
                        "Content-Type: application/json\r\n%s"
                        "Content-Length: %zu\r\n\r\n%s",
                        host, o.keep_alive ? "" : "Connection: close\r\n",
                        strlen(body), body);

  for (k = 0; k < o.conns; k++) {
    slots[k].fd = -1;
    slots[k].cap = 4096 + (size_t)o.len * 256;
    slots[k].in = malloc(slots[k].cap + 1);
    if (slots[k].in == NULL)
      die("malloc");
  }
  ep = epoll_create1(0);
  if (ep < 0)
    die("epoll_create1");
  if (o.server_pid > 0)
    cpu0 = cpu_s(o.server_pid);
  t0 = now_s();
  while (finished < o.n) {
    for (k = 0; k < o.conns && started < o.n; k++)
      if (slots[k].fd < 0) {
        start(ep, &slots[k], &o, req, rn);
        started++;
      }
    nev = epoll_wait(ep, evs, o.conns, 30000);
    if (nev <= 0) {
      errno = nev == 0 ? ETIMEDOUT : errno;
      die("epoll_wait");
    }
    for (k = 0; k < nev; k++)
      finished += on_readable(evs[k].data.ptr, &o, req, rn, &started, &errors);
  }
  secs = now_s() - t0;
  printf("bench=http mode=%s keep_alive=%d conns=%d requests=%ld "
         "tokens_per_request=%ld done=%ld errors=%ld tokens=%ld seconds=%.6f "
         "requests_per_s=%.0f tokens_per_s=%.0f",
         o.stream ? "stream" : "plain", o.keep_alive, o.conns, o.n, o.len,
         finished - errors, errors, (finished - errors) * o.len, secs,
         (double)finished / secs, (double)((finished - errors) * o.len) / secs);
  if (o.server_pid > 0) {
    cpu = cpu_s(o.server_pid) - cpu0;
    printf(" server_cpu_s=%.2f server_us_per_request=%.2f "
           "server_us_per_token=%.3f",
           cpu, cpu * 1e6 / (double)finished,
           cpu * 1e6 / (double)(finished * o.len));
  }
  printf("\n");
  for (k = 0; k < o.conns; k++)
    free(slots[k].in);
  close(ep);
  return errors > 0;
}
