#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/error.h"
#include "base/units.h"
#include "core/cost.h"

/* Largest profile file read, in bytes, and most columns in its header. */
#define PROFILE_MAX_BYTES ((size_t)64 << 20)
#define PROFILE_MAX_COLUMNS 64

enum { COL_INPUT = 0, COL_PREFILL, COL_DECODE, NCOLS };

static const char *const col_names[NCOLS] = {"input_length", "prefill_ms",
                                             "decode_ms"};

static void set_source(mlfq_cost_t *c, const char *name) {
  const char *base = strrchr(name, '/');

  base = base != NULL && base[1] != '\0' ? base + 1 : name;
  snprintf(c->source, sizeof(c->source), "%s", base);
}

int mlfq_cost_linear(mlfq_cost_t *c, double prefill_base_ms,
                     double prefill_ms_per_token, double decode_ms) {
  memset(c, 0, sizeof(*c));
  if (!isfinite(prefill_base_ms) || prefill_base_ms < 0 ||
      !isfinite(prefill_ms_per_token) || prefill_ms_per_token < 0 ||
      !isfinite(decode_ms) || decode_ms < 0)
    return MLFQ_EINVAL;
  c->kind = MLFQ_COST_LINEAR;
  c->prefill_base_ms = prefill_base_ms;
  c->prefill_ms_per_token = prefill_ms_per_token;
  c->decode_ms = decode_ms;
  c->batch_decode_ms_per_seq = 0;
  set_source(c, "linear");
  return 0;
}

/* Parses a millisecond value: a finite decimal >= 0. */
static int parse_ms(mlfq_csv_t *csv, const mlfq_field_t *f, const char *col,
                    double *out, char *err, size_t errlen) {
  char tmp[64];
  double v;

  if (f->len == 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: empty field",
                     csv->name, csv->line, col);
  if (f->len >= sizeof(tmp))
    goto bad;
  memcpy(tmp, f->s, f->len);
  tmp[f->len] = '\0';
  if (mlfq_parse_double(tmp, &v) != 0)
    goto bad;
  if (v < 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: %s: %s is negative",
                     csv->name, csv->line, col, tmp);
  *out = v + 0.0; /* -0 becomes 0 */
  return 0;

bad:
  return mlfq_fail(err, errlen, MLFQ_EPARSE,
                   "%s:%zu: %s: '%.*s' is not a number", csv->name, csv->line,
                   col, MLFQ_CSV_QUOTE(f), f->s);
}

/* Parses input_length: an integer in [1, UINT32_MAX] above prev. */
static int parse_input_len(mlfq_csv_t *csv, const mlfq_field_t *f,
                           uint32_t prev, uint32_t *out, char *err,
                           size_t errlen) {
  uint64_t v;
  int r;

  r = mlfq_parse_u64(f->s, f->len, UINT32_MAX, &v);
  if (r == MLFQ_ERANGE)
    return mlfq_fail(err, errlen, MLFQ_ERANGE,
                     "%s:%zu: input_length: %.*s overflows (max %lu)",
                     csv->name, csv->line, MLFQ_CSV_QUOTE(f), f->s,
                     (unsigned long)UINT32_MAX);
  if (r != 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: input_length: '%.*s' is not a whole number",
                     csv->name, csv->line, MLFQ_CSV_QUOTE(f), f->s);
  if (v < 1)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: input_length: 0 is below 1", csv->name,
                     csv->line);
  if (prev > 0 && v <= prev)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: input_length: %lu is not above the previous "
                     "row's %lu",
                     csv->name, csv->line, (unsigned long)v,
                     (unsigned long)prev);
  *out = (uint32_t)v;
  return 0;
}

