/* loadgen and mlfqctl through mlfq-router, as a user runs them. */
#include <unistd.h>

#include <cJSON.h>

#include "router/rig.h"

/* Runs loadgen with argv (NULL-terminated); it must exit 0. Returns its
 * stdout (malloc'ed). */
static char *loadgen(char *const *argv) {
  char *out, *err;
  int status = mlfq_test_run(argv, &out, &err, 60);

  if (status != 0)
    MLFQ_TEST_FAIL("loadgen exit %d: %s%s", status, out, err);
  free(err);
  return out;
}

/* The rows of loadgen's per-job CSV at path whose status is ok. */
static int count_ok(const char *path) {
  char *text = mlfq_test_slurp(path), *line, *next, *f, *comma;
  int col = -1, i, n = 0;

  for (line = text; *line != '\0'; line = next) {
    next = strchr(line, '\n');
    ASSERT(next != NULL);
    *next++ = '\0';
    for (i = 0, f = line; f != NULL; i++, f = comma ? comma + 1 : NULL) {
      comma = strchr(f, ',');
      if (comma != NULL)
        *comma = '\0';
      if (line == text && strcmp(f, "status") == 0)
        col = i;
      else if (line != text && i == col)
        n += strcmp(f, "ok") == 0;
    }
    ASSERT_GE(col, 0);
  }
  free(text);
  return n;
}

/* loadgen runs through the router unchanged, alone and in compare mode
 * beside a replica: every request completes. */
TEST(router, loadgen) {
  const char *rargs[] = {FAST, "--max-batch", "8", NULL};
  const char *args[] = {NULL};
  char jobs[64], router[160], direct[160], *out;
  char *alone[] = {MLFQ_BIN_DIR "/loadgen",
                   "--server",
                   router,
                   "--connections",
                   "2",
                   "--num-requests",
                   "90",
                   "--rate",
                   "300",
                   "--input-len",
                   "uniform:1:64",
                   "--output-len",
                   "uniform:1:30",
                   "--jobs-csv",
                   jobs,
                   NULL};
  char *compare[] = {MLFQ_BIN_DIR "/loadgen",
                     "--server",
                     direct,
                     "--server",
                     router,
                     "--num-requests",
                     "30",
                     "--rate",
                     "300",
                     "--output-len",
                     "fixed:5",
                     "--quiet",
                     NULL};
  rig_t g;

  rig_start(&g, 3, rargs, args);
  snprintf(jobs, sizeof(jobs), "/tmp/mlfq-router-jobs-XXXXXX");
  ASSERT_GE(mkstemp(jobs), 0);
  snprintf(router, sizeof(router), "router=%s", g.router.addr);
  snprintf(direct, sizeof(direct), "direct=%s", g.rep[0].addr);
  out = loadgen(alone);
  ASSERT_CONTAINS(out, "requests");
  free(out);
  ASSERT_EQ(count_ok(jobs), 90);
  unlink(jobs);

  out = loadgen(compare);
  ASSERT_CONTAINS(out, "direct");
  ASSERT_CONTAINS(out, "router");
  free(out);
  rig_stop(&g);
}

/* mlfqctl ping and stats against a router of three replicas: the ping
 * line names it, stats sums the replicas and shows each (text and JSON). */
TEST(router, mlfqctl) {
  const char *rargs[] = {FAST, NULL};
  const char *args[] = {"--policy", "round-robin", NULL};
  char *argv[8], *out, *err;
  const cJSON *a, *r, *st;
  tc_client_t *c;
  uint64_t id;
  cJSON *doc;
  rig_t g;
  int i;

  rig_start(&g, 3, rargs, args);
  c = tc_open(&g.router, 1);
  for (id = 1; id <= 6; id++)
    tc_run(c, id, 4, 5);
  tc_close(c);
  argv[0] = MLFQ_BIN_DIR "/mlfqctl";
  argv[1] = "--server";
  argv[2] = g.router.addr;
  argv[3] = "ping";
  argv[4] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  ASSERT_CONTAINS(out, " mlfq-router ");
  ASSERT_CONTAINS(out, " policy mlfq replicas 3: ok in ");
  free(out);
  free(err);
  argv[4] = "--json";
  argv[5] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  ASSERT_EQ(cJSON_GetObjectItem(doc, "replicas")->valuedouble, 3);
  ASSERT_STR_EQ(cJSON_GetObjectItem(doc, "server_id")->valuestring,
                "mlfq-router");
  cJSON_Delete(doc);
  free(out);
  free(err);
  argv[4] = NULL;

  argv[3] = "stats";
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  ASSERT_CONTAINS(out, "mlfq-router");
  ASSERT_CONTAINS(out, "\n  submitted               6\n");
  ASSERT_CONTAINS(out, "\n  tokens                  30\n");
  ASSERT_CONTAINS(out, "\nReplicas\n");
  for (i = 0; i < 3; i++) {
    char row[200];
    snprintf(row, sizeof(row), "\n  %-3d %-24s yes ", i + 1, g.rep[i].addr);
    ASSERT_CONTAINS(out, row);
  }
  free(out);
  free(err);

  argv[4] = "--json";
  argv[5] = NULL;
  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 0);
  doc = cJSON_Parse(out);
  ASSERT(doc != NULL);
  st = cJSON_GetObjectItem(doc, "stats");
  ASSERT_EQ(cJSON_GetObjectItem(st, "completed")->valuedouble, 6);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(st, "worker_busy")), 3);
  a = cJSON_GetObjectItem(doc, "replicas");
  ASSERT(cJSON_IsArray(a));
  ASSERT_EQ(cJSON_GetArraySize(a), 3);
  for (i = 0; i < 3; i++) {
    r = cJSON_GetArrayItem(a, i);
    ASSERT_STR_EQ(cJSON_GetObjectItem(r, "address")->valuestring,
                  g.rep[i].addr);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(r, "up")));
    ASSERT_EQ(cJSON_GetObjectItem(r, "routed")->valuedouble, 2);
    ASSERT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "stats"), "completed")
                  ->valuedouble,
              2);
  }
  cJSON_Delete(doc);
  free(out);
  free(err);
  rig_stop(&g);
}
