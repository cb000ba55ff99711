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
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "peer.h"
#include "wire.h"

#include "task.h"

#define MAXID 64
#define WAIT_MS 5000 /* bound of every wait */
#define ANY_ID UINT64_MAX

/* A client and what it has seen of each of its requests (ids < MAXID). */
typedef struct {
  mlfq_peer_t p;
  uint32_t accepted[MAXID];
  uint32_t tokens[MAXID];
  uint32_t done[MAXID];
  int err[MAXID]; /* code of the last Error for the id, 0 if none */
} client_t;

/* Processes of this test: if it fails before they end, they are killed
 * and the log of each started daemon printed and removed. */
static struct {
  int pid;
  const char *log;
} live[8];

static void kill_live(void) {
  unsigned i;
  int c;
  FILE *f;

  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (live[i].pid <= 0)
      continue;
    kill(live[i].pid, SIGKILL);
    if (live[i].log == NULL)
      continue;
    f = fopen(live[i].log, "r");
    if (f != NULL) {
      fprintf(stderr, "--- log of mlfqd %d:\n", live[i].pid);
      while ((c = fgetc(f)) != EOF)
        fputc(c, stderr);
      fclose(f);
    }
    unlink(live[i].log);
  }
}

static void track(int pid, const char *log) {
  static int registered;
  unsigned i;

  if (!registered) {
    atexit(kill_live);
    registered = 1;
  }
  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
    if (live[i].pid == 0) {
      live[i].pid = pid;
      live[i].log = log;
      return;
    }
  }
  MLFQ_TEST_FAIL("too many processes");
}

static void untrack(int pid) {
  unsigned i;

  for (i = 0; i < sizeof(live) / sizeof(live[0]); i++)
    if (live[i].pid == pid)
      live[i].pid = 0;
}

static void start(mlfq_test_daemon_t *d, const char *const *args) {
  mlfq_test_daemon_start(d, args);
  track(d->pid, d->log);
}

/* Sends sig (0: none) and returns the exit status once d has exited (at
 * most timeout_s; -1 if a signal ended it). */
static int stop(mlfq_test_daemon_t *d, int sig, int timeout_s) {
  untrack(d->pid);
  return mlfq_test_daemon_stop(d, sig, timeout_s);
}

static int64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
  int64_t l = deadline - now_ms();

  return l > 0 ? (int)l : 0;
}

static uint64_t msg_id(const Mlfq__ServerMessage *m) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    return m->accepted->id;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    return m->token->id;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    return m->done->id;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    return m->error->id;
  default:
    return ANY_ID;
  }
}

static void record(client_t *c, const Mlfq__ServerMessage *m) {
  uint64_t id = msg_id(m);

  if (id >= MAXID)
    return;
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    c->accepted[id]++;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    c->tokens[id]++;
    ASSERT_EQ(m->token->index, c->tokens[id]);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    c->done[id]++;
    ASSERT_EQ(m->done->iterations, c->tokens[id]);
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    c->err[id] = m->error->code;
    break;
  default:
    break;
  }
}

static client_t *cl_open_at(const char *host, int port) {
  client_t *c = calloc(1, sizeof(*c));
  char err[256];

  ASSERT(c != NULL);
  ASSERT_OK(mlfq_peer_connect(&c->p, host, port, WAIT_MS, err, sizeof(err)));
  ASSERT_OK(mlfq_peer_hello(&c->p, "test-lifecycle", NULL, WAIT_MS));
  return c;
}

static client_t *cl_open(const mlfq_test_daemon_t *d) {
  return cl_open_at(d->host, d->port);
}

static void cl_close(client_t *c) {
  mlfq_peer_close(&c->p);
  free(c);
}

static void cl_submit(client_t *c, uint64_t id, uint32_t in, uint32_t out) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Submit s = MLFQ__SUBMIT__INIT;

  s.id = id;
  s.input_length = in;
  s.output_length = out;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_SUBMIT;
  m.submit = &s;
  ASSERT_OK(mlfq_peer_send(&c->p, &m));
}

static Mlfq__ServerMessage *cl_recv(client_t *c, int timeout_ms) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, timeout_ms);

  if (rc != 0)
    MLFQ_TEST_FAIL("recv: %d (%s)", rc, mlfq_strerror(rc));
  record(c, m);
  return m;
}

/* Receives until a message of kind msg_case (about id, unless ANY_ID) and
 * returns it; what comes before is recorded. */
