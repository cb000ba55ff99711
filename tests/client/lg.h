/* The loadgen tests' helpers: the jobs CSV, a directory, the daemons. */
/* Nothing here returns an error: what goes wrong fails the test. */
#ifndef MLFQ_TEST_LG_H
#define MLFQ_TEST_LG_H

#include "task.h"

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
int lg_count_lines(const char *s);

/* Parses the per-job CSV at path into rows (at most MAXJOBS); returns the
 * number of rows. Asserts the header and the number of fields. */
int lg_read_jobs(const char *path, job_row_t *rows);

/* A fresh temporary directory, in a malloc'ed string. */
char *lg_tmpdir(void);

/* dir/name, in a static buffer of one of four slots. */
const char *lg_in_dir(const char *dir, const char *name);

/* Removes the files names (NULL-terminated) of dir, then dir, which must
 * then be empty (the tests write no subdirectories). */
void lg_rm_dir(const char *dir, const char *const *names);

/* Starts d with a cost model of 20 ms per unit and policy: docs/MODEL.md's
 * Figure 6 x 20. */
void lg_start_figure6(mlfq_test_daemon_t *d, const char *policy);

/* Starts d with requests that take no model time. */
void lg_start_zero(mlfq_test_daemon_t *d);

/* Starts d at decode_ms ms per token, letting requests still in flight at
 * SIGTERM run 2 s at most. */
void lg_start_slow(mlfq_test_daemon_t *d, const char *decode_ms);

/* Stops d with SIGTERM; it must exit 0 within 10 s. */
void lg_stop(mlfq_test_daemon_t *d);

#endif
