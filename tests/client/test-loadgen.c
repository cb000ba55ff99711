/* The loadgen program, run as a user runs it, against real daemons. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cost.h"
#include "core/sched.h"
#include "wire/frame.h"
#include "wire/wire.h"

#include "client.h"

#define LOADGEN MLFQ_BIN_DIR "/loadgen"
#define MAXJOBS 256

/* One row of loadgen's per-job CSV; a time left empty is NAN. */
typedef struct {
  long id;
  double arrival_ms;
  long input_length;
  long output_length;
  double first_token_ms;
  double finish_ms;
  double jct_ms;
  char status[32];
} job_row_t;

/* The number of '\n' in s. */
static int count_lines(const char *s) {
  int n = 0;

  for (; *s != '\0'; s++)
    n += *s == '\n';
  return n;
}

/* A time field: empty is NAN. */
static double time_field(const char *s) {
  char *end;
  double v;

  if (*s == '\0')
    return NAN;
  v = strtod(s, &end);
  if (*end != '\0')
    MLFQ_TEST_FAIL("time field '%s' is not a number", s);
  return v;
}

/* Parses the per-job CSV at path into rows (at most MAXJOBS); returns the
 * number of rows. Asserts the header and the number of fields. */
static int read_jobs(const char *path, job_row_t *rows) {
  char *text = mlfq_test_slurp(path), *line, *next, *f[8];
  int n = 0, i;

  line = text;
  next = strchr(line, '\n');
  ASSERT(next != NULL);
  *next = '\0';
  ASSERT_STR_EQ(line, "id,arrival_ms,input_length,output_length,"
                      "first_token_ms,finish_ms,jct_ms,status");
  for (line = next + 1; *line != '\0'; line = next + 1) {
    next = strchr(line, '\n');
    ASSERT(next != NULL);
    *next = '\0';
    ASSERT_LT(n, MAXJOBS);
    f[0] = line;
    for (i = 1; i < 8; i++) {
      char *c = strchr(f[i - 1], ',');
      if (c == NULL)
        MLFQ_TEST_FAIL("%s: row '%s' has %d fields", path, line, i);
      *c = '\0';
      f[i] = c + 1;
    }
    ASSERT(strchr(f[7], ',') == NULL);
    rows[n].id = strtol(f[0], NULL, 10);
    rows[n].arrival_ms = time_field(f[1]);
    rows[n].input_length = strtol(f[2], NULL, 10);
    rows[n].output_length = strtol(f[3], NULL, 10);
    rows[n].first_token_ms = time_field(f[4]);
    rows[n].finish_ms = time_field(f[5]);
    rows[n].jct_ms = time_field(f[6]);
    snprintf(rows[n].status, sizeof(rows[n].status), "%s", f[7]);
    n++;
  }
  free(text);
  return n;
}

/* A fresh temporary directory, in a malloc'ed string. */
static char *tmpdir(void) {
  char *dir = strdup("/tmp/mlfq-loadgen-XXXXXX");

  ASSERT(dir != NULL);
  if (mkdtemp(dir) == NULL)
    MLFQ_TEST_FAIL("mkdtemp: %s", strerror(errno));
  return dir;
}

/* dir/name, in a static buffer of one of four slots. */
static const char *in_dir(const char *dir, const char *name) {
  static char paths[4][512];
  static unsigned next;
  char *p = paths[next++ % 4];

  snprintf(p, 512, "%s/%s", dir, name);
  return p;
}

/* Removes dir and the files in it (the tests write no subdirectories). */
static void rm_dir(const char *dir, const char *const *names) {
  for (; *names != NULL; names++)
    remove(in_dir(dir, *names));
  ASSERT_EQ(rmdir(dir), 0);
}

/* The daemon with a cost model of 20 ms per unit, like docs/MODEL.md's Figure 6
 * x 20. */
static void start_figure6_daemon(mlfq_test_daemon_t *d, const char *policy) {
  const char *args[] = {"--policy",     policy,        "--prefill-ms-per-token",
                        "20",           "--decode-ms", "20",
                        "--quantum-ms", "20",          NULL};

  mlfq_test_daemon_start(d, args);
}

/* A daemon whose requests take no model time. */
static void start_zero_daemon(mlfq_test_daemon_t *d) {
  const char *args[] = {"--prefill-ms-per-token", "0", "--decode-ms", "0",
                        NULL};

  mlfq_test_daemon_start(d, args);
}

/* A daemon of decode_ms ms per token, which lets requests still in flight
 * on SIGTERM run 2 s at most. */
