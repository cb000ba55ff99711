/* mlfq-router's life: the drain, the drain timeout, daemon mode, options. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/wire.h"

#include "router/rig.h"

/* The first SIGTERM lets the requests in flight finish while new
 * connections are refused and new Submits get SHUTTING_DOWN; then the
 * router closes the connection and exits 0. The replicas keep running. A
 * fifth request, behind the others (fcfs) and far longer, keeps the drain
 * open until the test has seen all that, however slowly it runs; then it
 * is cancelled. */
TEST(router, sigterm_drains) {
  const char *rargs[] = {"--decode-ms", "20",       "--prefill-ms-per-token",
                         "0.01",        "--policy", "fcfs",
                         NULL};
  const char *args[] = {NULL};
  mlfq_peer_t late;
  tc_client_t *c;
  char err[256];
  uint64_t id;
  rig_t g;
  int i;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 4; id++)
    tc_submit(c, id, 4, 25);  /* 500 ms each */
  tc_submit(c, 5, 4, 100000); /* 2,000 s */
  rig_wait_accepted(c, 1, 5);
  ASSERT_EQ(kill(g.router.pid, SIGTERM), 0);
  tc_wait_draining(c);
  ASSERT_EQ(mlfq_peer_connect(&late, g.router.host, g.router.port, TC_WAIT_MS,
                              err, sizeof(err)),
            -ECONNREFUSED);
  tc_submit(c, 10, 4, 3);
  tc_expect_error(c, 10, MLFQ__ERROR_CODE__SHUTTING_DOWN);
  for (id = 1; id <= 4; id++) {
    if (c->done[id] == 0)
      tc_wait_free(c, MLFQ__SERVER_MESSAGE__MSG_DONE, id);
    ASSERT_EQ(c->tokens[id], 25);
  }
  tc_cancel(c, 5);
  tc_expect_error(c, 5, MLFQ__ERROR_CODE__CANCELLED);
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.router, 0, 5), 0);
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[i], SIGTERM, 10), 0);
}

/* Requests still in flight at --drain-timeout get SHUTTING_DOWN, the
 * router exits 0 soon after, and the replicas cancel them. */
TEST(router, drain_timeout) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--drain-timeout", "0.2", NULL};
  Mlfq__ServerMessage *m;
  int64_t signalled, deadline;
  tc_client_t *c;
  uint64_t id, cancelled;
  rig_t g;
  int i;

  rig_start(&g, 2, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 4; id++)
    tc_submit(c, id, 4, 100000);
  rig_wait_accepted(c, 1, 4);
  signalled = tc_now_ms();
  ASSERT_EQ(kill(g.router.pid, SIGTERM), 0);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (id = 1; id <= 4; id++)
    while (c->err[id] == 0)
      mlfq__server_message__free_unpacked(tc_recv(c, tc_left_ms(deadline)),
                                          NULL);
  ASSERT_GE(tc_now_ms() - signalled, 150);
  for (id = 1; id <= 4; id++) {
    ASSERT_EQ(c->err[id], MLFQ__ERROR_CODE__SHUTTING_DOWN);
    ASSERT_EQ(c->done[id], 0);
  }
  tc_expect_closed(c);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&g.router, 0, 3), 0);
  ASSERT_LT(tc_now_ms() - signalled, 3000);
  deadline = tc_now_ms() + TC_WAIT_MS;
  for (;;) {
    cancelled = 0;
    for (i = 0; i < 2; i++) {
      c = tc_open(&g.rep[i], 1);
      m = tc_stats(c);
      cancelled += m->stats->cancelled;
      mlfq__server_message__free_unpacked(m, NULL);
      tc_close(c);
    }
    if (cancelled == 4)
      break;
    ASSERT_LT(tc_now_ms(), deadline);
  }
  for (i = 0; i < 2; i++)
    ASSERT_EQ(mlfq_test_daemon_stop(&g.rep[i], SIGTERM, 10), 0);
}

/* --daemon returns once the detached router listens: the port file holds
 * its address, the pidfile its pid; SIGTERM stops it with exit 0 and
 * removes the pidfile; the log file has its life. */
