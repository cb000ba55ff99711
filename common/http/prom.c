/* DESIGN: the text exposition format of Prometheus (version 0.0.4): one
 * "# HELP" and one "# TYPE" line per metric family, then one line per
 * sample, "name{labels} value". A histogram is cumulative buckets
 * (name_bucket{le="..."}), name_sum and name_count. Values are printed
 * in the fewest digits that read back as the same double; +Inf and NaN
 * by name.
 * Histograms keep per-bucket counts and are summed when written, so an
 * observation is one binary search and one increment: no allocation, a
 * few comparisons for vLLM's twenty-odd bounds, cheap enough for every
 * token. The bounds belong to the caller (vLLM's lists are the server's);
 * the 1-2-5 series that vLLM builds for lengths is made here.
 * A line is as long as its name and labels make it: each is formatted
 * straight into the caller's buffer, whose maximum is the only limit, and
 * label values are escaped whole, never cut. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/prom.h"

size_t mlfq_prom_buckets_125(double *out, size_t max, double top) {
  static const double mantissa[3] = {1, 2, 5};
  double scale = 1, v;
  size_t n = 0;
  unsigned i;

  for (;;) {
    for (i = 0; i < 3; i++) {
      v = mantissa[i] * scale;
      if (v > top || n == max)
        return n;
      out[n++] = v;
    }
    scale *= 10; /* exact: every power of ten up to 1e22 is a double */
  }
}

void mlfq_prom_hist_init(mlfq_prom_hist_t *h, const double *bounds, size_t n) {
  memset(h, 0, sizeof(*h));
  h->bounds = bounds;
  h->n = n < MLFQ_PROM_MAX_BUCKETS ? n : MLFQ_PROM_MAX_BUCKETS;
}

void mlfq_prom_hist_add(mlfq_prom_hist_t *h, double v) {
  size_t lo = 0, hi = h->n, mid;

  /* The first bound >= v; n is +Inf. */
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (h->bounds[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < h->n)
    h->counts[lo]++;
  h->count++;
  h->sum += v;
}

/* Appends what fmt formats, however long. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
put(mlfq_buf_t *b, const char *fmt, ...) {
  va_list ap, again;
  uint8_t *p;
  char *tmp;
  int n, err;

  va_start(ap, fmt);
  va_copy(again, ap);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(again);
    return MLFQ_EINVAL;
  }
  /* Room for vsnprintf's NUL too, which is not kept; when only that byte
   * is missing, the line goes through a copy. */
  p = mlfq_buf_reserve(b, (size_t)n + 1, &err);
  if (p != NULL) {
    vsnprintf((char *)p, (size_t)n + 1, fmt, again);
    va_end(again);
    mlfq_buf_commit(b, (size_t)n);
    return 0;
  }
  if (err != MLFQ_ERANGE || b->len + (size_t)n > b->max) {
    va_end(again);
    return err;
  }
  tmp = malloc((size_t)n + 1);
  if (tmp == NULL) {
    va_end(again);
    return MLFQ_ENOMEM;
  }
  vsnprintf(tmp, (size_t)n + 1, fmt, again);
  va_end(again);
  err = mlfq_buf_append(b, tmp, (size_t)n);
  free(tmp);
  return err;
}

/* v as Prometheus writes a float. */
static void num(double v, char *out, size_t len) {
  if (isnan(v))
    snprintf(out, len, "NaN");
  else if (isinf(v))
    snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
  else {
    /* The shortest of %.15g, %.16g, %.17g that reads back as v. */
    int prec;

    for (prec = 15; prec < 17; prec++) {
      snprintf(out, len, "%.*g", prec, v);
      if (strtod(out, NULL) == v)
        return;
    }
    snprintf(out, len, "%.17g", v);
  }
}

int mlfq_prom_head(mlfq_buf_t *b, const char *name, const char *type,
                   const char *help) {
  return put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int mlfq_prom_value(mlfq_buf_t *b, const char *name, const char *labels,
                    double value) {
  char v[40];

  num(value, v, sizeof(v));
  if (labels == NULL || *labels == '\0')
    return put(b, "%s %s\n", name, v);
  return put(b, "%s{%s} %s\n", name, labels, v);
}

int mlfq_prom_hist_write(mlfq_buf_t *b, const char *name, const char *labels,
                         const mlfq_prom_hist_t *h) {
  const char *sep = labels != NULL && *labels != '\0' ? "," : "";
  const char *lab = labels != NULL ? labels : "";
  uint64_t cum = 0;
  char v[40];
  size_t i;
  int err;

  for (i = 0; i < h->n; i++) {
    cum += h->counts[i];
    num(h->bounds[i], v, sizeof(v));
    err = put(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, lab, sep, v,
              (unsigned long long)cum);
    if (err)
      return err;
  }
  err = put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep,
            (unsigned long long)h->count);
  if (err)
    return err;
  num(h->sum, v, sizeof(v));
  if (*lab == '\0')
    err = put(b, "%s_sum %s\n%s_count %llu\n", name, v, name,
              (unsigned long long)h->count);
  else
    err = put(b, "%s_sum{%s} %s\n%s_count{%s} %llu\n", name, lab, v, name, lab,
              (unsigned long long)h->count);
  return err;
}

int mlfq_prom_escape(mlfq_buf_t *b, const char *s) {
  const char *run = s;
  int err;

  /* Runs of plain bytes are appended whole. */
  for (; *s != '\0'; s++) {
    if (*s != '"' && *s != '\\' && *s != '\n')
      continue;
    err = mlfq_buf_append(b, run, (size_t)(s - run));
    if (err == 0)
      err = mlfq_buf_append(b,
                            *s == '\n'  ? "\\n"
                            : *s == '"' ? "\\\""
                                        : "\\\\",
                            2);
    if (err)
      return err;
    run = s + 1;
  }
  return mlfq_buf_append(b, run, (size_t)(s - run));
}

int mlfq_prom_label(mlfq_buf_t *b, const char *name, const char *value) {
  uint8_t *nul;
  int err = 0;

  if (b->len > 0)
    err = mlfq_buf_append(b, ",", 1);
  if (err == 0)
    err = mlfq_buf_append(b, name, strlen(name));
  if (err == 0)
    err = mlfq_buf_append(b, "=\"", 2);
  if (err == 0)
    err = mlfq_prom_escape(b, value);
  if (err == 0)
    err = mlfq_buf_append(b, "\"", 1);
  if (err)
    return err;
  nul = mlfq_buf_reserve(b, 1, &err);
  if (nul == NULL)
    return err;
  *nul = '\0'; /* not counted in b->len */
  return 0;
}
