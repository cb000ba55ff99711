/* mlfqd's life: the drain on the first SIGINT/SIGTERM (in-flight requests
 * finish, or are cancelled at --drain-timeout), the second signal, daemon
 * mode with its pidfile and port file, and bad options. A daemon run by a
 * test is real, on an ephemeral port; every wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

/* Receives until requests 1..n have all ended (Done or an Error). */
static void wait_ended(tc_client_t *c, uint64_t n) {
  int64_t deadline = tc_now_ms() + TC_WAIT_MS;
  uint64_t id, ended;

  for (;;) {
    ended = 0;
    for (id = 1; id <= n; id++)
      ended += c->done[id] > 0 || c->err[id] != 0;
    if (ended == n)
      return;
    mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)), NULL);
  }
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT_EQ(fclose(f), 0);
}

static int exists(const char *path) {
  struct stat st;

  return stat(path, &st) == 0;
}

/* The first SIGTERM lets the requests in flight finish (a Done for each)
 * while new connections are refused and new Submits get SHUTTING_DOWN;
 * then the daemon closes the connection and exits 0. A fourth request,
 * behind the three (fcfs) and far longer, keeps the drain open until the
 * test has seen all that, however slowly it runs; then it is cancelled. */
TEST(lifecycle, sigterm_finishes_in_flight) {
  const char *args[] = {"--decode-ms", "20",       "--prefill-ms-per-token",
                        "0.01",        "--policy", "fcfs",
                        NULL};
  mlfq_test_daemon_t d;
  mlfq_peer_t late;
  tc_client_t *c;
  char err[256];
  uint64_t id;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  for (id = 1; id <= 3; id++)
    tc_submit(c, id, 4, 25);  /* 1.5 s of work for one engine */
  tc_submit(c, 4, 4, 100000); /* then 2,000 s */
  for (id = 1; id <= 4; id++)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);

  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  tc_wait_draining(c);
  ASSERT_EQ(
      mlfq_peer_connect(&late, d.host, d.port, TC_WAIT_MS, err, sizeof(err)),
      -ECONNREFUSED);
  tc_submit(c, 10, 4, 3);
  tc_expect_error(c, 10, MLFQ__ERROR_CODE__SHUTTING_DOWN);
  ASSERT_EQ(c->accepted[10], 0);
  wait_ended(c, 3);
  for (id = 1; id <= 3; id++) {
    ASSERT_EQ(c->done[id], 1);
    ASSERT_EQ(c->tokens[id], 25);
    ASSERT_EQ(c->err[id], 0);
  }
  tc_cancel(c, 4);
  tc_expect_error(c, 4, MLFQ__ERROR_CODE__CANCELLED);
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, 0, 5), 0);
}

/* SIGTERM with 1,000 requests in flight over four connections, all in
 * one batch: every request still gets all its tokens and a Done, then
 * each connection is closed and the daemon exits 0. */
TEST(lifecycle, sigterm_drains_1000_in_flight) {
  const char *args[] = {"--policy",
                        "fcfs",
                        "--max-batch",
                        "1000",
                        "--decode-ms",
                        "5",
                        "--prefill-ms-per-token",
                        "0.001",
                        NULL};
  enum { CONNS = 4, PER = 250, OUT = 100 };
  mlfq_test_daemon_t d;
  tc_client_t *c[CONNS];
  Mlfq__ServerMessage *m;
  int64_t deadline;
  mlfq_buf_t b;
  uint64_t id;
  int i;

  mlfq_test_daemon_start(&d, args);
  mlfq_buf_init(&b, 1 << 20);
  for (i = 0; i < CONNS; i++) {
    c[i] = tc_open(&d, 1);
    mlfq_buf_consume(&b, b.len);
    for (id = 1; id <= PER; id++)
      tc_put_submit(&b, id, 4, OUT);
    ASSERT_OK(mlfq_peer_send_raw(&c[i]->p, b.data, b.len));
  }
  mlfq_buf_free(&b);
  /* All 1,000 are in the scheduler: Stats on the last connection comes
   * after its Submits, the others' were read before. */
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    m = tc_stats(c[CONNS - 1]);
    id = m->stats->running + m->stats->waiting;
    mlfq__server_message__free_unpacked(m, NULL);
    if (id == CONNS * PER)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  for (i = 0; i < CONNS; i++) {
    wait_ended(c[i], PER);
    for (id = 1; id <= PER; id++) {
      ASSERT_EQ(c[i]->err[id], 0);
      ASSERT_EQ(c[i]->done[id], 1);
      ASSERT_EQ(c[i]->tokens[id], OUT);
    }
    tc_expect_closed(c[i]);
    tc_close(c[i]);
  }
  ASSERT_EQ(mlfq_test_daemon_stop(&d, 0, 10), 0);
}