TEST(router, daemon_mode) {
  const char *rargs[] = {FAST, NULL};
  char dir[64], pidfile[128], portfile[128], logfile[128], *out, *err, *text;
  char *argv[16], host[64];
  mlfq_test_daemon_t d;
  int64_t deadline;
  tc_client_t *c;
  int port, status, n = 0;
  long pid;

  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
  mlfq_test_daemon_start(&d, rargs);
  snprintf(dir, sizeof(dir), "/tmp/mlfq-router-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  argv[n++] = ROUTER;
  argv[n++] = "--daemon";
  argv[n++] = "--listen";
  argv[n++] = "127.0.0.1:0";
  argv[n++] = "--replica";
  argv[n++] = d.addr;
  argv[n++] = "--pidfile";
  argv[n++] = pidfile;
  argv[n++] = "--port-file";
  argv[n++] = portfile;
  argv[n++] = "--log-file";
  argv[n++] = logfile;
  argv[n] = NULL;
  status = mlfq_test_run(argv, &out, &err, 10);
  /* The detached router is this test's to stop even if the rest fails. */
  text = access(pidfile, F_OK) == 0 ? mlfq_test_slurp(pidfile) : NULL;
  pid = text != NULL ? strtol(text, NULL, 10) : 0;
  free(text);
  if (pid > 0)
    mlfq_test_track((int)pid);
  if (status != 0)
    MLFQ_TEST_FAIL("mlfq-router --daemon: exit %d: %s", status, err);
  ASSERT_GT(pid, 0);
  text = mlfq_test_slurp(portfile);
  ASSERT_STR_EQ(text, out);
  free(text);
  *strchr(out, '\n') = '\0';
  ASSERT_OK(mlfq_peer_parse_addr(out, host, sizeof(host), &port));
  c = tc_open_at(host, port, 1);
  tc_run(c, 1, 4, 3);
  tc_close(c);
  ASSERT_EQ(kill((pid_t)pid, SIGTERM), 0);
  deadline = tc_now_ms() + TC_WAIT_MS;
  while (waitpid((pid_t)pid, &status, WNOHANG) != (pid_t)pid) {
    ASSERT_LT(tc_now_ms(), deadline);
    poll(NULL, 0, 10); /* waiting for a process has no event to wait on */
  }
  mlfq_test_untrack((int)pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(access(pidfile, F_OK), -1);
  text = mlfq_test_slurp(logfile);
  ASSERT_CONTAINS(text, "listening on");
  ASSERT_CONTAINS(text, "replica 1");
  ASSERT_CONTAINS(text, "stopped");
  free(text);
  free(out);
  free(err);
  unlink(portfile);
  unlink(logfile);
  rmdir(dir);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

/* mlfq-router with args exits 2 with one line on stderr naming why. */
static void bad_option(const char *const *args, const char *why) {
  char *argv[16], *out, *err;
  int n = 0, status;

  argv[n++] = ROUTER;
  while (*args != NULL && n < 15)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  status = mlfq_test_run(argv, &out, &err, 5);
  if (status != 2)
    MLFQ_TEST_FAIL("exit %d, expected 2 (stderr: %s)", status, err);
  ASSERT_STR_EQ(out, "");
  ASSERT(strncmp(err, "mlfq-router: ", 13) == 0);
  ASSERT_CONTAINS(err, why);
  if (strchr(err, '\n') != err + strlen(err) - 1)
    MLFQ_TEST_FAIL("stderr is not one line: \"%s\"", err);
  free(out);
  free(err);
}

TEST(router, bad_options) {
  static const char *const none[] = {"--listen", "127.0.0.1:0", NULL};
  static const char *const addr[] = {"--replica", "nonsense", NULL};
  static const char *const port0[] = {"--replica", "127.0.0.1:0", NULL};
  static const char *const policy[] = {"--replica", "127.0.0.1:1", "--policy",
                                       "fastest", NULL};
  static const char *const listen[] = {"--replica", "127.0.0.1:1", "--listen",
                                       "nowhere:1", NULL};
  static const char *const unknown[] = {"--replicas", "127.0.0.1:1", NULL};
  static const char *const probe0[] = {"--replica", "127.0.0.1:1",
                                       "--probe-timeout", "0", NULL};
  char *argv[3], *out, *err;

  bad_option(none, "--replica");
  bad_option(addr, "--replica: 'nonsense'");
  bad_option(port0, "--replica");
  bad_option(policy, "--policy: unknown 'fastest'");
  bad_option(listen, "--listen");
  bad_option(unknown, "--replicas");
  bad_option(probe0, "--probe-timeout: 0 is not in [1, 600000]");

  argv[0] = ROUTER;
  argv[1] = "--help";
  argv[2] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 0);
  ASSERT_CONTAINS(out, "Usage: mlfq-router");
  ASSERT_CONTAINS(out, "--replica HOST:PORT");
  ASSERT_CONTAINS(out, "power-of-two");
  ASSERT_CONTAINS(out, "--max-queued-bytes");
  ASSERT_CONTAINS(out, "--probe-timeout MS");
  free(out);
  free(err);
  argv[1] = "--version";
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 5), 0);
  ASSERT_CONTAINS(out, "mlfq-router ");
  ASSERT_CONTAINS(out, "(protocol 1)");
  free(out);
  free(err);
}
