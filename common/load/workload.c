#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/error.h"
#include "base/units.h"
#include "load/workload.h"

/* Most columns a workload header may have. */
#define WORKLOAD_MAX_COLUMNS 256

enum { COL_INPUT = 0, COL_OUTPUT, COL_ARRIVAL, NCOLS };

static const char *const col_names[NCOLS] = {"input_length", "output_length",
                                             "arrival_ms"};

/* True if f is '-' followed by digits: a negative whole number. */
static int is_negative_int(const mlfq_field_t *f) {
  size_t i;

  if (f->len < 2 || f->s[0] != '-')
    return 0;
  for (i = 1; i < f->len; i++) {
    if (f->s[i] < '0' || f->s[i] > '9')
      return 0;
  }
  return 1;
}

/* Parses a length: an integer in [1, UINT32_MAX]. */
static int parse_len(mlfq_csv_t *csv, const mlfq_field_t *f, const char *col,
                     uint32_t *out, char *err, size_t errlen) {
  uint64_t v;
  int r;

  if (f->len == 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: empty field",
                     csv->name, csv->line, col);
  r = mlfq_parse_u64(f->s, f->len, UINT32_MAX, &v);
  if (r == MLFQ_ERANGE)
    return mlfq_fail(err, errlen, MLFQ_ERANGE,
                     "%s:%zu: %s: %.*s overflows (max %lu)", csv->name,
                     csv->line, col, MLFQ_CSV_QUOTE(f), f->s,
                     (unsigned long)UINT32_MAX);
  if (r != 0 && is_negative_int(f))
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: %.*s is below 1",
                     csv->name, csv->line, col, MLFQ_CSV_QUOTE(f), f->s);
  if (r != 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: %s: '%.*s' is not a whole number", csv->name,
                     csv->line, col, MLFQ_CSV_QUOTE(f), f->s);
  if (v < 1)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: %.*s is below 1",
                     csv->name, csv->line, col, MLFQ_CSV_QUOTE(f), f->s);
  *out = (uint32_t)v;
  return 0;
}

/* Parses arrival_ms: exact decimal milliseconds in [0, the maximum]. */
static int parse_arrival(mlfq_csv_t *csv, const mlfq_field_t *f, uint64_t *out,
                         char *err, size_t errlen) {
  const char *col = col_names[COL_ARRIVAL];
  char max[MLFQ_MS_BUFSIZE];
  int r;

  if (f->len == 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: empty field",
                     csv->name, csv->line, col);
  r = mlfq_ms_parse(f->s, f->len, MLFQ_ARRIVAL_MAX_NS, out);
  if (r == MLFQ_ERANGE) {
    mlfq_ms_format(MLFQ_ARRIVAL_MAX_NS, max);
    return mlfq_fail(err, errlen, MLFQ_ERANGE,
                     "%s:%zu: %s: %.*s is above the maximum %s", csv->name,
                     csv->line, col, MLFQ_CSV_QUOTE(f), f->s, max);
  }
  if (r != 0 && f->s[0] == '-' &&
      mlfq_ms_parse(f->s + 1, f->len - 1, UINT64_MAX, out) != MLFQ_EPARSE)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: %.*s is negative",
                     csv->name, csv->line, col, MLFQ_CSV_QUOTE(f), f->s);
  if (r != 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: %s: '%.*s' is not a decimal number", csv->name,
                     csv->line, col, MLFQ_CSV_QUOTE(f), f->s);
  return 0;
}

/* Parses one row into req. */
static int parse_row(mlfq_csv_t *csv, const mlfq_field_t *f,
                     const size_t col[NCOLS], int has_arrivals, mlfq_req_t *req,
                     char *err, size_t errlen) {
  int r;

  req->arrival_ns = 0;
  r = parse_len(csv, &f[col[COL_INPUT]], col_names[COL_INPUT], &req->input_len,
                err, errlen);
  if (r == 0)
    r = parse_len(csv, &f[col[COL_OUTPUT]], col_names[COL_OUTPUT],
                  &req->output_len, err, errlen);
  if (r == 0 && has_arrivals)
    r = parse_arrival(csv, &f[col[COL_ARRIVAL]], &req->arrival_ns, err, errlen);
  return r;
}

