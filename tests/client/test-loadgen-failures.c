/* loadgen when things go wrong: no server, a dying one, timeouts, SIGINT. */
/* And bad options and input. The runs of loadgen in the background are
 * this file's own (bg_t). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/wire.h"

#include "client.h"
#include "client/lg.h"

/* A loadgen started in the background: its pid and the file of its stdout
 * and stderr. */
typedef struct {
  int pid;
  char out[64];
  char err[64];
} bg_t;

static void bg_start(bg_t *b, char *const argv[]) {
  int ofd, efd;

  snprintf(b->out, sizeof(b->out), "/tmp/mlfq-lg-out-XXXXXX");
  snprintf(b->err, sizeof(b->err), "/tmp/mlfq-lg-err-XXXXXX");
  ofd = mkstemp(b->out);
  efd = mkstemp(b->err);
  if (ofd < 0 || efd < 0)
    MLFQ_TEST_FAIL("mkstemp: %s", strerror(errno));
  b->pid = mlfq_test_spawn(argv, -1, ofd, efd);
  close(ofd);
  close(efd);
  mlfq_test_track(b->pid);
}

/* Waits at most timeout_ms for b to exit; returns its exit status, or -1
 * if a signal ended it. Fails the test on timeout. */
static int bg_wait(bg_t *b, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  int status;
  pid_t r;

  for (;;) {
    r = waitpid(b->pid, &status, WNOHANG);
    if (r == b->pid)
      break;
    if (tc_left_ms(deadline) == 0)
      MLFQ_TEST_FAIL("loadgen did not exit within %d ms", timeout_ms);
    poll(NULL, 0, 10); /* waiting for a process has no event to wait on */
  }
  mlfq_test_untrack(b->pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void bg_free(bg_t *b) {
  remove(b->out);
  remove(b->err);
}

/* Waits until the daemon reports a request running, asking it over a
 * connection of the test's own. */
static void wait_running(const mlfq_test_daemon_t *d) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  tc_client_t *c = tc_open(d, 1);
  Mlfq__ServerMessage *m;
  uint64_t running;

  for (;;) {
    m = tc_stats(c);
    running = m->stats->running;
    mlfq__server_message__free_unpacked(m, NULL);
    if (running >= 1)
      break;
    if (tc_left_ms(deadline) == 0)
      MLFQ_TEST_FAIL("no request running within %d ms", TC_WAIT_MS);
    poll(NULL, 0, 5); /* Stats is polled: the daemon pushes no event */
  }
  tc_close(c);
}

/* 4. Nobody listens: exit 2 at once, one line naming the address. */
TEST(loadgen, unreachable_exits_2) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  char addr[64], *out, *err;
  int64_t start;
  int fd;

  fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", (int)ntohs(sa.sin_port));
  close(fd);
  {
    char *argv[] = {LOADGEN, "--server", addr, NULL};
    start = tc_now_ms();
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 2);
  }
  ASSERT_LT(tc_now_ms() - start, 5000);
  ASSERT_EQ(lg_count_lines(err), 1);
  ASSERT_CONTAINS(err, addr);
  free(out);
  free(err);
}

/* Starts a loadgen of 5 requests of 200 tokens (10 s each) at once against
 * a daemon of 50 ms per token, waiting until one runs. */
static void start_long_run(mlfq_test_daemon_t *d, bg_t *b, const char *jobs) {
  lg_start_slow(d, "50");
  {
    char *argv[] = {LOADGEN,      "--server",
                    d->addr,      "--input-len",
                    "fixed:1",    "--output-len",
                    "fixed:200",  "--num-requests",
                    "5",          "--rate",
                    "inf",        "--jobs-csv",
                    (char *)jobs, NULL};
    bg_start(b, argv);
  }
  wait_running(d);
}

/* Checks a loadgen that ended early: the summary printed, 5 requests all
 * failed with code, and the jobs CSV says so. */
static void expect_failed(const bg_t *b, const char *jobs, const char *code) {
  char *out = mlfq_test_slurp(b->out), line[256], want[64];
  job_row_t rows[MAXJOBS];
  int n, i;

  mlfq_test_find_line(out, "requests ", line, sizeof(line));
  ASSERT_CONTAINS(line, " 5");
  mlfq_test_find_line(out, "failed ", line, sizeof(line));
  ASSERT_CONTAINS(line, " 5");
  mlfq_test_find_line(out, "JCT mean (ms)", line, sizeof(line));
  snprintf(want, sizeof(want), "5 failed: %s 5", code);
  ASSERT_CONTAINS(out, want);
  n = lg_read_jobs(jobs, rows);
  ASSERT_EQ(n, 5);
  for (i = 0; i < n; i++) {
    ASSERT_STR_EQ(rows[i].status, code);
    ASSERT(isnan(rows[i].finish_ms) && isnan(rows[i].jct_ms));
  }
  free(out);
}

