/* Logging under attack: a full stderr, a flood, forged lines. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. Every wait has a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "wire/wire.h"

#include "client.h"

/* Opens a connection to d, writes a frame header announcing 4 GiB (past
 * any --max-frame-bytes: a BAD_FRAME the server logs) and waits at most
 * 10 s for its answer, the Error or the close. Returns 1 if it came. */
static int log_bad_connection(const mlfq_test_daemon_t *d) {
  struct sockaddr_in a;
  struct pollfd p;
  char buf[256];
  int fd, answered;

  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)d->port);
  ASSERT_EQ(inet_pton(AF_INET, d->host, &a.sin_addr), 1);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ASSERT_EQ(write(fd, "\xff\xff\xff\xff", 4), 4);
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  answered = poll(&p, 1, 10000) == 1;
  if (answered)
    (void)!read(fd, buf, sizeof(buf));
  close(fd);
  return answered;
}

/* n bad connections, one after the other, each answered. */
static void log_flood(const mlfq_test_daemon_t *d, int n) {
  int i;

  for (i = 0; i < n; i++)
    if (!log_bad_connection(d))
      MLFQ_TEST_FAIL("bad connection %d of %d had no answer within 10 s: "
                     "the daemon is stuck",
                     i + 1, n);
}

/* mlfqd wrote its log on the loop thread: with stderr a pipe nobody reads,
 * a few dozen logged BAD_FRAMEs filled it and the daemon stopped in
 * write(2), serving nobody. Now a writer thread blocks instead, lines that
 * do not fit its queue are counted, and the daemon still serves, and
 * still exits, without waiting for its log more than a second. At level
 * debug (two lines a connection, not rate-limited) the pipe fills even
 * with the rate limit of lines about peers. */
TEST(hostile, log_on_a_full_pipe_does_not_block) {
  const char *args[] = {"--listen",    "127.0.0.1:0", "--decode-ms", "1",
                        "--log-level", "debug",       NULL};
  Mlfq__ServerMessage *m;
  mlfq_test_daemon_t d;
  int64_t start, flooded, served;
  tc_held_t h;
  tc_client_t *c;
  int p[2];

  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  (void)fcntl(p[1], F_SETPIPE_SZ, 4096); /* full after a few dozen lines */
  tc_hold(&h, "mlfqd", args, p[1]);
  close(p[1]);
  tc_release(&h, &d);
  start = tc_now_ms();
  log_flood(&d, 2000);
  flooded = tc_now_ms();
  c = tc_open(&d, 1);
  tc_run(c, 1, 4, 3);
  m = tc_stats(c);
  ASSERT_EQ_U64(m->stats->completed, 1);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(c);
  served = tc_now_ms();
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  printf("stderr full: 2000 bad connections answered in %lld ms, then a "
         "client served in %lld ms; exit %lld ms after SIGTERM\n",
         (long long)(flooded - start), (long long)(served - flooded),
         (long long)(tc_now_ms() - served));
  close(p[0]);
}

/* Every BAD_FRAME was a line of the log: a peer could grow --log-file
 * without limit. Now lines peers cause share one token bucket; the log
 * holds at most its burst and rate of them over the flood, plus the count
 * of those suppressed, and the two add up to the flood. */
TEST(hostile, peer_lines_are_rate_limited) {
  static const char *const names[] = {"log", NULL};
  char dir[64], logfile[128];
  const char *args[] = {"--log-file", logfile, NULL};
  unsigned long long n, suppressed = 0;
  long passed = 0, lines = 0, bound;
  char *log, *s, *end, line[1024];
  mlfq_test_daemon_t d;
  int64_t start;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  start = tc_now_ms();
  mlfq_test_daemon_start(&d, args);
  log_flood(&d, 2000);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  bound = MLFQ_LOG_PEER_BURST +
          (long)(MLFQ_LOG_PEER_PER_S * (tc_now_ms() - start) / 1000) + 1;
  log = mlfq_test_slurp(logfile);
  for (s = log; *s != '\0'; s = end + 1) {
    end = strchr(s, '\n');
    if (end == NULL)
      MLFQ_TEST_FAIL("the log ends in a cut line: \"%s\"", s);
    snprintf(line, sizeof(line), "%.*s", (int)(end - s), s);
    lines++;
    passed += strstr(line, "BAD_FRAME") != NULL;
    if (strchr(line, '(') != NULL &&
        sscanf(strchr(line, '('), "(%llu similar lines suppressed)", &n) == 1)
      suppressed += n;
  }
  ASSERT_EQ(passed + (long)suppressed, 2000);
  ASSERT_GT(suppressed, 0);
  ASSERT_LE(passed, bound);
  ASSERT_LE(lines, 2 * passed + 10);
  printf("2000 bad connections: %ld BAD_FRAME lines logged (bound %ld), "
         "%llu suppressed; the log has %ld lines\n",
         passed, bound, suppressed, lines);
  free(log);
  tc_rmtree(dir, names);
}

/* Runs argv (argv[0] a path) with stderr errfd and waits at most
 * timeout_ms for it to exit (its stdout, a pipe, closes); returns its
 * exit status, or -1 if it did not exit (it is killed). */