int mlfq_cost_parse_profile(mlfq_cost_t *c, const char *name, const char *buf,
                            size_t len, char *err, size_t errlen) {
  mlfq_csv_t csv;
  mlfq_field_t f[PROFILE_MAX_COLUMNS];
  size_t col[NCOLS];
  size_t ncols;
  size_t cap = 0;
  mlfq_cost_row_t *grown;
  mlfq_cost_row_t row;
  uint32_t prev = 0;
  int n;
  int r;

  memset(c, 0, sizeof(*c));
  mlfq_csv_init(&csv, name, buf, len);
  r = mlfq_csv_header(&csv, f, PROFILE_MAX_COLUMNS, col_names, NCOLS, NCOLS,
                      col, &ncols, err, errlen);
  if (r != 0)
    return r;

  for (;;) {
    n = mlfq_csv_row(&csv, f, PROFILE_MAX_COLUMNS, ncols, err, errlen);
    if (n < 0) {
      r = n;
      goto fail;
    }
    if (n == 0)
      break;
    if (c->nrows == MLFQ_COST_MAX_ROWS) {
      r = mlfq_fail(err, errlen, MLFQ_ERANGE,
                    "%s:%zu: more than %d rows (a profile has at most %d: "
                    "every client is sent each row)",
                    name, csv.line, MLFQ_COST_MAX_ROWS, MLFQ_COST_MAX_ROWS);
      goto fail;
    }
    r = parse_input_len(&csv, &f[col[COL_INPUT]], prev, &row.input_len, err,
                        errlen);
    if (r == 0)
      r = parse_ms(&csv, &f[col[COL_PREFILL]], col_names[COL_PREFILL],
                   &row.prefill_ms, err, errlen);
    if (r == 0)
      r = parse_ms(&csv, &f[col[COL_DECODE]], col_names[COL_DECODE],
                   &row.decode_ms, err, errlen);
    if (r != 0)
      goto fail;
    if (c->nrows == cap) {
      cap = cap == 0 ? 16 : cap * 2;
      grown = cap > SIZE_MAX / sizeof(*grown)
                  ? NULL
                  : realloc(c->rows, cap * sizeof(*grown));
      if (grown == NULL) {
        r = mlfq_fail(err, errlen, MLFQ_ENOMEM, "%s: out of memory", name);
        goto fail;
      }
      c->rows = grown;
    }
    c->rows[c->nrows++] = row;
    prev = row.input_len;
  }
  if (c->nrows == 0) {
    r = mlfq_fail(err, errlen, MLFQ_EPARSE, "%s: no rows after the header",
                  name);
    goto fail;
  }
  c->kind = MLFQ_COST_PROFILE;
  c->batch_decode_ms_per_seq = 0;
  set_source(c, name);
  return 0;

fail:
  free(c->rows);
  memset(c, 0, sizeof(*c));
  return r;
}

int mlfq_cost_profile(mlfq_cost_t *c, const mlfq_cost_row_t *rows, size_t n,
                      const char *source) {
  size_t i;

  memset(c, 0, sizeof(*c));
  if (n == 0)
    return MLFQ_EINVAL;
  for (i = 0; i < n; i++) {
    if (rows[i].input_len < 1 ||
        (i > 0 && rows[i].input_len <= rows[i - 1].input_len) ||
        !isfinite(rows[i].prefill_ms) || rows[i].prefill_ms < 0 ||
        !isfinite(rows[i].decode_ms) || rows[i].decode_ms < 0)
      return MLFQ_EINVAL;
  }
  c->rows = malloc(n * sizeof(*rows));
  if (c->rows == NULL)
    return MLFQ_ENOMEM;
  memcpy(c->rows, rows, n * sizeof(*rows));
  c->nrows = n;
  c->kind = MLFQ_COST_PROFILE;
  set_source(c, source);
  return 0;
}

int mlfq_cost_load_profile(mlfq_cost_t *c, const char *path, char *err,
                           size_t errlen) {
  char *buf;
  size_t len;
  int r;

  memset(c, 0, sizeof(*c));
  r = mlfq_read_file(path, PROFILE_MAX_BYTES, &buf, &len, err, errlen);
  if (r != 0)
    return r;
  r = mlfq_cost_parse_profile(c, path, buf, len, err, errlen);
  free(buf);
  return r;
}

int mlfq_cost_default(mlfq_cost_t *c) {
  char err[256];

  return mlfq_cost_parse_profile(
      c, mlfq_cost_default_profile_name, mlfq_cost_default_profile_csv,
      strlen(mlfq_cost_default_profile_csv), err, sizeof(err));
}