/* SIGINT drains the same way. */
TEST(lifecycle, sigint_idle) {
  const char *args[] = {NULL};
  mlfq_test_daemon_t d;
  tc_client_t *c;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  ASSERT_EQ(kill(d.pid, SIGINT), 0);
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, 0, 5), 0);
}

/* Requests still in flight at --drain-timeout get SHUTTING_DOWN and the
 * daemon exits 0 soon after. */
TEST(lifecycle, drain_timeout) {
  const char *args[] = {
      "--decode-ms", "1", "--prefill-ms-per-token", "0.01", "--drain-timeout",
      "0.2",         NULL};
  mlfq_test_daemon_t d;
  int64_t signalled;
  tc_client_t *c;
  uint64_t id;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  for (id = 1; id <= 3; id++)
    tc_submit(c, id, 4, 100000); /* 100 s each */
  for (id = 1; id <= 3; id++)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  signalled = tc_now_ms();
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_ended(c, 3);
  ASSERT_GE(tc_now_ms() - signalled, 150);
  for (id = 1; id <= 3; id++) {
    ASSERT_EQ(c->err[id], MLFQ__ERROR_CODE__SHUTTING_DOWN);
    ASSERT_EQ(c->done[id], 0);
  }
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, 0, 3), 0);
  ASSERT_LT(tc_now_ms() - signalled, 3000);
}

/* The same while an engine is inside one long iteration (a 20 s prefill):
 * iterations are never interrupted in the model, but the daemon must not
 * wait for this one to close its connections and exit. */
TEST(lifecycle, drain_timeout_mid_iteration) {
  const char *args[] = {
      "--decode-ms", "1", "--prefill-ms-per-token", "1", "--drain-timeout",
      "0.2",         NULL};
  Mlfq__ServerMessage *m = NULL;
  mlfq_test_daemon_t d;
  int64_t signalled;
  tc_client_t *c;
  int rc;

  mlfq_test_daemon_start(&d, args);
  c = tc_open(&d, 1);
  tc_submit(c, 1, 20000, 2);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  signalled = tc_now_ms();
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_ended(c, 1);
  ASSERT_EQ(c->err[1], MLFQ__ERROR_CODE__SHUTTING_DOWN);
  rc = mlfq_peer_recv(&c->p, &m, 2000);
  if (rc != -EPIPE)
    MLFQ_TEST_FAIL("%lld ms after SIGTERM (--drain-timeout 0.2, a 20 s "
                   "iteration running) the daemon still holds the "
                   "connection open (recv %d: %s)",
                   (long long)(tc_now_ms() - signalled), rc, mlfq_strerror(rc));
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, 0, 3), 0);
  ASSERT_LT(tc_now_ms() - signalled, 3000);
}

/* A second signal during the drain exits at once, non-zero, and removes
 * the pidfile. */
TEST(lifecycle, second_signal) {
  static const char *const names[] = {"pid", NULL};
  char dir[64], pidfile[128];
  const char *args[] = {"--decode-ms", "1", "--pidfile", pidfile, NULL};
  mlfq_test_daemon_t d;
  int64_t signalled;
  tc_client_t *c;
  uint64_t id;
  int status;

  tc_tmpdir(dir, sizeof(dir), "mlfqd-life");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  mlfq_test_daemon_start(&d, args);
  ASSERT(exists(pidfile));
  c = tc_open(&d, 1);
  for (id = 1; id <= 2; id++)
    tc_submit(c, id, 4, 100000);
  for (id = 1; id <= 2; id++)
    tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  tc_wait_draining(c);
  signalled = tc_now_ms();
  status = mlfq_test_daemon_stop(&d, SIGTERM, 2);
  ASSERT_NE(status, 0);
  ASSERT_LT(tc_now_ms() - signalled, 2000);
  ASSERT(!exists(pidfile));
  tc_close(c);
  tc_rmtree(dir, names);
}