static Mlfq__ServerMessage *cl_wait(client_t *c, int msg_case, uint64_t id) {
  int64_t deadline = now_ms() + WAIT_MS;
  Mlfq__ServerMessage *m;

  for (;;) {
    m = cl_recv(c, left_ms(deadline));
    if ((int)m->msg_case == msg_case && (id == ANY_ID || msg_id(m) == id))
      return m;
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

static void cl_wait_free(client_t *c, int msg_case, uint64_t id) {
  mlfq__server_message__free_unpacked(cl_wait(c, msg_case, id), NULL);
}

/* Receives until requests 1..n have all ended (Done or an Error). */
static void wait_ended(client_t *c, uint64_t n) {
  int64_t deadline = now_ms() + WAIT_MS;
  uint64_t id, ended;

  for (;;) {
    ended = 0;
    for (id = 1; id <= n; id++)
      ended += c->done[id] > 0 || c->err[id] != 0;
    if (ended == n)
      return;
    mlfq__server_message__free_unpacked(cl_recv(c, left_ms(deadline)), NULL);
  }
}

static Mlfq__ServerMessage *cl_stats(client_t *c) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  ASSERT_OK(mlfq_peer_send(&c->p, &m));
  return cl_wait(c, MLFQ__SERVER_MESSAGE__MSG_STATS, ANY_ID);
}

/* Polls Stats on c until the server says it is draining: it has handled
 * the signal. */
static void wait_draining(client_t *c) {
  int64_t deadline = now_ms() + WAIT_MS;
  Mlfq__ServerMessage *m;
  int draining;

  for (;;) {
    m = cl_stats(c);
    draining = m->stats->draining;
    mlfq__server_message__free_unpacked(m, NULL);
    if (draining)
      return;
    ASSERT_LT(now_ms(), deadline);
  }
}

/* The server closes c: recv ends with -EPIPE, no further message. */
static void expect_closed(client_t *c) {
  Mlfq__ServerMessage *m = NULL;
  int rc = mlfq_peer_recv(&c->p, &m, WAIT_MS);

  if (rc == 0)
    MLFQ_TEST_FAIL("expected the connection closed, got message %d",
                   (int)m->msg_case);
  ASSERT_EQ(rc, -EPIPE);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *s;
  long n;

  if (f == NULL)
    MLFQ_TEST_FAIL("cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = calloc(1, (size_t)n + 1);
  ASSERT(s != NULL);
  if (n > 0)
    ASSERT_EQ(fread(s, 1, (size_t)n, f), n);
  fclose(f);
  return s;
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

/* A fresh directory for a test's files. */
static void tmpdir(char *dir, size_t len) {
  snprintf(dir, len, "/tmp/mlfqd-life-XXXXXX");
  if (mkdtemp(dir) == NULL)
    MLFQ_TEST_FAIL("mkdtemp: %s", strerror(errno));
}

static void rmtree(const char *dir, const char *const *names) {
  char path[512];

  for (; *names != NULL; names++) {
    snprintf(path, sizeof(path), "%s/%s", dir, *names);
    unlink(path);
  }
  rmdir(dir);
}

/* The first SIGTERM lets the requests in flight finish (a Done for each)
 * while new connections are refused and new Submits get SHUTTING_DOWN;
 * then the daemon closes the connection and exits 0. */
TEST(lifecycle, sigterm_finishes_in_flight) {
  const char *args[] = {"--decode-ms", "20", "--prefill-ms-per-token", "0.01",
                        NULL};
  mlfq_test_daemon_t d;
  mlfq_peer_t late;
  client_t *c;
  char err[256];
  uint64_t id;

  start(&d, args);
  c = cl_open(&d);
  for (id = 1; id <= 3; id++)
    cl_submit(c, id, 4, 25); /* 1.5 s of work for one engine */
  for (id = 1; id <= 3; id++)
    cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);

  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_draining(c);
  ASSERT_EQ(mlfq_peer_connect(&late, d.host, d.port, WAIT_MS, err, sizeof(err)),
            -ECONNREFUSED);
  cl_submit(c, 10, 4, 3);
  wait_ended(c, 3);
  for (id = 1; id <= 3; id++) {
    ASSERT_EQ(c->done[id], 1);
    ASSERT_EQ(c->tokens[id], 25);
    ASSERT_EQ(c->err[id], 0);
  }
  ASSERT_EQ(c->err[10], MLFQ__ERROR_CODE__SHUTTING_DOWN);
  ASSERT_EQ(c->accepted[10], 0);
  expect_closed(c);
  cl_close(c);
  ASSERT_EQ(stop(&d, 0, 5), 0);
}

/* SIGINT drains the same way. */
TEST(lifecycle, sigint_idle) {
  const char *args[] = {NULL};
  mlfq_test_daemon_t d;
  client_t *c;

  start(&d, args);
  c = cl_open(&d);
  ASSERT_EQ(kill(d.pid, SIGINT), 0);
  expect_closed(c);
  cl_close(c);
  ASSERT_EQ(stop(&d, 0, 5), 0);
}

/* Requests still in flight at --drain-timeout get SHUTTING_DOWN and the
 * daemon exits 0 soon after. */
TEST(lifecycle, drain_timeout) {
  const char *args[] = {
      "--decode-ms", "1", "--prefill-ms-per-token", "0.01", "--drain-timeout",
      "0.2",         NULL};
  mlfq_test_daemon_t d;
  int64_t signalled;
  client_t *c;
  uint64_t id;

  start(&d, args);
  c = cl_open(&d);
  for (id = 1; id <= 3; id++)
    cl_submit(c, id, 4, 100000); /* 100 s each */
  for (id = 1; id <= 3; id++)
    cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  signalled = now_ms();
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_ended(c, 3);
  ASSERT_GE(now_ms() - signalled, 150);
  for (id = 1; id <= 3; id++) {
    ASSERT_EQ(c->err[id], MLFQ__ERROR_CODE__SHUTTING_DOWN);
    ASSERT_EQ(c->done[id], 0);
  }
  expect_closed(c);
  cl_close(c);
  ASSERT_EQ(stop(&d, 0, 3), 0);
  ASSERT_LT(now_ms() - signalled, 3000);
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
  client_t *c;
  int rc, pid;

  start(&d, args);
  c = cl_open(&d);
  cl_submit(c, 1, 20000, 2);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, 1);
  signalled = now_ms();
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_ended(c, 1);
  ASSERT_EQ(c->err[1], MLFQ__ERROR_CODE__SHUTTING_DOWN);
  rc = mlfq_peer_recv(&c->p, &m, 2000);
  if (rc != -EPIPE) {
    pid = d.pid;
    kill(pid, SIGKILL);
    stop(&d, 0, 5);
    MLFQ_TEST_FAIL("%lld ms after SIGTERM (--drain-timeout 0.2, a 20 s "
                   "iteration running) the daemon still holds the "
                   "connection open (recv %d: %s)",
                   (long long)(now_ms() - signalled), rc, mlfq_strerror(rc));
  }
  cl_close(c);
  ASSERT_EQ(stop(&d, 0, 3), 0);
  ASSERT_LT(now_ms() - signalled, 3000);
}

/* A second signal during the drain exits at once, non-zero, and removes
 * the pidfile. */
TEST(lifecycle, second_signal) {
  static const char *const names[] = {"pid", NULL};
  char dir[64], pidfile[128];
  const char *args[] = {"--decode-ms", "1", "--pidfile", pidfile, NULL};
  mlfq_test_daemon_t d;
  int64_t signalled;
  client_t *c;
  uint64_t id;
  int status;

  tmpdir(dir, sizeof(dir));
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  start(&d, args);
  ASSERT(exists(pidfile));
  c = cl_open(&d);
  for (id = 1; id <= 2; id++)
    cl_submit(c, id, 4, 100000);
  for (id = 1; id <= 2; id++)
    cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_ACCEPTED, id);
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  wait_draining(c);
  signalled = now_ms();
  status = stop(&d, SIGTERM, 2);
  ASSERT_NE(status, 0);
  ASSERT_LT(now_ms() - signalled, 2000);
  ASSERT(!exists(pidfile));
  cl_close(c);
  rmtree(dir, names);
}