/* A long run (start_long_run) cut short: by SIGKILL to the daemon if
 * kill_daemon, else by SIGINT to loadgen. loadgen exits 1 within 5 s and
 * every request failed with code (expect_failed). */
static void long_run_cut(int kill_daemon, const char *code) {
  char *dir = lg_tmpdir();
  const char *const names[] = {"jobs.csv", NULL};
  char jobs[512];
  mlfq_test_daemon_t d;
  bg_t b;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  start_long_run(&d, &b, jobs);
  if (kill_daemon)
    ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGKILL, 5), -1);
  else
    ASSERT_EQ(kill(b.pid, SIGINT), 0);
  ASSERT_EQ(bg_wait(&b, 5000), 1);
  expect_failed(&b, jobs, code);
  bg_free(&b);
  lg_rm_dir(dir, names);
  free(dir);
  if (!kill_daemon)
    lg_stop(&d);
}

/* 5. The server dies under a run: exit 1, the summary counts the losses. */
TEST(loadgen, server_dies_mid_run) { long_run_cut(1, "CONNECTION_LOST"); }

/* 6. Requests slower than --timeout fail with TIMEOUT. */
TEST(loadgen, timeout_marks_failed) {
  char *dir = lg_tmpdir();
  const char *const names[] = {"jobs.csv", NULL};
  char jobs[512], *out, *err, line[256];
  job_row_t rows[MAXJOBS];
  mlfq_test_daemon_t d;
  int64_t start;
  int n, i;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  lg_start_slow(&d, "20");
  {
    char *argv[] = {LOADGEN,   "--server",     d.addr,      "--input-len",
                    "fixed:1", "--output-len", "fixed:100", "--num-requests",
                    "3",       "--rate",       "inf",       "--timeout",
                    "0.2",     "--jobs-csv",   jobs,        NULL};
    start = tc_now_ms();
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 1);
  }
  /* Each request would take 2 s; the run ends near the timeout. */
  ASSERT_LT(tc_now_ms() - start, 1900);
  mlfq_test_find_line(out, "failed ", line, sizeof(line));
  ASSERT_CONTAINS(line, " 3");
  ASSERT_CONTAINS(out, "3 failed: TIMEOUT 3");
  n = lg_read_jobs(jobs, rows);
  ASSERT_EQ(n, 3);
  for (i = 0; i < n; i++) {
    ASSERT_STR_EQ(rows[i].status, "TIMEOUT");
    ASSERT(!isnan(rows[i].arrival_ms));
    ASSERT(isnan(rows[i].finish_ms) && isnan(rows[i].jct_ms));
  }
  free(out);
  free(err);
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
}

/* 7. SIGINT: loadgen stops at once and prints what it has. */
TEST(loadgen, sigint_prints_partial_summary) { long_run_cut(0, "INTERRUPTED"); }

/* Runs loadgen with args after --server addr (NULL: no --server) and
 * expects exit 2, nothing on stdout and one line on stderr with needle. */
static void expect_bad(const char *addr, const char *const *args,
                       const char *needle) {
  char *argv[16], *out, *err;
  int n = 0;

  argv[n++] = LOADGEN;
  if (addr != NULL) {
    argv[n++] = "--server";
    argv[n++] = (char *)addr;
  }
  while (*args != NULL)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 2);
  ASSERT_STR_EQ(out, "");
  ASSERT_EQ(lg_count_lines(err), 1);
  ASSERT_CONTAINS(err, needle);
  free(out);
  free(err);
}

/* 8. Bad options and input: exit 2 with one line, before any request. */
TEST(loadgen, bad_input_exit_2) {
  static const char *const unknown[] = {"--bogus", NULL};
  static const char *const rate[] = {"--rate", "abc", NULL};
  static const char *const server[] = {"--server", "nonsense", NULL};
  static const char *const missing[] = {"--workload",
                                        "/nonexistent/mlfq-loadgen.csv", NULL};
  static const char *const duration[] = {"--duration", "5", NULL};
  static const char *const dur_inf[] = {"--duration", "5", "--rate", "inf",
                                        NULL};
  char *dir = lg_tmpdir();
  const char *const names[] = {NULL};
  mlfq_test_daemon_t d;

  /* A live server: an option wrongly accepted would run and exit 0. */
  lg_start_zero(&d);
  expect_bad(d.addr, unknown, "--bogus");
  expect_bad(d.addr, rate, "abc");
  expect_bad(NULL, server, "nonsense");
  expect_bad(d.addr, missing, "/nonexistent/mlfq-loadgen.csv");
  {
    /* A directory is not a readable workload either. */
    const char *const isdir[] = {"--workload", dir, NULL};
    expect_bad(d.addr, isdir, dir);
  }
  expect_bad(d.addr, duration, "--duration");
  expect_bad(d.addr, dur_inf, "--duration");
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
}
