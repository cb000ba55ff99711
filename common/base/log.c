/* DESIGN
 *
 * Owns where the log goes, its level, the writer thread of the daemons
 * and the token bucket of the lines peers cause.
 *
 * A line is formatted on the caller's thread. Without a writer thread (a
 * program that never started one, a daemon before it detaches, or once
 * the writer has ended) it is written at once. With one, it is appended to
 * the pending half of two MLFQ_LOG_QUEUE_BYTES buffers and the writer is
 * woken: the writer swaps the halves under the mutex and writes its half
 * without it, so only the writer ever blocks in write(2) (stderr a pipe
 * nobody reads, a full disk) while the loop thread goes on serving. A line
 * that does not fit in the pending half is dropped and counted, and the
 * writer logs the count after the lines it was writing meanwhile. This is
 * redis's bio.c: the call that may block on a thread of its own.
 *
 * Lines peers can cause at will pass one token bucket first
 * (mlfq_log_peer), so a flood of bad connections costs a bounded number of
 * lines and leaves one count of what it suppressed. Strings peers choose
 * are logged escaped (mlfq_log_escape), so none can make a line of its
 * own.
 *
 * Threads: any thread logs; mlfq_log_init, mlfq_log_set_output,
 * mlfq_log_start and mlfq_log_stop belong to the main thread. Everything
 * in g after `mu` is guarded by it; the writer owns the half it swapped
 * out (`spare`) until it takes the mutex again.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"

static const char *const names[] = {"error", "warn", "info", "debug"};

static char halves[2][MLFQ_LOG_QUEUE_BYTES];

static struct {
  const char *prog;
  mlfq_log_level_t level;
  pthread_mutex_t mu;
  pthread_cond_t work; /* to the writer: lines, drops, or stop */
  pthread_cond_t done; /* from the writer: it has ended */
  pthread_t thread;
  int fd;       /* -1: stderr */
  int started;  /* a writer thread was started and not joined */
  int running;  /* lines go to the writer: started and not ended */
  int stopping; /* the writer ends once the queue is empty */
  int ended;
  char *pending; /* lines queued for the writer: len bytes */
  size_t len;
  char *spare; /* the writer's half */
  uint64_t dropped;
  mlfq_log_bucket_t peers;
} g = {.prog = "mlfq",
       .level = MLFQ_LOG_INFO,
       .mu = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER,
       .fd = -1,
       .peers = {MLFQ_LOG_PEER_BURST, MLFQ_LOG_PEER_PER_S, MLFQ_LOG_PEER_BURST,
                 0, 0}};

void mlfq_log_init(const char *prog, mlfq_log_level_t level, int fd) {
  g.prog = prog;
  g.level = level;
  g.fd = fd;
}

void mlfq_log_set_output(int fd) {
  pthread_mutex_lock(&g.mu);
  g.fd = fd;
  pthread_mutex_unlock(&g.mu);
}

int mlfq_log_parse_level(const char *s, mlfq_log_level_t *l) {
  int i;

  for (i = 0; i <= MLFQ_LOG_DEBUG; i++) {
    if (strcmp(s, names[i]) == 0) {
      *l = (mlfq_log_level_t)i;
      return 0;
    }
  }
  return MLFQ_EINVAL;
}

int mlfq_log_enabled(mlfq_log_level_t level) { return level <= g.level; }

void mlfq_log_bucket_init(mlfq_log_bucket_t *b, double burst, double per_s) {
  b->burst = burst;
  b->per_s = per_s;
  b->tokens = burst;
  b->last_ns = 0;
  b->suppressed = 0;
}

int mlfq_log_bucket_take(mlfq_log_bucket_t *b, uint64_t now_ns) {
  if (now_ns > b->last_ns) {
    b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * b->per_s;
    if (b->tokens > b->burst)
      b->tokens = b->burst;
    b->last_ns = now_ns;
  }
  if (b->tokens >= 1) {
    b->tokens -= 1;
    return 1;
  }
  b->suppressed++;
  return 0;
}