void mlfq_cost_free(mlfq_cost_t *c) {
  free(c->rows);
  c->rows = NULL;
  c->nrows = 0;
}

int mlfq_cost_copy(mlfq_cost_t *dst, const mlfq_cost_t *src) {
  mlfq_cost_row_t *rows = NULL;

  if (src->nrows > 0) {
    rows = malloc(src->nrows * sizeof(*rows));
    if (rows == NULL)
      return MLFQ_ENOMEM;
    memcpy(rows, src->rows, src->nrows * sizeof(*rows));
  }
  *dst = *src;
  dst->rows = rows;
  return 0;
}

/* The profile's value at x: the row's value on a row, linear between rows,
 * extrapolated from the nearest two rows outside them, never below 0. */
static double profile_eval(const mlfq_cost_t *c, double x, int decode) {
  const mlfq_cost_row_t *r = c->rows;
  size_t lo = 0;
  size_t hi = c->nrows;
  size_t mid;
  size_t i;
  double x0, x1, y0, y1, v;

  if (c->nrows == 1)
    return decode ? r[0].decode_ms : r[0].prefill_ms;
  /* lo = the first row with input_len >= x. */
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if ((double)r[mid].input_len < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < c->nrows && (double)r[lo].input_len == x)
    return decode ? r[lo].decode_ms : r[lo].prefill_ms;
  /* Segment [i, i + 1]: the one around x, or the nearest end segment. */
  if (lo == 0)
    i = 0;
  else if (lo == c->nrows)
    i = c->nrows - 2;
  else
    i = lo - 1;
  x0 = (double)r[i].input_len;
  x1 = (double)r[i + 1].input_len;
  y0 = decode ? r[i].decode_ms : r[i].prefill_ms;
  y1 = decode ? r[i + 1].decode_ms : r[i + 1].prefill_ms;
  v = y0 + (y1 - y0) * (x - x0) / (x1 - x0);
  return v > 0 ? v : 0;
}

uint64_t mlfq_cost_prefill_ns(const mlfq_cost_t *c, uint64_t tokens) {
  if (tokens == 0)
    return 0;
  if (c->kind == MLFQ_COST_LINEAR)
    return mlfq_ms_to_ns(c->prefill_base_ms +
                         c->prefill_ms_per_token * (double)tokens);
  return mlfq_ms_to_ns(profile_eval(c, (double)tokens, 0));
}

uint64_t mlfq_cost_decode_ns(const mlfq_cost_t *c, uint32_t input_len) {
  if (c->kind == MLFQ_COST_LINEAR)
    return mlfq_ms_to_ns(c->decode_ms);
  return mlfq_ms_to_ns(profile_eval(c, (double)input_len, 1));
}

uint64_t mlfq_cost_min_decode_ns(const mlfq_cost_t *c) {
  double min;
  size_t i;

  if (c->kind == MLFQ_COST_LINEAR)
    return mlfq_ms_to_ns(c->decode_ms);
  min = c->rows[0].decode_ms;
  for (i = 1; i < c->nrows; i++) {
    if (c->rows[i].decode_ms < min)
      min = c->rows[i].decode_ms;
  }
  return mlfq_ms_to_ns(min);
}

uint64_t mlfq_cost_batch_ns(const mlfq_cost_t *c, uint64_t prefill_tokens,
                            uint64_t max_decode_ns, uint32_t ndecode) {
  uint64_t t = mlfq_cost_prefill_ns(c, prefill_tokens);
  uint64_t per_seq;
  uint64_t extra;

  if (ndecode == 0)
    return t;
  if (ndecode == 1 || c->batch_decode_ms_per_seq == 0)
    return mlfq_add_sat(t, max_decode_ns);
  per_seq = mlfq_ms_to_ns(c->batch_decode_ms_per_seq);
  extra = mlfq_mul_sat(per_seq, ndecode - 1);
  return mlfq_add_sat(mlfq_add_sat(t, max_decode_ns), extra);
}