/* Runs MLFQ_BIN_DIR/mlfqd with args, stdin from /dev/null, stdout to a
 * pipe (*out) and stderr to errfd. Returns its pid. */
static pid_t spawn(const char *const *args, int *out, int errfd) {
  char *argv[32];
  int fds[2], n = 0;
  pid_t pid;

  argv[n++] = MLFQ_BIN_DIR "/mlfqd";
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  pid = mlfq_test_spawn(argv, -1, fds[1], errfd);
  close(fds[1]);
  *out = fds[0];
  return pid;
}

/* Reads fd until EOF (at most timeout_ms) into buf; returns 0, or -1 if
 * fd is still open at the deadline. */
static int read_to_eof(int fd, char *buf, size_t len, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  struct pollfd p;
  size_t got = 0;
  char scratch[256];
  ssize_t n;

  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, tc_left_ms(deadline)) == 0)
      return -1;
    n = read(fd, got + 1 < len ? buf + got : scratch,
             got + 1 < len ? len - 1 - got : sizeof(scratch));
    if (n == 0)
      break;
    if (n < 0 && errno != EINTR)
      MLFQ_TEST_FAIL("read: %s", strerror(errno));
    if (n > 0 && got + 1 < len)
      got += (size_t)n;
  }
  if (len > 0)
    buf[got] = '\0';
  return 0;
}

/* Waits at most timeout_ms for child pid to exit; returns its exit status
 * (-1 for a signal), or -2 at the deadline. */
static int wait_exit(pid_t pid, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  int status;

  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (tc_now_ms() > deadline)
      return -2;
    poll(NULL, 0, 10); /* waiting for a process has no event to wait on */
  }
}

static long read_pid(const char *path) {
  char *s = mlfq_test_slurp(path);
  char *end;
  long pid = strtol(s, &end, 10);

  if (end == s || *end != '\n' || end[1] != '\0')
    MLFQ_TEST_FAIL("%s holds '%s', not a pid and a newline", path, s);
  free(s);
  return pid;
}

/* --daemon returns 0 once the detached server listens: the port file holds
 * its address, the pidfile a live pid; SIGTERM to that pid stops it with
 * exit 0 and removes the pidfile. */
TEST(lifecycle, daemon_mode) {
  static const char *const names[] = {"pid", "port", "log", "stderr", NULL};
  char dir[64], pidfile[128], portfile[128], logfile[128], errpath[128];
  const char *args[] = {"--daemon", "--listen",    "127.0.0.1:0", "--pidfile",
                        pidfile,    "--port-file", portfile,      "--log-file",
                        logfile,    "--decode-ms", "1",           NULL};
  char printed[256], host[64], *port_text, *log;
  tc_client_t *c;
  int out, errfd, port, status;
  pid_t pid;
  long dpid;

  /* The detached server becomes this process's child when its parent
   * exits, so that its exit status can be read. */
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
  tc_tmpdir(dir, sizeof(dir), "mlfqd-life");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
  errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(errfd, 0);
  pid = spawn(args, &out, errfd);
  close(errfd);
  mlfq_test_track(pid);
  ASSERT_EQ(read_to_eof(out, printed, sizeof(printed), TC_WAIT_MS), 0);
  close(out);
  status = wait_exit(pid, TC_WAIT_MS);
  mlfq_test_untrack(pid);
  ASSERT_EQ(status, 0);

  ASSERT(exists(pidfile));
  dpid = read_pid(pidfile);
  mlfq_test_track((int)dpid);
  ASSERT_NE(dpid, pid);
  ASSERT_EQ(kill((pid_t)dpid, 0), 0);
  port_text = mlfq_test_slurp(portfile);
  ASSERT_STR_EQ(port_text, printed);
  *strchr(port_text, '\n') = '\0';
  ASSERT_OK(mlfq_peer_parse_addr(port_text, host, sizeof(host), &port));
  ASSERT_STR_EQ(host, "127.0.0.1");
  free(port_text);
  c = tc_open_at(host, port, 1);
  tc_submit(c, 1, 4, 3);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(c->tokens[1], 3);
  tc_close(c);

  ASSERT_EQ(kill((pid_t)dpid, SIGTERM), 0);
  status = wait_exit((pid_t)dpid, TC_WAIT_MS);
  mlfq_test_untrack((int)dpid);
  ASSERT_EQ(status, 0);
  ASSERT_EQ(kill((pid_t)dpid, 0), -1);
  ASSERT(!exists(pidfile));
  log = mlfq_test_slurp(logfile);
  ASSERT_CONTAINS(log, "listening on");
  ASSERT_CONTAINS(log, "stopped");
  free(log);
  tc_rmtree(dir, names);
}