/* The escape of byte c (mlfq_log_escape) in e (5 bytes); its length. */
static size_t escape(unsigned char c, char *e) {
  if (c == '\n' || c == '\r' || c == '\t' || c == '\\') {
    e[0] = '\\';
    e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\';
    return 2;
  }
  if (c >= 0x20 && c < 0x7f) {
    e[0] = (char)c;
    return 1;
  }
  snprintf(e, 5, "\\x%02x", c);
  return 4;
}

const char *mlfq_log_escape(const void *p, size_t n, char *out, size_t outlen) {
  const unsigned char *s = p;
  size_t i, k, len, total = 0;
  char e[5];

  if (outlen == 0)
    return out;
  for (i = 0; i < n && total < outlen; i++)
    total += escape(s[i], e);
  /* All of it, or what fits before "..." and the NUL. */
  for (i = 0, k = 0; i < n; i++, k += len) {
    len = escape(s[i], e);
    if (k + len + (total < outlen ? 1 : 4) > outlen)
      break;
    memcpy(out + k, e, len);
  }
  if (i < n && k + 4 <= outlen) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
  return out;
}

static uint64_t now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Formats a whole line, cut to MLFQ_LOG_LINE_BYTES - 1 bytes, newline
 * included, into line (MLFQ_LOG_LINE_BYTES); returns its length. */
__attribute__((format(printf, 3, 0))) static size_t
vformat(char *line, mlfq_log_level_t level, const char *fmt, va_list ap) {
  struct timeval tv;
  struct tm tm;
  char stamp[32];
  size_t len;
  int n, m;

  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  n = snprintf(line, MLFQ_LOG_LINE_BYTES, "%s.%03dZ %s[%d] %s: ", stamp,
               (int)(tv.tv_usec / 1000), g.prog, (int)getpid(), names[level]);
  if (n < 0)
    n = 0;
  if (n > MLFQ_LOG_LINE_BYTES - 2)
    n = MLFQ_LOG_LINE_BYTES - 2;
  m = vsnprintf(line + n, (size_t)(MLFQ_LOG_LINE_BYTES - 1 - n), fmt, ap);
  len = (size_t)n + (m > 0 ? (size_t)m : 0);
  if (len > MLFQ_LOG_LINE_BYTES - 2)
    len = MLFQ_LOG_LINE_BYTES - 2;
  line[len++] = '\n';
  return len;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static size_t
format(char *line, mlfq_log_level_t level, const char *fmt, ...) {
  va_list ap;
  size_t len;

  va_start(ap, fmt);
  len = vformat(line, level, fmt, ap);
  va_end(ap);
  return len;
}

/* Writes n bytes of p to fd, waiting while it is full; gives up on an
 * error (the lines are lost: there is nowhere to say so). */
static void write_all(int fd, const char *p, size_t n) {
  struct pollfd pfd;
  ssize_t w;

  while (n > 0) {
    w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pfd.fd = fd;
      pfd.events = POLLOUT;
      (void)poll(&pfd, 1, -1);
    } else if (w == 0 || errno != EINTR) {
      return;
    }
  }
}

static int out_fd(void) { return g.fd >= 0 ? g.fd : STDERR_FILENO; }

/* Writes line now, or queues it for the writer (dropped if it does not
 * fit). With g.mu held. */
static void emit(const char *line, size_t len) {
  if (!g.running) {
    write_all(out_fd(), line, len);
    return;
  }
  if (g.len + len > MLFQ_LOG_QUEUE_BYTES) {
    g.dropped++;
    return;
  }
  memcpy(g.pending + g.len, line, len);
  g.len += len;
  pthread_cond_signal(&g.work);
}

/* Logs the count of suppressed peer lines, if any. With g.mu held. */
static void emit_suppressed(void) {
  char note[MLFQ_LOG_LINE_BYTES];

  if (g.peers.suppressed == 0)
    return;
  emit(note, format(note, MLFQ_LOG_WARN, "(%llu similar lines suppressed)",
                    (unsigned long long)g.peers.suppressed));
  g.peers.suppressed = 0;
}

