/* vLLM's example Grafana dashboard against mlfqd, through a real Prometheus.
 *
 * mlfqd runs under load (loadgen over the protocol, one completion over
 * HTTP) while Debian's Prometheus scrapes its /metrics every second into a
 * storage directory of the test's own; then every query of the dashboard
 * (data/vllm_grafana_queries.txt, with $model_name and $__rate_interval
 * filled in) goes to Prometheus' HTTP API, and each must answer with data:
 * at least one sample, and a number (a rate over a window without
 * observations, or a quantile of an empty histogram, is NaN: a panel
 * without data). A query that does not is named with its panel. A loaded
 * scrape also passes promtool. Everything started is killed and the
 * directory removed, on failure too. */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "server/hd.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"
#define QUERIES MLFQ_DATA_DIR "/vllm_grafana_queries.txt"
#define MODEL "opt-1.3b"
/* Grafana's $__rate_interval is at least four scrape intervals; 10 s of
 * 1 s scrapes leaves room for a late scrape on a busy machine. */
#define RATE_INTERVAL "10s"
/* The load lasts longer than the test needs; the test ends it. */
#define LOAD_SECONDS "50"
/* From the start of the load: by then every query must have answered. */
#define QUERY_DEADLINE_MS 45000

/* The test's directory and its Prometheus, for the exit handler. */
static char dir[64];
static int prom_pid;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *f) {
  (void)st;
  (void)flag;
  (void)f;
  remove(path);
  return 0;
}

/* At exit, passed or failed: Prometheus stops writing, then its directory
 * goes. */
static void cleanup(void) {
  if (prom_pid > 0) {
    kill(prom_pid, SIGKILL);
    waitpid(prom_pid, NULL, 0);
    mlfq_test_untrack(prom_pid);
    prom_pid = 0;
  }
  if (dir[0] != '\0')
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  dir[0] = '\0';
}

/* Writes text to dir/name and returns the path in path. */
static void put_file(const char *name, const char *text, char *path,
                     size_t len) {
  FILE *f;

  snprintf(path, len, "%s/%s", dir, name);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  ASSERT_EQ(fputs(text, f) >= 0, 1);
  ASSERT_EQ(fclose(f), 0);
}

/* curl's status code for GET url ("000" when nothing answers). */
static int http_status(const char *url) {
  char *argv[] = {CURL, "-s",           "-o",        "/dev/null",
                  "-w", "%{http_code}", (char *)url, NULL};
  char *out;
  int code;

  mlfq_test_run(argv, &out, NULL, 10);
  code = atoi(out);
  free(out);
  return code;
}

/* Starts Prometheus on a free port with the configuration at cfg, its
 * storage in dir, and waits (at most 30 s) until it is ready; base gets
 * its URL. A port taken between the test's choice and Prometheus' bind
 * makes it exit at once: it is tried again on another, three times. */
static void prom_start(const char *cfg, char *base, size_t len) {
  char flag_cfg[192], flag_db[192], flag_web[64], url[128], log[128];
  char *argv[] = {PROMETHEUS, flag_cfg,           flag_db,
                  flag_web,   "--log.level=warn", NULL};
  int attempt, port, fd, logfd, status;
  int64_t deadline;
  char *text;

  snprintf(flag_cfg, sizeof(flag_cfg), "--config.file=%s", cfg);
  snprintf(flag_db, sizeof(flag_db), "--storage.tsdb.path=%s/tsdb", dir);
  snprintf(log, sizeof(log), "%s/prometheus.log", dir);
  for (attempt = 0; attempt < 3; attempt++) {
    fd = tc_listen_any(&port);
    close(fd);
    snprintf(flag_web, sizeof(flag_web), "--web.listen-address=127.0.0.1:%d",
             port);
    snprintf(base, len, "http://127.0.0.1:%d", port);
    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(logfd, 0);
    prom_pid = mlfq_test_spawn(argv, -1, logfd, logfd);
    mlfq_test_track(prom_pid);
    close(logfd);
    snprintf(url, sizeof(url), "%s/-/ready", base);
    deadline = tc_now_ms() + 30000;
    while (tc_left_ms(deadline) > 0) {
      if (waitpid(prom_pid, &status, WNOHANG) == prom_pid) {
        mlfq_test_untrack(prom_pid);
        prom_pid = 0;
        break;
      }
      if (http_status(url) == 200)
        return;
      poll(NULL, 0, 100);
    }
    if (prom_pid > 0)
      break; /* running, never ready */
  }
  text = mlfq_test_slurp(log);
  MLFQ_TEST_FAIL("Prometheus did not become ready:\n%s", text);
}