static int log_exit_within(char *const *argv, int errfd, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  int out[2], status;
  char buf[256];
  ssize_t n;
  pid_t pid;

  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  pid = mlfq_test_spawn(argv, -1, out[1], errfd);
  mlfq_test_track(pid);
  close(out[1]);
  for (;;) {
    struct pollfd p = {out[0], POLLIN, 0};
    if (poll(&p, 1, tc_left_ms(deadline)) <= 0)
      break;
    n = read(out[0], buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EINTR))
      break;
  }
  close(out[0]);
  if (tc_left_ms(deadline) == 0)
    kill(pid, SIGKILL);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  mlfq_test_untrack(pid);
  return tc_left_ms(deadline) > 0 && WIFEXITED(status) ? WEXITSTATUS(status)
                                                       : -1;
}

/* Without --log-file, a failure at start (here a port in use) was printed
 * on stderr with fprintf, before the lines the log held and in the
 * loop's own write(2): on a pipe nobody reads, full, mlfqd and mlfq-router
 * never exited. Now the cause goes through the log, as its last line, and
 * the exit waits for it at most a second. */
TEST(hostile, start_failure_on_a_full_stderr_exits) {
  char listen[64], *err, *last;
  char *mlfqd[] = {MLFQ_BIN_DIR "/mlfqd", "--listen", listen, NULL};
  char *router[] = {MLFQ_BIN_DIR "/mlfq-router",
                    "--listen",
                    listen,
                    "--replica",
                    "127.0.0.1:1",
                    NULL};
  char **argvs[2] = {mlfqd, router};
  int busy, port, i, p[2], flags, status;
  int64_t start;

  busy = tc_listen_any(&port);
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  for (i = 0; i < 2; i++) {
    /* Readable stderr: one line, the log's, naming the cause. */
    status = mlfq_test_run(argvs[i], NULL, &err, 10);
    if (status != 1)
      MLFQ_TEST_FAIL("%s: exit %d, expected 1 (stderr: %s)", argvs[i][0],
                     status, err);
    ASSERT(strlen(err) > 0 && err[strlen(err) - 1] == '\n');
    err[strlen(err) - 1] = '\0';
    last = strrchr(err, '\n') != NULL ? strrchr(err, '\n') + 1 : err;
    ASSERT_CONTAINS(last, " error: cannot listen on ");
    ASSERT_CONTAINS(last, listen);
    free(err);

    /* stderr a full pipe nobody reads. */
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    (void)fcntl(p[1], F_SETPIPE_SZ, 4096);
    flags = fcntl(p[1], F_GETFL);
    ASSERT_EQ(fcntl(p[1], F_SETFL, flags | O_NONBLOCK), 0);
    while (write(p[1], "x", 1) == 1)
      ;
    ASSERT_EQ(errno, EAGAIN);
    ASSERT_EQ(fcntl(p[1], F_SETFL, flags), 0);
    start = tc_now_ms();
    status = log_exit_within(argvs[i], p[1], 10000);
    if (status != 1)
      MLFQ_TEST_FAIL("%s, its stderr full: exit %d (-1: still running after "
                     "10 s), expected 1",
                     argvs[i][0], status);
    printf("%s: port in use, stderr full: exit 1 in %lld ms\n", argvs[i][0],
           (long long)(tc_now_ms() - start));
    close(p[0]);
    close(p[1]);
  }
  close(busy);
}

/* Connects to d, says Hello with client name name and waits for the
 * Welcome. */
static void log_hello_as(const mlfq_test_daemon_t *d, const char *name) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  tc_client_t *c = tc_open(d, 0);

  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = (char *)name;
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  tc_send(c, &m);
  tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_WELCOME, TC_ANY_ID);
  tc_close(c);
}

/* Asserts that every line of the log at path is a log line (it starts
 * with the timestamp's year and names prog) and that the Hello of name
 * "a\nERROR forged" was logged on one line, escaped. */
static void log_expect_one_line_hello(const char *path, const char *prog) {
  char *log = mlfq_test_slurp(path), *s, *end, tag[64];

  snprintf(tag, sizeof(tag), " %s[", prog);
  for (s = log; *s != '\0'; s = end + 1) {
    end = strchr(s, '\n');
    ASSERT(end != NULL);
    *end = '\0';
    if (strncmp(s, "20", 2) != 0 || strstr(s, tag) == NULL)
      MLFQ_TEST_FAIL("%s: a line that is not a log line: \"%s\"", path, s);
    *end = '\n';
  }
  ASSERT_CONTAINS(log, "hello from 'a\\nERROR forged'\n");
  free(log);
}

/* A client's name in Hello was logged as it came: a newline in it made
 * a line of the client's own in mlfqd's and the router's log ("a", then
 * "ERROR forged"). Now it is escaped (mlfq_log_escape), and so are the
 * strings replicas send the router. */
TEST(hostile, hello_name_cannot_forge_a_log_line) {
  static const char *const names[] = {"mlfqd.log", "router.log", NULL};
  char dir[64], dlog[128], rlog[128];
  const char *dargs[] = {"--log-level", "debug", "--log-file", dlog, NULL};
  const char *rargs[] = {"--replica",  NULL, "--log-level", "debug",
                         "--log-file", rlog, NULL};
  mlfq_test_daemon_t d, rt;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(dlog, sizeof(dlog), "%s/mlfqd.log", dir);
  snprintf(rlog, sizeof(rlog), "%s/router.log", dir);
  mlfq_test_daemon_start(&d, dargs);
  rargs[1] = d.addr;
  mlfq_test_server_start(&rt, MLFQ_BIN_DIR "/mlfq-router", rargs);
  log_hello_as(&d, "a\nERROR forged");
  log_hello_as(&rt, "a\nERROR forged");
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 10), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  log_expect_one_line_hello(dlog, "mlfqd");
  log_expect_one_line_hello(rlog, "mlfq-router");
  tc_rmtree(dir, names);
}
