/* The mlfqctl program, run as scripts and health checks run it, against a
 * real mlfqd and against servers that are not there, say nothing or hang
 * up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"

#define CTL MLFQ_BIN_DIR "/mlfqctl"

static double mono_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs mlfqctl with args (NULL-terminated) against addr (NULL: no
 * --server). Returns the exit status; *out and *err are malloc'ed. */
static int ctl(const char *addr, const char *const *args, char **out,
               char **err) {
  char *argv[32];
  int n = 0;

  argv[n++] = CTL;
  if (addr != NULL) {
    argv[n++] = "--server";
    argv[n++] = (char *)addr;
  }
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  return mlfq_test_run(argv, out, err, 30);
}

/* Asserts that s is exactly one line. */
static void assert_one_line(const char *s) {
  const char *nl = strchr(s, '\n');

  if (nl == NULL || nl[1] != '\0')
    MLFQ_TEST_FAIL("not one line: \"%s\"", s);
}

static const cJSON *field(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

  if (v == NULL)
    MLFQ_TEST_FAIL("no field '%s'", name);
  return v;
}

static double num(const cJSON *o, const char *name) {
  const cJSON *v = field(o, name);

  ASSERT(cJSON_IsNumber(v));
  return v->valuedouble;
}

static const char *text(const cJSON *o, const char *name) {
  const cJSON *v = field(o, name);

  ASSERT(cJSON_IsString(v));
  return v->valuestring;
}

/* Submits one request on a connection of its own and waits for its Done,
 * so that the statistics have something to count. */
static void run_one_request(const mlfq_test_daemon_t *d, uint32_t in,
                            uint32_t out) {
  tc_client_t *c = tc_open(d, 1);

  tc_run(c, 1, in, out);
  tc_close(c);
}

