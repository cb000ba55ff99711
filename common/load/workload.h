/* Workloads (docs/MLFQSIM.md, "Workload files"): the requests of a run, from a
 * CSV file or synthesised.
 *
 * A workload is an array of requests in id order (id = 0-based row of the
 * file, or draw order). Every request has an arrival time once the workload
 * is made: from the file's arrival_ms column, or from an arrival process.
 */
#ifndef MLFQ_WORKLOAD_H
#define MLFQ_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "load/arrival.h"
#include "load/lengths.h"

/* Largest workload file read, in bytes. */
#define MLFQ_WORKLOAD_MAX_BYTES ((size_t)1 << 30)

typedef struct {
  uint64_t arrival_ns;
  uint32_t input_len;
  uint32_t output_len;
} mlfq_req_t;

typedef struct {
  mlfq_req_t *reqs;
  size_t n;
  int has_arrivals; /* arrival times come from the file's arrival_ms column
                       (parse: the file has one; make: they were used) */
} mlfq_workload_t;

/* How to make a workload. */
typedef struct {
  const char *path;      /* workload file, or NULL for a synthetic one */
  mlfq_lengths_t input;  /* MLFQ_LEN_FILE: the file's column */
  mlfq_lengths_t output; /* likewise */
  size_t num_requests;   /* 0: every row of the file, or the default */
  mlfq_arrival_t arrival;
  int rate_given; /* arrival times come from the process even when
                     the file has arrival_ms */
} mlfq_workload_spec_t;

/* Default number of requests of a synthetic workload. */
#define MLFQ_WORKLOAD_DEFAULT_N 1000

/* Parses workload CSV text: a header naming input_length and output_length
 * (and optionally arrival_ms; other columns are ignored), then one row per
 * request with exactly as many fields as the header. Lengths are integers in
 * [1, 4294967295]; arrival_ms a decimal >= 0. Any error (missing column,
 * duplicate column, not a number, value < 1, overflow, wrong field count,
 * empty input, no rows) fails with "NAME:LINE: ..." in err and leaves w
 * empty. On success w holds the rows with arrival_ns from the file (0 when
 * the column is absent). */
int mlfq_workload_parse(mlfq_workload_t *w, const char *name, const char *buf,
                        size_t len, char *err, size_t errlen);

/* As mlfq_workload_parse, reading the file at path. */
int mlfq_workload_load(mlfq_workload_t *w, const char *path, char *err,
                       size_t errlen);

/* Makes the workload that spec describes:
 * - with a file: its rows in order; num_requests > 0 takes the first N rows,
 *   or cycles through them when N is larger (an error when arrivals come
 *   from the file); input/output of kind MLFQ_LEN_FILE take the file's
 *   columns, others are drawn;
 * - without: num_requests (or MLFQ_WORKLOAD_DEFAULT_N) drawn requests; a
 *   MLFQ_LEN_FILE length is an error;
 * - arrivals from the file when it has them and !rate_given, otherwise
 *   from spec->arrival.
 * Lengths are drawn from the MLFQ_STREAM_INPUT_LEN and _OUTPUT_LEN streams
 * of spec->arrival.seed. Returns 0 or a negative code with err set. */
int mlfq_workload_make(mlfq_workload_t *w, const mlfq_workload_spec_t *spec,
                       char *err, size_t errlen);

void mlfq_workload_free(mlfq_workload_t *w);

#endif
