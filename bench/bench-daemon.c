/* bench-daemon: load on a running mlfqd, over real TCP, measuring what the
 * daemon sustains. bench/run.sh starts the daemon with the options each
 * mode needs (see docs/BENCHMARKS.md) and passes its address.
 *
 *   --mode requests   one connection, N one-token requests pipelined with
 *                     a window in flight: completed requests per second
 *   --mode tokens     C connections, each on its own thread, N requests of
 *                     L tokens each, a window per connection: tokens/s
 *   --mode lateness   keeps every engine busy with requests of L tokens,
 *                     then reads the daemon's timer lateness from Stats
 *   --mode memory     submits N requests that cannot finish and reads the
 *                     daemon's RSS (from /proc/PID/status) before and after
 *
 * Prints one key=value line. Wall time comes from CLOCK_MONOTONIC. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "net/peer.h"
#include "wire/frame.h"
#include "wire/wire.h"

typedef struct {
  const char *mode;
  char host[64];
  int port;
  long n;
  long len;
  long window;
  int conns;
  long pid;
} opts_t;

typedef struct {
  const opts_t *o;
  long tokens;
  long done;
  long errors;
  int rc;
} worker_t;

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "bench-daemon: %s: %s\n", what, mlfq_strerror(rc));
  exit(1);
}

static void put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;
  int rc;

  s.id = id;
  s.input_length = in;
  s.output_length = out;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  rc = mlfq_wire_put_client(b, &m);
  if (rc)
    die("encode", rc);
}

static void connect_hello(const opts_t *o, mlfq_peer_t *p) {
  char err[256];
  int rc;

  rc = mlfq_peer_connect(p, o->host, o->port, 5000, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "bench-daemon: %s\n", err);
    exit(1);
  }
  rc = mlfq_peer_hello(p, "bench-daemon", NULL, 5000);
  if (rc)
    die("hello", rc);
}

/* Sends n requests of len tokens with at most window in flight, reading
 * replies as they come; counts tokens and Dones. */
static void *run_load(void *arg) {
  worker_t *w = arg;
  const opts_t *o = w->o;
  Mlfq__ServerMessage *m;
  mlfq_peer_t p;
  mlfq_buf_t b;
  long sent = 0, inflight = 0, chunk;
  int rc;

  connect_hello(o, &p);
  mlfq_buf_init(&b, 64u << 20);
  while (w->done + w->errors < o->n) {
    chunk = 0;
    while (sent < o->n && inflight < o->window && chunk < 1024) {
      put_submit(&b, (uint64_t)sent + 1, 16, (uint32_t)o->len);
      sent++;
      inflight++;
      chunk++;
    }
    if (b.len > 0) {
      rc = mlfq_peer_send_raw(&p, b.data, b.len);
      if (rc)
        die("send", rc);
      mlfq_buf_consume(&b, b.len);
    }
    /* Read until the window has room for a good chunk again. */
    do {
      rc = mlfq_peer_recv(&p, &m, 30000);
      if (rc)
        die("recv", rc);
      if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_TOKEN) {
        w->tokens++;
      } else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_DONE) {
        w->done++;
        inflight--;
      } else if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR) {
        w->errors++;
        inflight--;
      }
      mlfq__server_message__free_unpacked(m, NULL);
    } while (inflight > 0 &&
             (sent == o->n || inflight > o->window - o->window / 4));
  }
  mlfq_buf_free(&b);
  mlfq_peer_close(&p);
  return NULL;
}

static Mlfq__ServerMessage *stats(mlfq_peer_t *p) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;
  Mlfq__ServerMessage *r;
  int rc;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  rc = mlfq_peer_send(p, &m);
  for (;;) {
    if (rc == 0)
      rc = mlfq_peer_recv(p, &r, 30000);
    if (rc)
      die("stats", rc);
    if (r->msg_case == MLFQ__SERVER_MESSAGE__MSG_STATS)
      return r;
    mlfq__server_message__free_unpacked(r, NULL);
  }
}