static void start_slow_daemon(mlfq_test_daemon_t *d, const char *decode_ms) {
  const char *args[] = {"--prefill-ms-per-token", "0", "--decode-ms", decode_ms,
                        "--drain-timeout",        "2", NULL};

  mlfq_test_daemon_start(d, args);
}

static void stop_daemon(mlfq_test_daemon_t *d) {
  ASSERT_EQ(mlfq_test_daemon_stop(d, SIGTERM, 10), 0);
}

/* A loadgen started in the background: its pid and the file of its stdout
 * and stderr. */
typedef struct {
  int pid;
  char out[64];
  char err[64];
} bg_t;

static void bg_start(bg_t *b, char *const argv[]) {
  int ofd, efd, devnull;
  pid_t pid;

  snprintf(b->out, sizeof(b->out), "/tmp/mlfq-lg-out-XXXXXX");
  snprintf(b->err, sizeof(b->err), "/tmp/mlfq-lg-err-XXXXXX");
  ofd = mkstemp(b->out);
  efd = mkstemp(b->err);
  if (ofd < 0 || efd < 0)
    MLFQ_TEST_FAIL("mkstemp: %s", strerror(errno));
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    MLFQ_TEST_FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(ofd, 1);
    dup2(efd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  close(ofd);
  close(efd);
  b->pid = pid;
  mlfq_test_track(pid);
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

/* 1. Figure 6 through each policy: every job's JCT is docs/MODEL.md's Figure 6
 * x 20. */
static void figure6(const char *policy, const int want[3]) {
  char *dir = tmpdir();
  const char *jobs = in_dir(dir, "jobs.csv");
  const char *const names[] = {"jobs.csv", NULL};
  mlfq_test_daemon_t d;
  job_row_t rows[MAXJOBS];
  char *out, *err;
  int n, i;

  start_figure6_daemon(&d, policy);
  {
    char *argv[] = {LOADGEN,
                    "--server",
                    d.addr,
                    "--workload",
                    MLFQ_DATA_DIR "/figure6.csv",
                    "--rate",
                    "inf",
                    "--jobs-csv",
                    (char *)jobs,
                    NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  }
  n = read_jobs(jobs, rows);
  ASSERT_EQ(n, 3);
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(rows[i].id, i);
    ASSERT_STR_EQ(rows[i].status, "ok");
    /* a sanitizer's build may be late by more than 6 ms (one CI run:
     * 6.15 ms late on a 220 ms job under ASan) */
    ASSERT_NEAR(rows[i].jct_ms, want[i] * 20, MLFQ_TEST_SANITIZED ? 15 : 6);
    ASSERT_NEAR(rows[i].jct_ms, rows[i].finish_ms - rows[i].arrival_ms, 0.01);
  }
  free(out);
  free(err);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
}

TEST(loadgen, figure6_every_policy) {
  static const int fcfs[3] = {6, 8, 11}, naive[3] = {9, 10, 11},
                   mlfq[3] = {11, 4, 5}, srpt[3] = {11, 2, 5};

  figure6("fcfs", fcfs);
  figure6("naive-mlfq", naive);
  figure6("mlfq", mlfq);
  figure6("srpt", srpt);
}

/* 2. Two servers side by side. */
TEST(loadgen, compare_prints_both_and_ratio) {
  char *dir = tmpdir();
  const char *const names[] = {"jobs-fcfs.csv", "jobs-mlfq.csv", NULL};
  char fcfs_arg[160], mlfq_arg[160], jobs[512], line[256], *out, *err;
  mlfq_test_daemon_t a, b;
  job_row_t rows[MAXJOBS];
  double r_fcfs, r_mlfq;
  int i, k;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  start_figure6_daemon(&a, "fcfs");
  start_figure6_daemon(&b, "mlfq");
  snprintf(fcfs_arg, sizeof(fcfs_arg), "fcfs=%s", a.addr);
  snprintf(mlfq_arg, sizeof(mlfq_arg), "mlfq=%s", b.addr);
  {
    char *argv[] = {LOADGEN,
                    "--server",
                    fcfs_arg,
                    "--server",
                    mlfq_arg,
                    "--workload",
                    MLFQ_DATA_DIR "/figure6.csv",
                    "--jobs-csv",
                    jobs,
                    NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  }
  /* The header of the table: both labels, fcfs first. */
  mlfq_test_find_line(out, "    ", line, sizeof(line));
  ASSERT(strstr(line, "fcfs") != NULL && strstr(line, "mlfq") != NULL);
  ASSERT_LT(strstr(line, "fcfs") - line, strstr(line, "mlfq") - line);
  mlfq_test_find_line(out, "JCT mean / fcfs", line, sizeof(line));
  ASSERT_EQ(
      sscanf(line + strlen("JCT mean / fcfs"), "%lf %lf", &r_fcfs, &r_mlfq), 2);
  ASSERT_CONTAINS(line, " 1.000 ");
  ASSERT_NEAR(r_fcfs, 1.0, 1e-9);
  /* docs/MODEL.md, "Figure 6": mlfq's mean JCT is 6.67 / 8.33 of fcfs's. */
  ASSERT_NEAR(r_mlfq, 6.67 / 8.33, 0.03);
  mlfq_test_find_line(out, "fcfs: model error", line, sizeof(line));
  mlfq_test_find_line(out, "mlfq: model error", line, sizeof(line));
  for (k = 0; k < 2; k++) {
    ASSERT_EQ(read_jobs(in_dir(dir, names[k]), rows), 3);
    for (i = 0; i < 3; i++)
      ASSERT_STR_EQ(rows[i].status, "ok");
  }
  ASSERT(access(jobs, F_OK) != 0); /* the files are per label */
  free(out);
  free(err);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&a);
  stop_daemon(&b);
}

/* 3. The trace has each job's tokens 1..n once, in order, times sorted. */
TEST(loadgen, trace_has_every_token_in_order) {
  const char *args[] = {"--policy",     "mlfq",        "--prefill-ms-per-token",
                        "0.1",          "--decode-ms", "1",
                        "--quantum-ms", "2",           NULL};
  char *dir = tmpdir();
  const char *const names[] = {"jobs.csv", "trace.csv", NULL};
  char jobs[512], trace[512], *out, *err, *text, *line, *next;
  long seen[MAXJOBS];
  job_row_t rows[MAXJOBS];
  mlfq_test_daemon_t d;
  double last = -1, t;
  long job, token, total = 0, lines = 0;
  int n, i;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  snprintf(trace, sizeof(trace), "%s/trace.csv", dir);
  mlfq_test_daemon_start(&d, args);
  {
    char *argv[] = {LOADGEN,
                    "--server",
                    d.addr,
                    "--input-len",
                    "uniform:1:50",
                    "--output-len",
                    "uniform:1:20",
                    "--num-requests",
                    "20",
                    "--rate",
                    "inf",
                    "--seed",
                    "7",
                    "--jobs-csv",
                    jobs,
                    "--trace-csv",
                    trace,
                    "--quiet",
                    NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  }
  n = read_jobs(jobs, rows);
  ASSERT_EQ(n, 20);
  memset(seen, 0, sizeof(seen));
  text = mlfq_test_slurp(trace);
  next = strchr(text, '\n');
  ASSERT(next != NULL);
  *next = '\0';
  ASSERT_STR_EQ(text, "t_ms,job,token");
  for (line = next + 1; *line != '\0'; line = next + 1) {
    next = strchr(line, '\n');
    ASSERT(next != NULL);
    *next = '\0';
    if (sscanf(line, "%lf,%ld,%ld", &t, &job, &token) != 3)
      MLFQ_TEST_FAIL("trace line '%s'", line);
    ASSERT(job >= 0 && job < n);
    ASSERT_EQ(token, seen[job] + 1); /* 1, 2, ... per job */
    seen[job] = token;
    ASSERT_LE_DBL(last, t); /* non-decreasing down the file */
    last = t;
    lines++;
  }
  for (i = 0; i < n; i++) {
    ASSERT_EQ(rows[i].id, i);
    ASSERT_EQ(seen[i], rows[i].output_length);
    total += rows[i].output_length;
  }
  ASSERT_EQ(lines, total);
  free(text);
  free(out);
  free(err);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
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
  ASSERT_EQ(count_lines(err), 1);
  ASSERT_CONTAINS(err, addr);
  free(out);
  free(err);
}

/* Starts a loadgen of 5 requests of 200 tokens (10 s each) at once against
 * a daemon of 50 ms per token, waiting until one runs. */
static void start_long_run(mlfq_test_daemon_t *d, bg_t *b, const char *jobs) {
  start_slow_daemon(d, "50");
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
  n = read_jobs(jobs, rows);
  ASSERT_EQ(n, 5);
  for (i = 0; i < n; i++) {
    ASSERT_STR_EQ(rows[i].status, code);
    ASSERT(isnan(rows[i].finish_ms) && isnan(rows[i].jct_ms));
  }
  free(out);
}

/* 5. The server dies under a run: exit 1, the summary counts the losses. */
TEST(loadgen, server_dies_mid_run) {
  char *dir = tmpdir();
  const char *const names[] = {"jobs.csv", NULL};
  char jobs[512];
  mlfq_test_daemon_t d;
  bg_t b;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  start_long_run(&d, &b, jobs);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGKILL, 5), -1);
  ASSERT_EQ(bg_wait(&b, 5000), 1);
  expect_failed(&b, jobs, "CONNECTION_LOST");
  bg_free(&b);
  rm_dir(dir, names);
  free(dir);
}

/* 6. Requests slower than --timeout fail with TIMEOUT. */
TEST(loadgen, timeout_marks_failed) {
  char *dir = tmpdir();
  const char *const names[] = {"jobs.csv", NULL};
  char jobs[512], *out, *err, line[256];
  job_row_t rows[MAXJOBS];
  mlfq_test_daemon_t d;
  int64_t start;
  int n, i;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  start_slow_daemon(&d, "20");
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
  n = read_jobs(jobs, rows);
  ASSERT_EQ(n, 3);
  for (i = 0; i < n; i++) {
    ASSERT_STR_EQ(rows[i].status, "TIMEOUT");
    ASSERT(!isnan(rows[i].arrival_ms));
    ASSERT(isnan(rows[i].finish_ms) && isnan(rows[i].jct_ms));
  }
  free(out);
  free(err);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
}

/* 7. SIGINT: loadgen stops at once and prints what it has. */
TEST(loadgen, sigint_prints_partial_summary) {
  char *dir = tmpdir();
  const char *const names[] = {"jobs.csv", NULL};
  char jobs[512];
  mlfq_test_daemon_t d;
  bg_t b;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  start_long_run(&d, &b, jobs);
  ASSERT_EQ(kill(b.pid, SIGINT), 0);
  ASSERT_EQ(bg_wait(&b, 5000), 1);
  expect_failed(&b, jobs, "INTERRUPTED");
  bg_free(&b);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
}

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
  ASSERT_EQ(count_lines(err), 1);
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
  char *dir = tmpdir();
  const char *const names[] = {NULL};
  mlfq_test_daemon_t d;

  /* A live server: an option wrongly accepted would run and exit 0. */
  start_zero_daemon(&d);
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
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
}