/* A daemon keeps nothing of its caller: once `mlfqd --daemon` has
 * returned, the caller's stderr is closed too (with --log-file as
 * without), or a caller that reads it to its end, such as a pipe or a
 * test harness, waits for the server to exit. */
TEST(lifecycle, daemon_detaches_stderr) {
  static const char *const names[] = {"pid", "log", NULL};
  char dir[64], pidfile[128], logfile[128], printed[256];
  const char *args[] = {"--daemon", "--listen",   "127.0.0.1:0", "--pidfile",
                        pidfile,    "--log-file", logfile,       NULL};
  int out, errp[2], status, stderr_open;
  pid_t pid;
  long dpid;

  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
  tc_tmpdir(dir, sizeof(dir), "mlfqd-life");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  ASSERT_EQ(pipe2(errp, O_CLOEXEC), 0);
  pid = spawn(args, &out, errp[1]);
  close(errp[1]);
  mlfq_test_track(pid);
  ASSERT_EQ(read_to_eof(out, printed, sizeof(printed), TC_WAIT_MS), 0);
  close(out);
  status = wait_exit(pid, TC_WAIT_MS);
  mlfq_test_untrack(pid);
  ASSERT_EQ(status, 0);
  dpid = read_pid(pidfile);
  mlfq_test_track((int)dpid);

  stderr_open = read_to_eof(errp[0], NULL, 0, 2000) != 0;
  close(errp[0]);
  ASSERT_EQ(kill((pid_t)dpid, SIGTERM), 0);
  status = wait_exit((pid_t)dpid, TC_WAIT_MS);
  mlfq_test_untrack((int)dpid);
  ASSERT_EQ(status, 0);
  tc_rmtree(dir, names);
  if (stderr_open)
    MLFQ_TEST_FAIL("the detached daemon (pid %ld) kept the caller's stderr "
                   "open 2 s after `mlfqd --daemon` returned",
                   dpid);
}

/* A pidfile naming a live process (this one) stops mlfqd from starting:
 * exit 1 and a message, the pidfile untouched. */
TEST(lifecycle, pidfile_live) {
  static const char *const names[] = {"pid", NULL};
  char dir[64], pidfile[128], text[48], num[32];
  char *argv[] = {MLFQ_BIN_DIR "/mlfqd", "--listen", "127.0.0.1:0",
                  "--pidfile",           pidfile,    NULL};
  char *out, *err, *after;

  tc_tmpdir(dir, sizeof(dir), "mlfqd-life");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(num, sizeof(num), "%ld", (long)getpid());
  snprintf(text, sizeof(text), "%s\n", num);
  write_file(pidfile, text);
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 1);
  ASSERT_STR_EQ(out, "");
  ASSERT_CONTAINS(err, pidfile);
  ASSERT_CONTAINS(err, num);
  ASSERT_CONTAINS(err, "running");
  after = mlfq_test_slurp(pidfile);
  ASSERT_STR_EQ(after, text);
  free(after);
  free(out);
  free(err);
  tc_rmtree(dir, names);
}

/* A stale pidfile (its process is gone) is overwritten with the new pid
 * and removed at exit. */