/* Runs MLFQ_BIN_DIR/mlfqd with args, stdin from /dev/null, stdout to a
 * pipe (*out) and stderr to errfd. Returns its pid. */
static pid_t spawn(const char *const *args, int *out, int errfd) {
  char *argv[32];
  int fds[2], null, n = 0;
  pid_t pid;

  argv[n++] = MLFQ_BIN_DIR "/mlfqd";
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fflush(NULL);
  pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(fds[1], 1);
    dup2(errfd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  *out = fds[0];
  return pid;
}

/* Reads fd until EOF (at most timeout_ms) into buf; returns 0, or -1 if
 * fd is still open at the deadline. */
static int read_to_eof(int fd, char *buf, size_t len, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  struct pollfd p;
  size_t got = 0;
  char scratch[256];
  ssize_t n;

  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, left_ms(deadline)) == 0)
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
  int64_t deadline = now_ms() + timeout_ms;
  int status;

  for (;;) {
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (now_ms() > deadline)
      return -2;
    poll(NULL, 0, 10); /* waiting for a process has no event to wait on */
  }
}

static long read_pid(const char *path) {
  char *s = slurp(path);
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
  client_t *c;
  int out, errfd, port, status;
  pid_t pid;
  long dpid;

  /* The detached server becomes this process's child when its parent
   * exits, so that its exit status can be read. */
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
  tmpdir(dir, sizeof(dir));
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
  errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(errfd, 0);
  pid = spawn(args, &out, errfd);
  close(errfd);
  track(pid, NULL);
  ASSERT_EQ(read_to_eof(out, printed, sizeof(printed), WAIT_MS), 0);
  close(out);
  status = wait_exit(pid, WAIT_MS);
  untrack(pid);
  ASSERT_EQ(status, 0);

  ASSERT(exists(pidfile));
  dpid = read_pid(pidfile);
  track((int)dpid, NULL);
  ASSERT_NE(dpid, pid);
  ASSERT_EQ(kill((pid_t)dpid, 0), 0);
  port_text = slurp(portfile);
  ASSERT_STR_EQ(port_text, printed);
  *strchr(port_text, '\n') = '\0';
  ASSERT_OK(mlfq_peer_parse_addr(port_text, host, sizeof(host), &port));
  ASSERT_STR_EQ(host, "127.0.0.1");
  free(port_text);
  c = cl_open_at(host, port);
  cl_submit(c, 1, 4, 3);
  cl_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, 1);
  ASSERT_EQ(c->tokens[1], 3);
  cl_close(c);

  ASSERT_EQ(kill((pid_t)dpid, SIGTERM), 0);
  status = wait_exit((pid_t)dpid, WAIT_MS);
  untrack((int)dpid);
  ASSERT_EQ(status, 0);
  ASSERT_EQ(kill((pid_t)dpid, 0), -1);
  ASSERT(!exists(pidfile));
  log = slurp(logfile);
  ASSERT_CONTAINS(log, "listening on");
  ASSERT_CONTAINS(log, "stopped");
  free(log);
  rmtree(dir, names);
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
  tmpdir(dir, sizeof(dir));
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  ASSERT_EQ(pipe2(errp, O_CLOEXEC), 0);
  pid = spawn(args, &out, errp[1]);
  close(errp[1]);
  track(pid, NULL);
  ASSERT_EQ(read_to_eof(out, printed, sizeof(printed), WAIT_MS), 0);
  close(out);
  status = wait_exit(pid, WAIT_MS);
  untrack(pid);
  ASSERT_EQ(status, 0);
  dpid = read_pid(pidfile);
  track((int)dpid, NULL);

  stderr_open = read_to_eof(errp[0], NULL, 0, 2000) != 0;
  close(errp[0]);
  ASSERT_EQ(kill((pid_t)dpid, SIGTERM), 0);
  status = wait_exit((pid_t)dpid, WAIT_MS);
  untrack((int)dpid);
  ASSERT_EQ(status, 0);
  rmtree(dir, names);
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

  tmpdir(dir, sizeof(dir));
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(num, sizeof(num), "%ld", (long)getpid());
  snprintf(text, sizeof(text), "%s\n", num);
  write_file(pidfile, text);
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 1);
  ASSERT_STR_EQ(out, "");
  ASSERT_CONTAINS(err, pidfile);
  ASSERT_CONTAINS(err, num);
  ASSERT_CONTAINS(err, "running");
  after = slurp(pidfile);
  ASSERT_STR_EQ(after, text);
  free(after);
  free(out);
  free(err);
  rmtree(dir, names);
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

  tmpdir(dir, sizeof(dir));
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  gone = fork();
  ASSERT_GE(gone, 0);
  if (gone == 0)
    _exit(0);
  ASSERT_EQ(waitpid(gone, &status, 0), gone);
  snprintf(text, sizeof(text), "%ld\n", (long)gone);
  write_file(pidfile, text);
  start(&d, args);
  ASSERT_EQ(read_pid(pidfile), d.pid);
  ASSERT_EQ(stop(&d, SIGTERM, 5), 0);
  ASSERT(!exists(pidfile));
  rmtree(dir, names);
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

  bad_option(unknown);
  bad_option(policy);
  bad_option(listen);
  bad_option(port);
  bad_option(scale);
  bad_option(missing);
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

  start(&d, args);
  argv[2] = d.addr;
  status = mlfq_test_run(argv, &out, &err, 5);
  if (status != 1)
    MLFQ_TEST_FAIL("exit %d, expected 1 (stderr: %s)", status, err);
  ASSERT_STR_EQ(out, "");
  ASSERT_CONTAINS(err, "cannot listen");
  free(out);
  free(err);
  ASSERT_EQ(stop(&d, SIGTERM, 5), 0);
}

/* A --listen host that is not an IP address is a bad option too. */
TEST(lifecycle, listen_host_not_ip) {
  static const char *const args[] = {"--listen", "nonsense:7070", NULL};

  bad_option(args);
}