/* 9. One seed, one schedule: lengths equal, send times within 1 ms. */
TEST(loadgen, same_seed_same_schedule) {
  char *dir = tmpdir();
  const char *const names[] = {"a.csv", "b.csv", NULL};
  static job_row_t rows[2][MAXJOBS];
  char path[2][512], *out, *err;
  mlfq_test_daemon_t d;
  int n[2], i, k;

  start_zero_daemon(&d);
  for (k = 0; k < 2; k++) {
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, names[k]);
    {
      char *argv[] = {LOADGEN, "--server",     d.addr,    "--seed",
                      "3",     "--rate",       "200",     "--num-requests",
                      "50",    "--output-len", "fixed:1", "--jobs-csv",
                      path[k], "--quiet",      NULL};
      ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
    }
    free(out);
    free(err);
    n[k] = read_jobs(path[k], rows[k]);
    ASSERT_EQ(n[k], 50);
  }
  for (i = 0; i < 50; i++) {
    ASSERT_EQ(rows[0][i].id, i);
    ASSERT_EQ(rows[1][i].id, i);
    ASSERT_EQ(rows[0][i].input_length, rows[1][i].input_length);
    ASSERT_EQ(rows[0][i].output_length, 1);
    ASSERT_EQ(rows[1][i].output_length, 1);
    ASSERT_STR_EQ(rows[0][i].status, "ok");
    ASSERT_STR_EQ(rows[1][i].status, "ok");
    /* Actual send times; the schedules themselves are equal to the
     * nanosecond (test-arrival). 20 ms covers a busy machine's hiccup
     * (5 ms did not, with the suite running two tests at once). */
    ASSERT_NEAR(rows[0][i].arrival_ms, rows[1][i].arrival_ms, 20.0);
  }
  /* Poisson at 200/s: 50 requests span about 250 ms, not all at 0. */
  ASSERT_GT(rows[0][49].arrival_ms, 50);
  rm_dir(dir, names);
  free(dir);
  stop_daemon(&d);
}