/* Prometheus' answer to the instant query q: its "result" array, inside
 * *doc (delete it). Fails the test, naming q, if the query is refused. */
static cJSON *prom_query(const char *base, const char *q, cJSON **doc) {
  char url[160], arg[2048];
  char *argv[] = {CURL, "-s", "-G", "--data-urlencode", arg, url, NULL};
  cJSON *data;
  char *out;

  snprintf(url, sizeof(url), "%s/api/v1/query", base);
  ASSERT_LT(snprintf(arg, sizeof(arg), "query=%s", q), (int64_t)sizeof(arg));
  ASSERT_EQ(mlfq_test_run(argv, &out, NULL, 10), 0);
  *doc = cJSON_Parse(out);
  if (*doc == NULL ||
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(*doc, "status")) ||
      strcmp(cJSON_GetObjectItemCaseSensitive(*doc, "status")->valuestring,
             "success") != 0)
    MLFQ_TEST_FAIL("Prometheus refused %s: %s", q, out);
  free(out);
  data = cJSON_GetObjectItemCaseSensitive(*doc, "data");
  return cJSON_GetObjectItemCaseSensitive(data, "result");
}

/* The largest finite value among result's samples, or NAN if none has
 * one (no sample, or NaN only). */
static double best_value(const cJSON *result) {
  const cJSON *s, *v;
  double best = NAN, x;

  cJSON_ArrayForEach(s, result) {
    v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "value"), 1);
    if (!cJSON_IsString(v))
      continue;
    x = strtod(v->valuestring, NULL);
    if (isfinite(x) && (isnan(best) || x > best))
      best = x;
  }
  return best;
}

/* q with Grafana's variables filled in, into out. */
static void fill(const char *q, char *out, size_t len) {
  static const struct {
    const char *var, *value;
  } vars[] = {{"$model_name", MODEL}, {"$__rate_interval", RATE_INTERVAL}};
  size_t k = 0, i, n;

  while (*q != '\0') {
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
      if (strncmp(q, vars[i].var, strlen(vars[i].var)) == 0)
        break;
    if (i < sizeof(vars) / sizeof(vars[0])) {
      n = strlen(vars[i].value);
      ASSERT_LT(k + n, len);
      memcpy(out + k, vars[i].value, n);
      k += n;
      q += strlen(vars[i].var);
    } else {
      ASSERT_LT(k + 1, len);
      out[k++] = *q++;
    }
  }
  out[k] = '\0';
  ASSERT(strchr(out, '$') == NULL); /* no variable left unfilled */
}

/* The dashboard's queries, filled in: panel[i] and query[i]. */
#define MAXQ 64
typedef struct {
  size_t n;
  char panel[MAXQ][96];
  char query[MAXQ][1024];
} queries_t;

static void load_queries(queries_t *qs) {
  char *text = mlfq_test_slurp(QUERIES), *line, *save = NULL, *bar;

  qs->n = 0;
  for (line = strtok_r(text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (*line == '#' || *line == '\0')
      continue;
    bar = strchr(line, '|');
    ASSERT(bar != NULL);
    ASSERT_LT(qs->n, MAXQ);
    *bar = '\0';
    snprintf(qs->panel[qs->n], sizeof(qs->panel[0]), "%s", line);
    fill(bar + 1, qs->query[qs->n], sizeof(qs->query[0]));
    qs->n++;
  }
  free(text);
  ASSERT_EQ(qs->n, 20); /* the dashboard's twenty queries */
}

/* promtool parses a scrape of mlfqd under load; its only remarks are the
 * colons of vLLM's names and the _total of vllm:iteration_tokens_total, a
 * histogram named so by vLLM. */
static void promtool_check(const hd_t *h) {
  char *argv[] = {"/bin/sh", "-c", NULL, NULL};
  char cmd[512], *out, *err, *line, *save = NULL;

  snprintf(cmd, sizeof(cmd),
           CURL " -s %s/metrics | " PROMTOOL " check metrics 2>&1; "
                "echo \"rc=$?\"",
           h->base);
  argv[2] = cmd;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 30), 0);
  ASSERT(strstr(out, "rc=0\n") != NULL || strstr(out, "rc=3\n") != NULL);
  for (line = strtok_r(out, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "rc=", 3) == 0 ||
        (strncmp(line, "vllm:", 5) == 0 &&
         strstr(line, "metric names should not contain ':'") != NULL) ||
        strcmp(line, "vllm:iteration_tokens_total non-counter metrics "
                     "should not have \"_total\" suffix") == 0)
      continue;
    MLFQ_TEST_FAIL("promtool: %s", line);
  }
  free(out);
  free(err);
}