__attribute__((format(printf, 3, 0))) static void
vlog(mlfq_log_level_t level, int peer, const char *fmt, va_list ap) {
  char line[MLFQ_LOG_LINE_BYTES];
  size_t len;

  if (level > g.level)
    return;
  len = vformat(line, level, fmt, ap);
  pthread_mutex_lock(&g.mu);
  if (peer) {
    if (!mlfq_log_bucket_take(&g.peers, now_ns())) {
      pthread_mutex_unlock(&g.mu);
      return;
    }
    emit_suppressed();
  }
  emit(line, len);
  pthread_mutex_unlock(&g.mu);
}

void mlfq_log(mlfq_log_level_t level, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vlog(level, 0, fmt, ap);
  va_end(ap);
}

void mlfq_log_peer(mlfq_log_level_t level, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vlog(level, 1, fmt, ap);
  va_end(ap);
}

static void *writer(void *arg) {
  char note[MLFQ_LOG_LINE_BYTES];
  uint64_t dropped;
  size_t n;
  char *out;
  int fd;

  (void)arg;
  pthread_mutex_lock(&g.mu);
  for (;;) {
    while (g.len == 0 && g.dropped == 0 && !g.stopping)
      pthread_cond_wait(&g.work, &g.mu);
    if (g.len == 0 && g.dropped == 0)
      break;
    out = g.pending;
    n = g.len;
    g.pending = g.spare;
    g.spare = out;
    g.len = 0;
    dropped = g.dropped;
    g.dropped = 0;
    fd = out_fd();
    pthread_mutex_unlock(&g.mu);
    write_all(fd, out, n);
    if (dropped > 0)
      write_all(fd, note,
                format(note, MLFQ_LOG_WARN,
                       "(%llu lines dropped: the log output could not keep "
                       "up)",
                       (unsigned long long)dropped));
    pthread_mutex_lock(&g.mu);
  }
  /* In the same hold of the mutex as the empty queue: a line logged from
   * now on is written at once, not queued for a writer that is gone (the
   * stop may take the mutex after other threads do). */
  g.running = 0;
  g.ended = 1;
  pthread_cond_signal(&g.done);
  pthread_mutex_unlock(&g.mu);
  return NULL;
}

int mlfq_log_start(void) {
  pthread_condattr_t attr;
  sigset_t all, old;
  int rc;

  if (g.started)
    return 0;
  rc = pthread_condattr_init(&attr);
  if (rc)
    return -rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(&g.done, &attr);
  pthread_condattr_destroy(&attr);
  if (rc)
    return -rc;
  pthread_mutex_lock(&g.mu);
  g.pending = halves[0];
  g.spare = halves[1];
  g.len = 0;
  g.dropped = 0;
  g.stopping = 0;
  g.ended = 0;
  g.started = 1;
  g.running = 1;
  pthread_mutex_unlock(&g.mu);
  /* Signals go to the other threads: the writer only writes. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&g.thread, NULL, writer, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    pthread_mutex_lock(&g.mu);
    g.started = 0;
    g.running = 0;
    pthread_mutex_unlock(&g.mu);
    pthread_cond_destroy(&g.done);
    return -rc;
  }
  (void)pthread_setname_np(g.thread, MLFQ_LOG_THREAD_NAME);
  return 0;
}

int mlfq_log_stop(double timeout_s) {
  struct timespec deadline;
  int rc = 0;

  if (timeout_s < 0)
    timeout_s = 0;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)timeout_s;
  deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&g.mu);
  emit_suppressed();
  if (!g.started) {
    pthread_mutex_unlock(&g.mu);
    return 0;
  }
  g.stopping = 1;
  pthread_cond_signal(&g.work);
  while (!g.ended && rc == 0)
    rc = pthread_cond_timedwait(&g.done, &g.mu, &deadline);
  if (!g.ended) {
    pthread_mutex_unlock(&g.mu);
    return -ETIMEDOUT;
  }
  g.started = 0;
  pthread_mutex_unlock(&g.mu);
  pthread_join(g.thread, NULL);
  pthread_cond_destroy(&g.done);
  return 0;
}
