/* The loadgen tests' helpers (lg.h). */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "client/lg.h"

/* The number of '\n' in s. */
int lg_count_lines(const char *s) {
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
int lg_read_jobs(const char *path, job_row_t *rows) {
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
char *lg_tmpdir(void) {
  char *dir = strdup("/tmp/mlfq-loadgen-XXXXXX");

  ASSERT(dir != NULL);
  if (mkdtemp(dir) == NULL)
    MLFQ_TEST_FAIL("mkdtemp: %s", strerror(errno));
  return dir;
}

/* dir/name, in a static buffer of one of four slots. */
const char *lg_in_dir(const char *dir, const char *name) {
  static char paths[4][512];
  static unsigned next;
  char *p = paths[next++ % 4];

  snprintf(p, 512, "%s/%s", dir, name);
  return p;
}

/* Removes dir and the files in it (the tests write no subdirectories). */
void lg_rm_dir(const char *dir, const char *const *names) {
  for (; *names != NULL; names++)
    remove(lg_in_dir(dir, *names));
  ASSERT_EQ(rmdir(dir), 0);
}

/* The daemon with a cost model of 20 ms per unit, like docs/MODEL.md's Figure 6
 * x 20. */
void lg_start_figure6(mlfq_test_daemon_t *d, const char *policy) {
  const char *args[] = {"--policy",     policy,        "--prefill-ms-per-token",
                        "20",           "--decode-ms", "20",
                        "--quantum-ms", "20",          NULL};

  mlfq_test_daemon_start(d, args);
}

/* A daemon whose requests take no model time. */
void lg_start_zero(mlfq_test_daemon_t *d) {
  const char *args[] = {"--prefill-ms-per-token", "0", "--decode-ms", "0",
                        NULL};

  mlfq_test_daemon_start(d, args);
}

/* A daemon of decode_ms ms per token, which lets requests still in flight
 * on SIGTERM run 2 s at most. */
void lg_start_slow(mlfq_test_daemon_t *d, const char *decode_ms) {
  const char *args[] = {"--prefill-ms-per-token", "0", "--decode-ms", decode_ms,
                        "--drain-timeout",        "2", NULL};

  mlfq_test_daemon_start(d, args);
}

void lg_stop(mlfq_test_daemon_t *d) {
  ASSERT_EQ(mlfq_test_daemon_stop(d, SIGTERM, 10), 0);
}