TEST(lifecycle, pidfile_stale) {
  static const char *const names[] = {"pid", NULL};
  char dir[64], pidfile[128], text[32];
  const char *args[] = {"--pidfile", pidfile, NULL};
  mlfq_test_daemon_t d;
  pid_t gone;
  int status;

  tc_tmpdir(dir, sizeof(dir), "mlfqd-life");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  gone = fork();
  ASSERT_GE(gone, 0);
  if (gone == 0)
    _exit(0);
  ASSERT_EQ(waitpid(gone, &status, 0), gone);
  snprintf(text, sizeof(text), "%ld\n", (long)gone);
  write_file(pidfile, text);
  mlfq_test_daemon_start(&d, args);
  ASSERT_EQ(read_pid(pidfile), d.pid);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
  ASSERT(!exists(pidfile));
  tc_rmtree(dir, names);
}

/* mlfqd with args exits 2 with one line on stderr and nothing on stdout. */
static void bad_option(const char *const *args) {
  char *argv[16], *out, *err, line[512] = "";
  int n = 0, status;
  size_t len;

  argv[n++] = MLFQ_BIN_DIR "/mlfqd";
  while (*args != NULL && n < 15) {
    len = strlen(line);
    snprintf(line + len, sizeof(line) - len, " %s", *args);
    argv[n++] = (char *)*args++;
  }
  argv[n] = NULL;
  status = mlfq_test_run(argv, &out, &err, 5);
  if (status != 2)
    MLFQ_TEST_FAIL("mlfqd%s: exit %d, expected 2 (stderr: %s)", line, status,
                   err);
  ASSERT_STR_EQ(out, "");
  ASSERT(strncmp(err, "mlfqd: ", 7) == 0);
  if (strchr(err, '\n') != err + strlen(err) - 1)
    MLFQ_TEST_FAIL("mlfqd%s: stderr is not one line: \"%s\"", line, err);
  free(out);
  free(err);
}

TEST(lifecycle, bad_options) {
  static const char *const unknown[] = {"--bogus", NULL};
  static const char *const policy[] = {"--listen", "127.0.0.1:0", "--policy",
                                       "bogus", NULL};
  static const char *const listen[] = {"--listen", "nonsense", NULL};
  static const char *const port[] = {"--listen", "127.0.0.1:65536", NULL};
  static const char *const scale[] = {"--listen", "127.0.0.1:0", "--time-scale",
                                      "0", NULL};
  static const char *const missing[] = {"--listen", NULL};
  static const char *const per_conn[] = {"--listen",
                                         "127.0.0.1:0",
                                         "--max-pending",
                                         "10",
                                         "--max-pending-per-conn",
                                         "11",
                                         NULL};

  bad_option(unknown);
  bad_option(policy);
  bad_option(listen);
  bad_option(port);
  bad_option(scale);
  bad_option(missing);
  bad_option(per_conn);
}

/* A log file that cannot be opened is a bad option: exit 2, and (under
 * ASan) nothing leaked on the way out. */
TEST(lifecycle, bad_log_file) {
  static const char *const args[] = {"--listen", "127.0.0.1:0", "--log-file",
                                     "/nonexistent/mlfqd.log", NULL};

  bad_option(args);
}

/* A port in use is a runtime failure: exit 1 with a message, and (under
 * ASan) nothing leaked on the way out. */
TEST(lifecycle, port_in_use) {
  const char *args[] = {NULL};
  mlfq_test_daemon_t d;
  char *argv[] = {MLFQ_BIN_DIR "/mlfqd", "--listen", NULL, NULL};
  char *out, *err;
  int status;

  mlfq_test_daemon_start(&d, args);
  argv[2] = d.addr;
  status = mlfq_test_run(argv, &out, &err, 5);
  if (status != 1)
    MLFQ_TEST_FAIL("exit %d, expected 1 (stderr: %s)", status, err);
  ASSERT_STR_EQ(out, "");
  ASSERT_CONTAINS(err, "cannot listen");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 5), 0);
}

/* A --listen host that is not an IP address is a bad option too. */
TEST(lifecycle, listen_host_not_ip) {
  static const char *const args[] = {"--listen", "nonsense:7070", NULL};

  bad_option(args);
}