/* A fake router on fd: one connection, answered as a router would with
 * replicas = 2 in Welcome (the configuration is a real one), and every
 * Submit at once with Accepted, its tokens and Done, at model time 0.
 * Runs in a child process; exits when the client hangs up. */
static void fake_router(int fd) {
  Mlfq__ServerMessage sm = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome wel = MLFQ__WELCOME__INIT;
  Mlfq__Accepted acc = MLFQ__ACCEPTED__INIT;
  Mlfq__Token tok = MLFQ__TOKEN__INIT;
  Mlfq__Done done = MLFQ__DONE__INIT;
  mlfq_limits_t lim = {1, 1000, 100000, 100000, 1 << 20, 1000};
  const uint8_t *payload;
  Mlfq__ClientMessage *m;
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t p;
  mlfq_wire_config_t wc;
  mlfq_buf_t in, out;
  mlfq_cost_t cost;
  size_t plen, off;
  uint32_t k;
  ssize_t nr;
  int c;
  long n;

  mlfq_sched_config_init(&cfg);
  if (mlfq_cost_linear(&cost, 0, 1, 1) != 0 ||
      mlfq_sched_resolve(&p, &cfg, &cost, NULL, 0) != 0 ||
      mlfq_wire_config_init(&wc, &cfg, &p, &cost, &lim) != 0)
    _exit(1);
  c = accept(fd, NULL, NULL);
  if (c < 0)
    _exit(1);
  mlfq_buf_init(&in, 1 << 20);
  mlfq_buf_init(&out, 1 << 24);
  for (;;) {
    uint8_t *room = mlfq_buf_reserve(&in, 65536, NULL);
    if (room == NULL)
      _exit(1);
    nr = read(c, room, 65536);
    if (nr <= 0)
      _exit(0);
    mlfq_buf_commit(&in, (size_t)nr);
    off = 0;
    while ((n = mlfq_frame_decode(in.data + off, in.len - off, 1 << 20,
                                  &payload, &plen)) > 0) {
      off += (size_t)n;
      m = mlfq__client_message__unpack(NULL, plen, payload);
      if (m == NULL)
        _exit(1);
      if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_HELLO) {
        wel.protocol_version = MLFQ_PROTOCOL_VERSION;
        wel.server_id = "fake-router";
        wel.server_version = "0";
        wel.config = &wc.config;
        wel.replicas = 2;
        sm.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
        sm.welcome = &wel;
        mlfq_wire_put_server(&out, &sm);
      } else if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_SUBMIT) {
        acc.id = tok.id = done.id = m->submit->id;
        sm.msg_case = MLFQ__SERVER_MESSAGE__MSG_ACCEPTED;
        sm.accepted = &acc;
        mlfq_wire_put_server(&out, &sm);
        for (k = 1; k <= m->submit->output_length; k++) {
          tok.index = k;
          sm.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
          sm.token = &tok;
          mlfq_wire_put_server(&out, &sm);
        }
        done.iterations = m->submit->output_length;
        done.replica = 1 + (uint32_t)(m->submit->id % 2);
        sm.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
        sm.done = &done;
        mlfq_wire_put_server(&out, &sm);
      }
      mlfq__client_message__free_unpacked(m, NULL);
    }
    mlfq_buf_consume(&in, off);
    if (out.len > 0 && write(c, out.data, out.len) != (ssize_t)out.len)
      _exit(1);
    mlfq_buf_consume(&out, out.len);
  }
}