/* Every panel of vLLM's dashboard has data from a loaded mlfqd. */
TEST(http, grafana_dashboard_queries) {
  /* A KV cache that fills under the load, so that it swaps. */
  const char *args[] = {"--model-name",
                        MODEL,
                        "--decode-ms",
                        "2",
                        "--prefill-ms-per-token",
                        "0.01",
                        "--max-batch",
                        "8",
                        "--kv-capacity-tokens",
                        "600",
                        "--on-full",
                        "swap",
                        NULL};
  char lg_log[128], cfg[128], base[64], yml[512], q[160];
  char *lg_argv[] = {MLFQ_BIN_DIR "/loadgen",
                     "--server",
                     NULL,
                     "--rate",
                     "50",
                     "--duration",
                     LOAD_SECONDS,
                     "--input-len",
                     "uniform:8:64",
                     "--output-len",
                     "uniform:4:60",
                     "--quiet",
                     NULL};
  static queries_t qs;
  int done[MAXQ] = {0}, left, lg_pid, lgfd, status;
  double v;
  int64_t deadline;
  cJSON *doc, *res;
  char *out;
  size_t i;
  hd_t h;

  ASSERT(access(PROMETHEUS, X_OK) == 0);
  ASSERT(access(PROMTOOL, X_OK) == 0);
  load_queries(&qs);
  tc_tmpdir(dir, sizeof(dir), "mlfq-dashboard");
  atexit(cleanup);

  hd_start(&h, args);
  snprintf(yml, sizeof(yml),
           "global:\n"
           "  scrape_interval: 1s\n"
           "  evaluation_interval: 1s\n"
           "scrape_configs:\n"
           "  - job_name: mlfqd\n"
           "    static_configs:\n"
           "      - targets: ['127.0.0.1:%d']\n",
           h.port);
  put_file("prometheus.yml", yml, cfg, sizeof(cfg));

  /* The load, over the protocol. */
  lg_argv[2] = h.d.addr;
  snprintf(lg_log, sizeof(lg_log), "%s/loadgen.log", dir);
  lgfd = open(lg_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(lgfd, 0);
  lg_pid = mlfq_test_spawn(lg_argv, -1, lgfd, lgfd);
  mlfq_test_track(lg_pid);
  close(lgfd);
  deadline = tc_now_ms() + QUERY_DEADLINE_MS;
  /* And a completion over HTTP. */
  ASSERT_EQ(hd_curl(&h, "POST", "/v1/completions",
                    "{\"model\":\"" MODEL "\",\"prompt\":\"a b c\","
                    "\"max_tokens\":30,\"stream\":true}",
                    &out),
            200);
  free(out);

  prom_start(cfg, base, sizeof(base));
  /* Enough scrapes of the load for a rate over the window: most of it. */
  snprintf(q, sizeof(q),
           "count_over_time(vllm:generation_tokens_total{model_name=\"" MODEL
           "\"}[" RATE_INTERVAL "])");
  for (;;) {
    res = prom_query(base, q, &doc);
    v = best_value(res);
    cJSON_Delete(doc);
    if (v >= 8)
      break;
    if (tc_left_ms(deadline) == 0)
      MLFQ_TEST_FAIL("Prometheus scraped mlfqd %g times in %s", v,
                     RATE_INTERVAL);
    poll(NULL, 0, 200);
  }
  promtool_check(&h);

  /* Each query until it answers with data, while the load goes on. */
  for (;;) {
    left = 0;
    for (i = 0; i < qs.n; i++) {
      if (done[i])
        continue;
      res = prom_query(base, qs.query[i], &doc);
      done[i] = cJSON_GetArraySize(res) > 0 && !isnan(best_value(res));
      cJSON_Delete(doc);
      left += !done[i];
    }
    if (left == 0)
      break;
    if (tc_left_ms(deadline) == 0) {
      for (i = 0; i < qs.n; i++)
        if (!done[i])
          fprintf(stderr, "no data: panel \"%s\": %s\n", qs.panel[i],
                  qs.query[i]);
      MLFQ_TEST_FAIL("%d of %zu dashboard queries have no data", left, qs.n);
    }
    poll(NULL, 0, 500);
  }

  /* The load is still running: it has not failed. */
  ASSERT_EQ(waitpid(lg_pid, &status, WNOHANG), 0);
  kill(lg_pid, SIGKILL);
  ASSERT_EQ(waitpid(lg_pid, &status, 0), lg_pid);
  mlfq_test_untrack(lg_pid);
  cleanup();
  ASSERT_EQ(mlfq_test_daemon_stop(&h.d, SIGTERM, 10), 0);
}
