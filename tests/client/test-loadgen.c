/* loadgen's runs and reports: Figure 6, compare mode, trace, seeds, names. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cost.h"
#include "core/sched.h"
#include "wire/frame.h"
#include "wire/wire.h"

#include "client.h"
#include "client/lg.h"

/* 1. Figure 6 through each policy: every job's JCT is docs/MODEL.md's Figure 6
 * x 20. */
static void figure6(const char *policy, const int want[3]) {
  char *dir = lg_tmpdir();
  const char *jobs = lg_in_dir(dir, "jobs.csv");
  const char *const names[] = {"jobs.csv", NULL};
  mlfq_test_daemon_t d;
  job_row_t rows[MAXJOBS];
  char *out, *err;
  double slack;
  int n, i;

  lg_start_figure6(&d, policy);
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
  n = lg_read_jobs(jobs, rows);
  ASSERT_EQ(n, 3);
  /* a sanitizer's build may be late by more than 6 ms (one CI run: 6.15 ms
   * late on a 220 ms job under ASan); a loaded machine by what the daemon
   * measures (one run at load average 10: 8 ms late on 180 ms) */
  slack = (MLFQ_TEST_SANITIZED ? 15 : 6) + (double)tc_slack_ns(&d) / 1e6;
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(rows[i].id, i);
    ASSERT_STR_EQ(rows[i].status, "ok");
    ASSERT_NEAR(rows[i].jct_ms, want[i] * 20, slack);
    ASSERT_NEAR(rows[i].jct_ms, rows[i].finish_ms - rows[i].arrival_ms, 0.01);
  }
  free(out);
  free(err);
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
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
  char *dir = lg_tmpdir();
  const char *const names[] = {"jobs-fcfs.csv", "jobs-mlfq.csv", NULL};
  char fcfs_arg[160], mlfq_arg[160], jobs[512], line[256], *out, *err;
  mlfq_test_daemon_t a, b;
  job_row_t rows[MAXJOBS];
  double r_fcfs, r_mlfq;
  int i, k;

  snprintf(jobs, sizeof(jobs), "%s/jobs.csv", dir);
  lg_start_figure6(&a, "fcfs");
  lg_start_figure6(&b, "mlfq");
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
    ASSERT_EQ(lg_read_jobs(lg_in_dir(dir, names[k]), rows), 3);
    for (i = 0; i < 3; i++)
      ASSERT_STR_EQ(rows[i].status, "ok");
  }
  ASSERT(access(jobs, F_OK) != 0); /* the files are per label */
  free(out);
  free(err);
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&a);
  lg_stop(&b);
}

/* 3. The trace has each job's tokens 1..n once, in order, times sorted. */
TEST(loadgen, trace_has_every_token_in_order) {
  const char *args[] = {"--policy",     "mlfq",        "--prefill-ms-per-token",
                        "0.1",          "--decode-ms", "1",
                        "--quantum-ms", "2",           NULL};
  char *dir = lg_tmpdir();
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
  n = lg_read_jobs(jobs, rows);
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
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
}

/* 9. One seed, one schedule: lengths equal, send times within 1 ms. */
TEST(loadgen, same_seed_same_schedule) {
  char *dir = lg_tmpdir();
  const char *const names[] = {"a.csv", "b.csv", NULL};
  static job_row_t rows[2][MAXJOBS];
  char path[2][512], *out, *err;
  mlfq_test_daemon_t d;
  int n[2], i, k;

  lg_start_zero(&d);
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
    n[k] = lg_read_jobs(path[k], rows[k]);
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
  lg_rm_dir(dir, names);
  free(dir);
  lg_stop(&d);
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
  char addr[64], *out;
  int fd, status, port;
  pid_t pid;

  fd = tc_listen_any(&port);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
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

  lg_start_figure6(&d, "fcfs");
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
  ASSERT_EQ(lg_count_lines(err), 1);
  ASSERT_CONTAINS(err, "no-such-host.invalid");
  free(out);
  free(err);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
}

/* Zero or tiny iterations keep the model's clock: a run of 128-token
 * requests at 2,000 a second (500 under a sanitizer), batched 64 at a time,
 * is served as the model says, every request's wall JCT near its model JCT.
 * The daemon reports an end that is already due itself instead of through
 * an engine thread; before it did, each iteration cost a hand-off, and this
 * run's p95 was 3.4 s (not a bound on lateness: the lateness was the fault).
 */
static void tiny_iterations(const char *decode_ms) {
  const char *args[] = {"--prefill-ms-per-token",
                        "0",
                        "--decode-ms",
                        decode_ms,
                        "--max-batch",
                        "64",
                        "--policy",
                        "fcfs",
                        NULL};
  const char *rate = MLFQ_TEST_SANITIZED ? "500" : "2000";
  mlfq_test_daemon_t d;
  char *out, *err, *p;
  double mean_ms, p95_ms;

  mlfq_test_daemon_start(&d, args);
  {
    char *argv[] = {LOADGEN,      "--server",       d.addr,     "--connections",
                    "4",          "--num-requests", "400",      "--rate",
                    (char *)rate, "--input-len",    "fixed:16", "--output-len",
                    "fixed:128",  "--quiet",        NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 60), 0);
  }
  p = strstr(out, "|JCT - model| mean ");
  ASSERT(p != NULL);
  ASSERT_EQ(
      sscanf(p, "|JCT - model| mean %lf ms, p95 %lf ms", &mean_ms, &p95_ms), 2);
  ASSERT_LT_DBL(p95_ms, 50);
  free(out);
  free(err);
  lg_stop(&d);
}

TEST(loadgen, zero_time_iterations_keep_the_model) { tiny_iterations("0"); }

TEST(loadgen, tiny_iterations_keep_the_model) { tiny_iterations("0.01"); }

/* A daemon that cannot keep the model's time says so: at --time-scale
 * 1e-6 a 5.5 ms decode lasts 5.5 ns of wall time, far less than the loop
 * needs to hand out an iteration, so the ends are handled ever later. The
 * daemon logs that it is behind, and loadgen, told by each Done, warns. */
TEST(loadgen, a_server_behind_the_model_is_flagged) {
  const char *args[] = {"--time-scale", "1e-6", NULL};
  mlfq_test_daemon_t d;
  char *out, *err, *log;

  mlfq_test_daemon_start(&d, args);
  {
    char *argv[] = {LOADGEN,   "--server",     d.addr,       "--num-requests",
                    "50",      "--output-len", "fixed:1000", "--input-len",
                    "fixed:8", "--quiet",      NULL};
    ASSERT_EQ(mlfq_test_run(argv, &out, &err, 60), 0);
  }
  ASSERT_CONTAINS(out, "WARNING: the server fell behind the model for ");
  log = tc_wait_log(&d, "behind the model's time: an iteration ended ");
  free(log);
  free(out);
  free(err);
  lg_stop(&d);
}