/* Behind a router (Welcome's replicas > 1) the replay through one
 * scheduler means nothing: loadgen says so in one line instead. */
TEST(loadgen, router_skips_model_error) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  char addr[64], *out;
  int fd, status;
  pid_t pid;

  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", (int)ntohs(sa.sin_port));
  fflush(NULL);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0)
    fake_router(fd);
  mlfq_test_track(pid);
  close(fd);
  {
    char *argv[] = {LOADGEN,   "--server",    addr,      "--num-requests",
                    "5",       "--input-len", "fixed:4", "--output-len",
                    "fixed:3", "--rate",      "inf",     NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 30), 0);
  }
  ASSERT_CONTAINS(out, "model error: not computed: the server is a router "
                       "over 2 replicas");
  ASSERT(strstr(out, "model error: mean JCT") == NULL);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  mlfq_test_untrack(pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  free(out);
}

/* A server named by host name (as in a compose network) is resolved; a
 * name that does not resolve exits 2 with one line naming it. */
TEST(loadgen, server_by_host_name) {
  char addr[64], *out, *err, line[256];
  mlfq_test_daemon_t d;

  start_figure6_daemon(&d, "fcfs");
  snprintf(addr, sizeof(addr), "localhost:%d", d.port);
  {
    char *argv[] = {
        LOADGEN, "--server", addr, "--workload", MLFQ_DATA_DIR "/figure6.csv",
        NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  }
  mlfq_test_find_line(out, "requests ", line, sizeof(line));
  ASSERT_CONTAINS(line, " 3");
  free(out);
  free(err);
  {
    char *argv[] = {LOADGEN, "--server", "no-such-host.invalid:7070", NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 2);
  }
  ASSERT_EQ(count_lines(err), 1);
  ASSERT_CONTAINS(err, "no-such-host.invalid");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}
