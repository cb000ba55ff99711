/* common/base/log.c: the peer lines' bucket, the escape, the writer. */
/* The writer thread keeps a blocked output from blocking the logging
 * thread; its drop count, and its bounded stop. Each test runs in its own
 * process, so the log's process-wide state is its own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "base/log.h"

#include "task.h"

#define SEC 1000000000ull

TEST(log, bucket_burst_then_rate) {
  mlfq_log_bucket_t b;
  int i;

  mlfq_log_bucket_init(&b, 20, 10);
  for (i = 0; i < 20; i++)
    ASSERT_EQ(mlfq_log_bucket_take(&b, 5 * SEC), 1);
  ASSERT_EQ(mlfq_log_bucket_take(&b, 5 * SEC), 0);
  ASSERT_EQ(mlfq_log_bucket_take(&b, 5 * SEC + SEC / 20), 0);
  ASSERT_EQ_U64(b.suppressed, 2);
  /* a tenth of a second later: one more */
  ASSERT_EQ(mlfq_log_bucket_take(&b, 5 * SEC + SEC / 10), 1);
  ASSERT_EQ(mlfq_log_bucket_take(&b, 5 * SEC + SEC / 10), 0);
  /* an hour later: the burst again, no more */
  for (i = 0; i < 20; i++)
    ASSERT_EQ(mlfq_log_bucket_take(&b, 3605 * SEC), 1);
  ASSERT_EQ(mlfq_log_bucket_take(&b, 3605 * SEC), 0);
  /* a clock that does not move adds nothing */
  ASSERT_EQ(mlfq_log_bucket_take(&b, 3604 * SEC), 0);
}

/* A thread that reads a pipe to its end. */
typedef struct {
  int fd;
  char *buf;
  size_t len, cap;
  pthread_t th;
} reader_t;

/* Reads fd to its end (keeping at most cap - 1 bytes). */
static void *read_all(void *arg) {
  reader_t *r = arg;
  char scratch[4096];
  ssize_t n;

  for (;;) {
    n = read(r->fd, scratch, sizeof(scratch));
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (r->len + (size_t)n < r->cap) {
      memcpy(r->buf + r->len, scratch, (size_t)n);
      r->len += (size_t)n;
    }
  }
  r->buf[r->len] = '\0';
  return NULL;
}

/* Starts r reading fd on a thread of its own, keeping at most cap - 1
 * bytes. */
static void reader_start(reader_t *r, int fd, size_t cap) {
  r->fd = fd;
  r->cap = cap;
  r->len = 0;
  r->buf = malloc(cap);
  ASSERT(r->buf != NULL);
  ASSERT_EQ(pthread_create(&r->th, NULL, read_all, r), 0);
}

/* Closes the write end of the pipe p that r reads, joins r and closes the
 * read end: r->buf holds what was written. */
static void reader_join(reader_t *r, int p[2]) {
  close(p[1]);
  ASSERT_EQ(pthread_join(r->th, NULL), 0);
  close(p[0]);
}

/* Makes p a pipe of 4 kB, full after a few dozen lines, and starts the log
 * on it with its writer thread. */
static void log_on_small_pipe(int p[2]) {
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
  mlfq_log_init("test", MLFQ_LOG_INFO, p[1]);
  ASSERT_OK(mlfq_log_start());
}

/* Counts the lines of s that contain what, and adds up the N of the lines
 * "... (N <count>" into *sum. */
static long count(const char *s, const char *what, const char *counted,
                  unsigned long long *sum) {
  char line[MLFQ_LOG_LINE_BYTES];
  unsigned long long n;
  const char *end, *p;
  long lines = 0;

  for (; *s != '\0'; s = end + 1) {
    end = strchr(s, '\n');
    ASSERT(end != NULL);
    snprintf(line, sizeof(line), "%.*s", (int)(end - s), s);
    lines += strstr(line, what) != NULL;
    p = strchr(line, '(');
    if (p != NULL && strstr(p, counted) != NULL && sscanf(p, "(%llu ", &n) == 1)
      *sum += n;
  }
  return lines;
}

/* A peer's string cannot make a line of its own: control bytes, the
 * backslash and bytes from 0x7f are escaped, and what does not fit is cut
 * at a whole escape, with "...". */
TEST(log, escape) {
  static const char bytes[] = "a\nERROR forged\r\t\\ \x01\x7f\xc3\xa9'\"";
  char out[64], tiny[8];

  ASSERT_STR_EQ(mlfq_log_escape(bytes, sizeof(bytes) - 1, out, sizeof(out)),
                "a\\nERROR forged\\r\\t\\\\ \\x01\\x7f\\xc3\\xa9'\"");
  ASSERT_STR_EQ(mlfq_log_escape("", 0, out, sizeof(out)), "");
  ASSERT_STR_EQ(mlfq_log_escape("1234567", 7, tiny, sizeof(tiny)), "1234567");
  ASSERT_STR_EQ(mlfq_log_escape("12345678", 8, tiny, sizeof(tiny)), "1234...");
  ASSERT_STR_EQ(mlfq_log_escape("12\n45678", 8, tiny, sizeof(tiny)),
                "12\\n...");
  ASSERT_STR_EQ(mlfq_log_escape("123\x01", 4, tiny, sizeof(tiny)), "123\\x01");
  ASSERT_STR_EQ(mlfq_log_escape("12\x01xy", 5, tiny, sizeof(tiny)), "12...");
  ASSERT_STR_EQ(mlfq_log_escape("1234", 4, tiny, 3), "");
}

