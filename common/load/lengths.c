/* DESIGN: zipf draws by inverse transform: parse builds the cumulative
 * distribution of k^-S over k = 1..MAX once (MAX doubles, normalised so the
 * last entry is exactly 1.0), and each draw is a binary search for the first
 * entry above a uniform u in [0, 1), so sampling costs O(log MAX) and the
 * table is read-only (one table may serve several generators).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "load/lengths.h"

#define LEN_MAX UINT32_MAX

/* Parses s[0..len) as a length in [1, LEN_MAX] named `what` for messages. */
static int parse_len(const char *spec, const char *s, size_t len,
                     const char *what, const char *form, uint32_t *out,
                     char *err, size_t errlen) {
  uint64_t v;
  int rc;

  rc = mlfq_parse_u64(s, len, LEN_MAX, &v);
  if (rc == MLFQ_ERANGE)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': %s must be <= %lu", spec, what,
                     (unsigned long)LEN_MAX);
  if (rc != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': expected %s", spec, form);
  if (v < 1)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': %s must be >= 1", spec, what);
  *out = (uint32_t)v;
  return 0;
}

/* Splits "X:Y" at its first ':' into [s, colon) and (colon, end]. Returns
 * the length of the first part, or -1 if there is no ':'. */
static int split2(const char *s, size_t *first, const char **second) {
  const char *c = strchr(s, ':');

  if (c == NULL)
    return -1;
  *first = (size_t)(c - s);
  *second = c + 1;
  return 0;
}

static int build_zipf(mlfq_lengths_t *l, char *err, size_t errlen,
                      const char *spec) {
  double total = 0.0;
  uint32_t k;

  l->_cdf = malloc((size_t)l->b * sizeof(*l->_cdf));
  if (l->_cdf == NULL)
    return mlfq_fail(err, errlen, MLFQ_ENOMEM,
                     "bad length spec '%s': no memory for %u table entries",
                     spec, (unsigned)l->b);
  for (k = 1; k <= l->b; k++) {
    total += pow((double)k, -l->s);
    l->_cdf[k - 1] = total;
  }
  for (k = 0; k < l->b; k++)
    l->_cdf[k] /= total;
  l->_cdf[l->b - 1] = 1.0;
  return 0;
}

static int parse_zipf(mlfq_lengths_t *l, const char *spec, const char *rest,
                      char *err, size_t errlen) {
  static const char form[] = "zipf:S:MAX";
  char sbuf[64];
  const char *max;
  size_t slen;
  uint64_t v;
  int rc;

  if (split2(rest, &slen, &max) != 0 || slen == 0 || slen >= sizeof(sbuf))
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': expected %s", spec, form);
  memcpy(sbuf, rest, slen);
  sbuf[slen] = '\0';
  /* Only a plain decimal number: no spaces, hex, "inf" or "nan". */
  if (strspn(sbuf, "0123456789.eE+-") != slen ||
      mlfq_parse_double(sbuf, &l->s) != 0 || !isfinite(l->s))
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': expected %s", spec, form);
  if (!(l->s > 0.0))
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': S must be > 0", spec);
  rc = mlfq_parse_u64(max, strlen(max), MLFQ_ZIPF_MAX_N, &v);
  if (rc == MLFQ_ERANGE || (rc == 0 && v < 1))
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': MAX must be between 1 and %u", spec,
                     (unsigned)MLFQ_ZIPF_MAX_N);
  if (rc != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "bad length spec '%s': expected %s", spec, form);
  l->b = (uint32_t)v;
  l->kind = MLFQ_LEN_ZIPF;
  return build_zipf(l, err, errlen, spec);
}

/* On failure l holds no memory (it is still safe to free). */
int mlfq_lengths_parse(mlfq_lengths_t *l, const char *spec, char *err,
                       size_t errlen) {
  static const char uform[] = "uniform:A:B";
  const char *rest;
  const char *second;
  size_t first;
  int rc;

  memset(l, 0, sizeof(*l));
  l->_cdf = NULL;
  if (spec == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "missing length spec");

  if (strcmp(spec, "file") == 0) {
    l->kind = MLFQ_LEN_FILE;
    return 0;
  }
  if (strncmp(spec, "fixed:", 6) == 0) {
    rest = spec + 6;
    rc =
        parse_len(spec, rest, strlen(rest), "N", "fixed:N", &l->a, err, errlen);
    if (rc != 0)
      return rc;
    l->kind = MLFQ_LEN_FIXED;
    return 0;
  }
  if (strncmp(spec, "uniform:", 8) == 0) {
    rest = spec + 8;
    if (split2(rest, &first, &second) != 0)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "bad length spec '%s': expected %s", spec, uform);
    rc = parse_len(spec, rest, first, "A", uform, &l->a, err, errlen);
    if (rc != 0)
      return rc;
    rc =
        parse_len(spec, second, strlen(second), "B", uform, &l->b, err, errlen);
    if (rc != 0)
      return rc;
    if (l->a > l->b)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "bad length spec '%s': A must be <= B", spec);
    l->kind = MLFQ_LEN_UNIFORM;
    return 0;
  }
  if (strncmp(spec, "zipf:", 5) == 0)
    return parse_zipf(l, spec, spec + 5, err, errlen);
  return mlfq_fail(err, errlen, MLFQ_EINVAL,
                   "bad length spec '%s': expected fixed:N, uniform:A:B, "
                   "zipf:S:MAX or file",
                   spec);
}

uint32_t mlfq_lengths_sample(const mlfq_lengths_t *l, mlfq_rng_t *r) {
  double u;
  uint32_t lo, hi, mid;

  switch (l->kind) {
  case MLFQ_LEN_FIXED:
    return l->a;
  case MLFQ_LEN_UNIFORM:
    return l->a + (uint32_t)mlfq_rng_below(r, (uint64_t)l->b - l->a + 1);
  case MLFQ_LEN_ZIPF:
    /* The first index whose cumulative probability exceeds u; the last
     * entry is 1.0 > u, so there is one. */
    u = mlfq_rng_uniform(r);
    lo = 0;
    hi = l->b - 1;
    while (lo < hi) {
      mid = lo + (hi - lo) / 2;
      if (u < l->_cdf[mid])
        hi = mid;
      else
        lo = mid + 1;
    }
    return lo + 1;
  case MLFQ_LEN_FILE:
    break;
  }
  assert(!"mlfq_lengths_sample: no distribution to sample");
  return 1;
}

int mlfq_lengths_format(const mlfq_lengths_t *l, char *buf, size_t len) {
  switch (l->kind) {
  case MLFQ_LEN_FIXED:
    return snprintf(buf, len, "fixed:%lu", (unsigned long)l->a);
  case MLFQ_LEN_UNIFORM:
    return snprintf(buf, len, "uniform:%lu:%lu", (unsigned long)l->a,
                    (unsigned long)l->b);
  case MLFQ_LEN_ZIPF:
    return snprintf(buf, len, "zipf:%g:%lu", l->s, (unsigned long)l->b);
  case MLFQ_LEN_FILE:
    break;
  }
  return snprintf(buf, len, "file");
}

void mlfq_lengths_free(mlfq_lengths_t *l) {
  free(l->_cdf);
  l->_cdf = NULL;
}