static long rss_kb(long pid) {
  char path[64], line[256];
  long kb = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%ld/status", pid);
  f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "bench-daemon: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

static void mode_load(const opts_t *o) {
  worker_t *w = calloc((size_t)o->conns, sizeof(*w));
  pthread_t *t = calloc((size_t)o->conns, sizeof(*t));
  long tokens = 0, done = 0, errors = 0;
  double t0, secs;
  int i;

  if (w == NULL || t == NULL)
    die("alloc", MLFQ_ENOMEM);
  t0 = now_s();
  for (i = 0; i < o->conns; i++) {
    w[i].o = o;
    if (pthread_create(&t[i], NULL, run_load, &w[i]) != 0)
      die("thread", MLFQ_EINVAL);
  }
  for (i = 0; i < o->conns; i++) {
    pthread_join(t[i], NULL);
    tokens += w[i].tokens;
    done += w[i].done;
    errors += w[i].errors;
  }
  secs = now_s() - t0;
  printf("bench=daemon mode=%s conns=%d requests=%ld tokens_per_request=%ld "
         "window=%ld done=%ld errors=%ld tokens=%ld seconds=%.6f "
         "requests_per_s=%.0f tokens_per_s=%.0f\n",
         o->mode, o->conns, o->n * o->conns, o->len, o->window, done, errors,
         tokens, secs, (double)done / secs, (double)tokens / secs);
  free(w);
  free(t);
}

static void mode_lateness(const opts_t *o) {
  Mlfq__ServerMessage *s;
  mlfq_peer_t p;

  mode_load(o);
  connect_hello(o, &p);
  s = stats(&p);
  printf("bench=daemon mode=lateness workers=%zu iterations=%llu "
         "p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
         s->stats->n_worker_busy, (unsigned long long)s->stats->iterations,
         s->stats->lateness_p50_us, s->stats->lateness_p99_us,
         s->stats->lateness_max_us);
  mlfq__server_message__free_unpacked(s, NULL);
  mlfq_peer_close(&p);
}

static void mode_memory(const opts_t *o) {
  Mlfq__ServerMessage *s;
  mlfq_peer_t p;
  mlfq_buf_t b;
  long before, after, i;
  int rc;

  connect_hello(o, &p);
  s = stats(&p); /* the daemon is up and settled */
  mlfq__server_message__free_unpacked(s, NULL);
  before = rss_kb(o->pid);
  mlfq_buf_init(&b, 64u << 20);
  for (i = 0; i < o->n; i++) {
    put_submit(&b, (uint64_t)i + 1, 16, 1000000);
    if (b.len > (1u << 20) || i + 1 == o->n) {
      rc = mlfq_peer_send_raw(&p, b.data, b.len);
      if (rc)
        die("send", rc);
      mlfq_buf_consume(&b, b.len);
    }
  }
  /* Stats answers after every Submit before it was handled. */
  s = stats(&p);
  after = rss_kb(o->pid);
  printf("bench=daemon mode=memory requests=%ld pending=%llu rejected=%llu "
         "rss_before_kb=%ld rss_after_kb=%ld bytes_per_request=%.1f\n",
         o->n, (unsigned long long)(s->stats->running + s->stats->waiting),
         (unsigned long long)s->stats->rejected, before, after,
         (double)(after - before) * 1024.0 / (double)o->n);
  mlfq__server_message__free_unpacked(s, NULL);
  mlfq_buf_free(&b);
  mlfq_peer_close(&p);
}

int main(int argc, char **argv) {
  opts_t o;
  int i;

  memset(&o, 0, sizeof(o));
  o.mode = "requests";
  o.n = 100000;
  o.len = 1;
  o.window = 4096;
  o.conns = 1;
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--mode") == 0)
      o.mode = argv[i + 1];
    else if (strcmp(argv[i], "--server") == 0) {
      if (mlfq_peer_parse_addr(argv[i + 1], o.host, sizeof(o.host), &o.port))
        die("--server", MLFQ_EINVAL);
    } else if (strcmp(argv[i], "--requests") == 0)
      o.n = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--tokens") == 0)
      o.len = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--window") == 0)
      o.window = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--conns") == 0)
      o.conns = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--pid") == 0)
      o.pid = atol(argv[i + 1]);
    else {
      fprintf(stderr, "bench-daemon: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (i != argc || o.port == 0 || o.n < 1 || o.len < 1 || o.window < 1 ||
      o.conns < 1) {
    fprintf(stderr, "usage: bench-daemon --server HOST:PORT [--mode "
                    "requests|tokens|lateness|memory] [--requests N] "
                    "[--tokens L] [--window W] [--conns C] [--pid PID]\n");
    return 2;
  }
  if (strcmp(o.mode, "requests") == 0 || strcmp(o.mode, "tokens") == 0)
    mode_load(&o);
  else if (strcmp(o.mode, "lateness") == 0)
    mode_lateness(&o);
  else if (strcmp(o.mode, "memory") == 0 && o.pid > 0)
    mode_memory(&o);
  else {
    fprintf(stderr, "bench-daemon: bad --mode or missing --pid\n");
    return 2;
  }
  return 0;
}