/* The writer thread takes what the output cannot: with the log on a pipe
 * nobody reads, 5,000 lines are logged without blocking (an alarm ends the
 * test if it does); those that did not fit are dropped, and counted in a
 * line the writer writes once the pipe is read. */
TEST(log, full_output_drops_and_counts) {
  reader_t r;
  unsigned long long dropped = 0;
  long lines;
  int p[2], i;

  log_on_small_pipe(p);
  alarm(60);
  for (i = 0; i < 5000; i++)
    mlfq_log(MLFQ_LOG_INFO, "line %d", i);
  alarm(0);
  reader_start(&r, p[0], 4 << 20);
  ASSERT_OK(mlfq_log_stop(30));
  reader_join(&r, p);
  lines = count(r.buf, "info: line ", "lines dropped", &dropped);
  ASSERT_GT(dropped, 0);
  ASSERT_GT(lines, 0);
  ASSERT_EQ(lines + (long)dropped, 5000);
  free(r.buf);
}

/* A writer blocked in write(2) does not hold up the stop for more than its
 * bound; once the output moves, a second stop ends it and the log is
 * synchronous again. */
TEST(log, stop_is_bounded) {
  int64_t start;
  reader_t r;
  int p[2], i;

  log_on_small_pipe(p);
  for (i = 0; i < 1000; i++)
    mlfq_log(MLFQ_LOG_INFO, "line %d", i);
  start = tc_now_ms();
  ASSERT_EQ(mlfq_log_stop(0.2), -ETIMEDOUT);
  ASSERT_GE(tc_now_ms() - start, 150);
  reader_start(&r, p[0], 1 << 20);
  ASSERT_OK(mlfq_log_stop(30));
  mlfq_log(MLFQ_LOG_INFO, "after the stop");
  reader_join(&r, p);
  ASSERT_CONTAINS(r.buf, "info: line 0\n");
  ASSERT_CONTAINS(r.buf, "info: after the stop\n");
  free(r.buf);
}

/* 1 if a thread of this process is the log's writer, by its name in
 * /proc/self/task (a sanitizer may run threads of its own). */
static int writer_alive(void) {
  DIR *d = opendir("/proc/self/task");
  char path[300], comm[32];
  struct dirent *e;
  int found = 0;
  FILE *f;

  ASSERT(d != NULL);
  while (!found && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
    f = fopen(path, "r");
    if (f == NULL) /* that thread has just ended */
      continue;
    found = fgets(comm, sizeof(comm), f) != NULL &&
            strcmp(comm, MLFQ_LOG_THREAD_NAME "\n") == 0;
    fclose(f);
  }
  closedir(d);
  return found;
}

/* The writer ended with the log still marked as going to it until the
 * stop took the mutex again: a line logged in between (any thread, or, as
 * here, after a stop that timed out) was queued for a writer that was
 * gone, and neither written nor counted. Now the writer, as it ends, makes
 * the log synchronous. The writer's end is seen as its thread leaving
 * /proc/self/task. */
TEST(log, line_after_the_writer_ended_is_written) {
  int64_t deadline;
  reader_t r;
  int p[2], i;

  log_on_small_pipe(p);
  ASSERT(writer_alive());
  for (i = 0; i < 1000; i++)
    mlfq_log(MLFQ_LOG_INFO, "line %d", i);
  ASSERT_EQ(mlfq_log_stop(0.1), -ETIMEDOUT); /* the writer is blocked */
  reader_start(&r, p[0], 1 << 20);
  /* The reader runs until the pipe is closed; the writer ends once it
   * has written its queue. */
  deadline = tc_now_ms() + 30000;
  while (writer_alive()) {
    if (tc_left_ms(deadline) == 0)
      MLFQ_TEST_FAIL("the writer did not end within 30 s");
    usleep(1000);
  }
  mlfq_log(MLFQ_LOG_INFO, "after the writer ended");
  ASSERT_OK(mlfq_log_stop(30));
  reader_join(&r, p);
  ASSERT_CONTAINS(r.buf, "info: line 0\n");
  ASSERT_CONTAINS(r.buf, "info: after the writer ended\n");
  free(r.buf);
}

/* Lines about peers pass a burst, then are counted; the count is logged
 * before the next line that passes, or when the log stops. */
TEST(log, peer_lines_suppressed_and_counted) {
  unsigned long long suppressed = 0;
  int64_t start, elapsed;
  reader_t r;
  long passed;
  int p[2], i;

  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  reader_start(&r, p[0], 1 << 20);
  mlfq_log_init("test", MLFQ_LOG_INFO, p[1]);
  start = tc_now_ms();
  for (i = 0; i < 1000; i++)
    mlfq_log_peer(MLFQ_LOG_INFO, "peer %d", i);
  elapsed = tc_now_ms() - start;
  mlfq_log(MLFQ_LOG_INFO, "not about a peer");
  ASSERT_OK(mlfq_log_stop(1));
  reader_join(&r, p);
  passed = count(r.buf, "info: peer ", "similar lines suppressed", &suppressed);
  ASSERT_GE(passed, MLFQ_LOG_PEER_BURST);
  ASSERT_LE(passed,
            MLFQ_LOG_PEER_BURST + MLFQ_LOG_PEER_PER_S * elapsed / 1000 + 1);
  ASSERT_EQ(passed + (long)suppressed, 1000);
  ASSERT_CONTAINS(r.buf, "info: not about a peer\n");
  free(r.buf);
}