int mlfq_workload_parse(mlfq_workload_t *w, const char *name, const char *buf,
                        size_t len, char *err, size_t errlen) {
  mlfq_csv_t csv;
  mlfq_field_t f[WORKLOAD_MAX_COLUMNS];
  size_t col[NCOLS];
  size_t ncols;
  size_t cap = 0;
  mlfq_req_t *grown;
  mlfq_req_t req;
  int n;
  int r;

  memset(w, 0, sizeof(*w));
  mlfq_csv_init(&csv, name, buf, len);
  r = mlfq_csv_header(&csv, f, WORKLOAD_MAX_COLUMNS, col_names, NCOLS,
                      COL_ARRIVAL, col, &ncols, err, errlen);
  if (r != 0)
    return r;
  w->has_arrivals = col[COL_ARRIVAL] < ncols;

  for (;;) {
    n = mlfq_csv_row(&csv, f, WORKLOAD_MAX_COLUMNS, ncols, err, errlen);
    if (n < 0) {
      r = n;
      goto fail;
    }
    if (n == 0)
      break;
    r = parse_row(&csv, f, col, w->has_arrivals, &req, err, errlen);
    if (r != 0)
      goto fail;
    if (w->n == cap) {
      cap = cap == 0 ? 64 : cap * 2;
      grown = cap > SIZE_MAX / sizeof(*grown)
                  ? NULL
                  : realloc(w->reqs, cap * sizeof(*grown));
      if (grown == NULL) {
        r = mlfq_fail(err, errlen, MLFQ_ENOMEM, "%s: out of memory", name);
        goto fail;
      }
      w->reqs = grown;
    }
    w->reqs[w->n++] = req;
  }
  if (w->n == 0) {
    r = mlfq_fail(err, errlen, MLFQ_EPARSE, "%s: no requests after the header",
                  name);
    goto fail;
  }
  return 0;

fail:
  mlfq_workload_free(w);
  return r;
}

int mlfq_workload_load(mlfq_workload_t *w, const char *path, char *err,
                       size_t errlen) {
  char *buf;
  size_t len;
  int r;

  memset(w, 0, sizeof(*w));
  r = mlfq_read_file(path, MLFQ_WORKLOAD_MAX_BYTES, &buf, &len, err, errlen);
  if (r != 0)
    return r;
  r = mlfq_workload_parse(w, path, buf, len, err, errlen);
  free(buf);
  return r;
}

int mlfq_workload_make(mlfq_workload_t *w, const mlfq_workload_spec_t *spec,
                       char *err, size_t errlen) {
  mlfq_workload_t file = {NULL, 0, 0};
  mlfq_arrivals_t gen;
  char max[MLFQ_MS_BUFSIZE];
  mlfq_rng_t rin;
  mlfq_rng_t rout;
  const mlfq_req_t *row;
  mlfq_req_t *req;
  size_t n;
  size_t i;
  int file_arrivals;
  int r;

  memset(w, 0, sizeof(*w));
  r = mlfq_arrival_check(&spec->arrival, err, errlen);
  if (r != 0)
    return r;
  if (spec->path == NULL && spec->input.kind == MLFQ_LEN_FILE)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--input-len file needs --workload");
  if (spec->path == NULL && spec->output.kind == MLFQ_LEN_FILE)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--output-len file needs --workload");
  if (spec->path != NULL) {
    r = mlfq_workload_load(&file, spec->path, err, errlen);
    if (r != 0)
      return r;
  }

  n = spec->num_requests;
  if (n == 0)
    n = spec->path != NULL ? file.n : MLFQ_WORKLOAD_DEFAULT_N;
  file_arrivals = file.has_arrivals && !spec->rate_given;
  if (file_arrivals && n > file.n) {
    r = mlfq_fail(err, errlen, MLFQ_EINVAL,
                  "%s: cannot cycle %zu rows with arrival_ms to %zu "
                  "requests (give a rate)",
                  spec->path, file.n, n);
    goto done;
  }
  w->reqs =
      n > SIZE_MAX / sizeof(*w->reqs) ? NULL : malloc(n * sizeof(*w->reqs));
  if (w->reqs == NULL) {
    r = mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory for %zu requests",
                  n);
    goto done;
  }
  w->n = n;
  w->has_arrivals = file_arrivals;

  mlfq_rng_seed(&rin, spec->arrival.seed, MLFQ_STREAM_INPUT_LEN);
  mlfq_rng_seed(&rout, spec->arrival.seed, MLFQ_STREAM_OUTPUT_LEN);
  mlfq_arrivals_init(&gen, &spec->arrival);
  for (i = 0; i < n; i++) {
    req = &w->reqs[i];
    row = file.n > 0 ? &file.reqs[i % file.n] : NULL;
    if (spec->input.kind == MLFQ_LEN_FILE)
      req->input_len = row->input_len;
    else
      req->input_len = mlfq_lengths_sample(&spec->input, &rin);
    if (spec->output.kind == MLFQ_LEN_FILE)
      req->output_len = row->output_len;
    else
      req->output_len = mlfq_lengths_sample(&spec->output, &rout);
    if (file_arrivals) {
      req->arrival_ns = row->arrival_ns;
    } else if (mlfq_arrivals_next(&gen, &req->arrival_ns) != 0) {
      mlfq_ms_format(MLFQ_ARRIVAL_MAX_NS, max);
      r = mlfq_fail(err, errlen, MLFQ_ERANGE,
                    "--rate %g: request %zu would arrive past the largest "
                    "arrival time (%s ms, about 31.7 years of model time)",
                    spec->arrival.rate, i, max);
      mlfq_workload_free(w);
      goto done;
    }
  }
  r = 0;

done:
  mlfq_workload_free(&file);
  return r;
}

void mlfq_workload_free(mlfq_workload_t *w) {
  free(w->reqs);
  w->reqs = NULL;
  w->n = 0;
  w->has_arrivals = 0;
}