TEST(mlfqctl, ping) {
  const char *dargs[] = {"--policy", "fcfs", NULL};
  const char *args[] = {"ping", NULL};
  mlfq_test_daemon_t d;
  char *out, *err, want[200];

  mlfq_test_daemon_start(&d, dargs);
  ASSERT_EQ(ctl(d.addr, args, &out, &err), 0);
  assert_one_line(out);
  snprintf(want, sizeof(want), "%s mlfqd ", d.addr);
  ASSERT_CONTAINS(out, want);
  ASSERT_CONTAINS(out, " protocol 1 policy fcfs: ok in ");
  ASSERT_CONTAINS(out, " ms\n");
  ASSERT_STR_EQ(err, "");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

TEST(mlfqctl, ping_json) {
  const char *dargs[] = {"--policy", "srpt", NULL};
  const char *args[] = {"ping", "--json", NULL};
  mlfq_test_daemon_t d;
  char *out, *err;
  cJSON *doc;

  mlfq_test_daemon_start(&d, dargs);
  ASSERT_EQ(ctl(d.addr, args, &out, &err), 0);
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  ASSERT(cJSON_IsTrue(field(doc, "ok")));
  ASSERT_STR_EQ(text(doc, "server"), d.addr);
  ASSERT_STR_EQ(text(doc, "policy"), "srpt");
  ASSERT_CONTAINS(text(doc, "server_id"), "mlfqd");
  ASSERT_EQ(num(doc, "protocol_version"), 1);
  ASSERT_LE_DBL(0, num(doc, "rtt_ms"));
  ASSERT_LT_DBL(num(doc, "rtt_ms"), 2000);
  ASSERT_STR_EQ(err, "");
  cJSON_Delete(doc);
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

TEST(mlfqctl, stats_table) {
  const char *dargs[] = {"--policy",     "mlfq", "--queues",  "3",
                         "--quantum-ms", "2",    "--workers", "2",
                         "--max-batch",  "4",    NULL};
  const char *args[] = {"stats", NULL};
  mlfq_test_daemon_t d;
  char *out, *err;

  mlfq_test_daemon_start(&d, dargs);
  ASSERT_EQ(ctl(d.addr, args, &out, &err), 0);
  ASSERT_CONTAINS(out, d.addr);
  ASSERT_CONTAINS(out, "\nConfiguration\n");
  ASSERT_CONTAINS(out, "\n  policy                  mlfq\n");
  ASSERT_CONTAINS(out, "\n  queues                  3\n");
  ASSERT_CONTAINS(out, "\n  quanta (ms)             2 4 8\n");
  ASSERT_CONTAINS(out, "\n  workers                 2\n");
  ASSERT_CONTAINS(out, "\n  max batch               4\n");
  ASSERT_CONTAINS(out, "\n  cost model              profile\n");
  ASSERT_CONTAINS(out, "\n  starve limit (ms)       off\n");
  ASSERT_CONTAINS(out, "\nStatistics\n");
  ASSERT_CONTAINS(out, "\n  connections             1\n");
  ASSERT_CONTAINS(out, "\n  submitted               0\n");
  ASSERT_CONTAINS(out, "\n  draining                no\n");
  ASSERT_CONTAINS(out, "\n  queue lengths           0 0 0\n");
  ASSERT_CONTAINS(out, "\n  worker busy (fraction)  0.000 0.000\n");
  ASSERT_CONTAINS(out, "\n  lateness p50 (us)       ");
  ASSERT_CONTAINS(out, "\n  lateness p99 (us)       ");
  ASSERT_CONTAINS(out, "\n  lateness max (us)       ");
  ASSERT_STR_EQ(err, "");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

TEST(mlfqctl, stats_json) {
  const char *dargs[] = {"--policy",
                         "naive-mlfq",
                         "--queues",
                         "3",
                         "--max-batch",
                         "7",
                         "--workers",
                         "2",
                         "--prefill-ms-per-token",
                         "0.5",
                         "--decode-ms",
                         "1",
                         "--time-scale",
                         "0.5",
                         NULL};
  const char *args[] = {"stats", "--json", NULL};
  const cJSON *cfg, *st, *cost, *lat, *a;
  mlfq_test_daemon_t d;
  char *out, *err;
  cJSON *doc;

  mlfq_test_daemon_start(&d, dargs);
  run_one_request(&d, 4, 3);
  ASSERT_EQ(ctl(d.addr, args, &out, &err), 0);
  ASSERT_STR_EQ(err, "");
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  ASSERT_STR_EQ(text(doc, "server"), d.addr);
  ASSERT_CONTAINS(text(doc, "server_id"), "mlfqd");
  ASSERT_EQ(num(doc, "protocol_version"), 1);

  cfg = field(doc, "config");
  ASSERT_STR_EQ(text(cfg, "policy"), "naive-mlfq");
  ASSERT_EQ(num(cfg, "queues"), 3);
  ASSERT_EQ(num(cfg, "max_batch"), 7);
  ASSERT_EQ(num(cfg, "workers"), 2);
  ASSERT_STR_EQ(text(cfg, "preempt"), "iteration");
  ASSERT_NEAR(num(cfg, "time_scale"), 0.5, 1e-12);
  ASSERT_EQ(num(cfg, "max_pending"), 100000);
  ASSERT_EQ(num(cfg, "max_pending_per_conn"), 50000);
  ASSERT_EQ(num(cfg, "max_frame_bytes"), 65536);
  a = field(cfg, "quanta_ms");
  ASSERT(cJSON_IsArray(a));
  ASSERT_EQ(cJSON_GetArraySize(a), num(cfg, "queues"));
  cost = field(cfg, "cost");
  ASSERT_STR_EQ(text(cost, "kind"), "linear");
  ASSERT_NEAR(num(cost, "prefill_ms_per_token"), 0.5, 1e-12);
  ASSERT_NEAR(num(cost, "decode_ms"), 1, 1e-12);
  ASSERT_EQ(num(cost, "profile_rows"), 0);

  st = field(doc, "stats");
  ASSERT_EQ(num(st, "submitted"), 1);
  ASSERT_EQ(num(st, "completed"), 1);
  ASSERT_EQ(num(st, "cancelled"), 0);
  ASSERT_EQ(num(st, "rejected"), 0);
  ASSERT_EQ(num(st, "running"), 0);
  ASSERT_EQ(num(st, "waiting"), 0);
  ASSERT_EQ(num(st, "tokens"), 3);
  ASSERT_EQ(num(st, "iterations"), 3);
  ASSERT_GE(num(st, "connections"), 1);
  ASSERT_LT_DBL(0, num(st, "uptime_s"));
  ASSERT(cJSON_IsFalse(field(st, "draining")));
  a = field(st, "level_lengths");
  ASSERT(cJSON_IsArray(a));
  ASSERT_EQ(cJSON_GetArraySize(a), num(cfg, "queues"));
  a = field(st, "worker_busy");
  ASSERT(cJSON_IsArray(a));
  ASSERT_EQ(cJSON_GetArraySize(a), 2);
  lat = field(st, "lateness_us");
  ASSERT_LE_DBL(0, num(lat, "p50"));
  ASSERT_LE_DBL(num(lat, "p50"), num(lat, "p99"));
  ASSERT_LE_DBL(0, num(lat, "max"));
  cJSON_Delete(doc);
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

/* Nobody listens: exit 1 at once, naming the address and the reason. */
TEST(mlfqctl, refused) {
  const char *args[] = {"ping", NULL};
  const char *json[] = {"stats", "--json", NULL};
  char *out, *err, addr[64], want[128];
  double t0;
  int fd, port;

  fd = tc_listen_any(&port);
  close(fd);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  snprintf(want, sizeof(want), "mlfqctl: cannot connect to %s: ", addr);
  t0 = mono_s();
  ASSERT_EQ(ctl(addr, args, &out, &err), 1);
  ASSERT_LT_DBL(mono_s() - t0, 1.5);
  ASSERT_STR_EQ(out, "");
  assert_one_line(err);
  ASSERT_CONTAINS(err, want);
  ASSERT_CONTAINS(err, "refused");
  free(out);
  free(err);

  ASSERT_EQ(ctl(addr, json, &out, &err), 1);
  ASSERT_STR_EQ(out, ""); /* no JSON unless the server answered */
  ASSERT_CONTAINS(err, want);
  free(out);
  free(err);
}

/* A server that accepts (the kernel does, on a listening socket) but never
 * answers: exit 1 once --timeout has passed, not before. */
TEST(mlfqctl, timeout) {
  const char *args[] = {"--timeout", "300", "stats", NULL};
  char *out, *err, addr[64];
  double t0, dt;
  int fd, port;

  fd = tc_listen_any(&port);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  t0 = mono_s();
  ASSERT_EQ(ctl(addr, args, &out, &err), 1);
  dt = mono_s() - t0;
  ASSERT_LE_DBL(0.29, dt);
  ASSERT_LT_DBL(dt, 1.5);
  ASSERT_STR_EQ(out, "");
  assert_one_line(err);
  ASSERT_CONTAINS(err, addr);
  ASSERT_CONTAINS(err, "no Welcome within 300 ms");
  free(out);
  free(err);
  close(fd);
}

/* A server that reads the Hello and hangs up. */
TEST(mlfqctl, server_closes) {
  const char *args[] = {"ping", NULL};
  char *out, *err, addr[64], buf[256];
  int fd, port, c, status;
  pid_t pid;

  fd = tc_listen_any(&port);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  fflush(NULL);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    struct pollfd p = {0, POLLIN, 0};

    c = accept(fd, NULL, NULL);
    p.fd = c;
    if (c < 0 || poll(&p, 1, 10000) != 1 || read(c, buf, sizeof(buf)) <= 0)
      _exit(1);
    close(c);
    _exit(0);
  }
  close(fd);
  ASSERT_EQ(ctl(addr, args, &out, &err), 1);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_STR_EQ(out, "");
  assert_one_line(err);
  ASSERT_CONTAINS(err, addr);
  ASSERT_CONTAINS(err, "closed the connection");
  free(out);
  free(err);
}

/* A server that refuses with an Error: its code and message are shown. */
TEST(mlfqctl, server_error) {
  const char *dargs[] = {"--max-connections", "1", NULL};
  const char *args[] = {"ping", NULL};
  mlfq_test_daemon_t d;
  tc_client_t *c;
  char *out, *err;

  mlfq_test_daemon_start(&d, dargs);
  c = tc_open(&d, 1);
  ASSERT_EQ(ctl(d.addr, args, &out, &err), 1);
  ASSERT_STR_EQ(out, "");
  assert_one_line(err);
  ASSERT_CONTAINS(err, d.addr);
  ASSERT_CONTAINS(err, "TOO_MANY_CONNECTIONS");
  free(out);
  free(err);
  tc_close(c);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

static void expect_usage(const char *const *args, const char *why) {
  char *out, *err;

  ASSERT_EQ(ctl(NULL, args, &out, &err), 2);
  ASSERT_STR_EQ(out, "");
  assert_one_line(err);
  ASSERT_CONTAINS(err, "mlfqctl: ");
  ASSERT_CONTAINS(err, why);
  free(out);
  free(err);
}

TEST(mlfqctl, bad_usage) {
  const char *none[] = {NULL};
  const char *json_only[] = {"--json", NULL};
  const char *unknown_cmd[] = {"status", NULL};
  const char *unknown_opt[] = {"--verbose", "ping", NULL};
  const char *extra[] = {"ping", "stats", NULL};
  const char *no_port[] = {"--server", "localhost", "ping", NULL};
  const char *zero_timeout[] = {"--timeout", "0", "ping", NULL};
  const char *bad_timeout[] = {"ping", "--timeout", "soon", NULL};
  const char *no_value[] = {"ping", "--server", NULL};

  expect_usage(none, "missing command");
  expect_usage(json_only, "missing command");
  expect_usage(unknown_cmd, "unknown command 'status'");
  expect_usage(unknown_opt, "--verbose");
  expect_usage(extra, "unexpected argument 'stats'");
  expect_usage(no_port, "--server: 'localhost' is not HOST:PORT");
  expect_usage(zero_timeout, "--timeout");
  expect_usage(bad_timeout, "--timeout");
  expect_usage(no_value, "--server needs a value");
}

TEST(mlfqctl, help_and_version) {
  const char *help[] = {"--help", NULL};
  const char *version[] = {"--version", NULL};
  char *out, *err;

  ASSERT_EQ(ctl(NULL, help, &out, &err), 0);
  ASSERT_CONTAINS(out, "Usage: mlfqctl");
  ASSERT_CONTAINS(out, "--server HOST:PORT");
  ASSERT_CONTAINS(out, "--timeout MS");
  ASSERT_CONTAINS(out, "--json");
  ASSERT_CONTAINS(out, "--help");
  ASSERT_CONTAINS(out, "--version");
  ASSERT_CONTAINS(out, "ping");
  ASSERT_CONTAINS(out, "stats");
  ASSERT_CONTAINS(out, "Exit status");
  ASSERT_STR_EQ(err, "");
  free(out);
  free(err);

  ASSERT_EQ(ctl(NULL, version, &out, &err), 0);
  ASSERT_CONTAINS(out, "mlfqctl ");
  ASSERT_CONTAINS(out, "(protocol 1)");
  free(out);
  free(err);
}
