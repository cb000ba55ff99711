#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

int mlfq_ms_parse(const char *s, size_t len, uint64_t max_ns, uint64_t *ns) {
  uint64_t ms = 0;
  uint64_t frac = 0;
  uint64_t total;
  size_t i = 0;
  size_t ndigits = 0;
  size_t nfrac = 0;
  int round_up = 0;
  int overflow = 0;

  /* Whole milliseconds. Once they overflow keep validating the syntax, so
   * that "99999999999999999999x" is a parse error, not a range error. */
  while (i < len && is_digit(s[i])) {
    unsigned d = (unsigned)(s[i] - '0');
    if (ms > (UINT64_MAX - d) / 10)
      overflow = 1;
    else
      ms = ms * 10 + d;
    ndigits++;
    i++;
  }
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && is_digit(s[i])) {
      unsigned d = (unsigned)(s[i] - '0');
      if (nfrac < 6)
        frac = frac * 10 + d;
      else if (nfrac == 6)
        round_up = d >= 5;
      nfrac++;
      ndigits++;
      i++;
    }
  }
  if (ndigits == 0 || i != len)
    return MLFQ_EPARSE;
  for (; nfrac < 6; nfrac++)
    frac *= 10;
  if (overflow || ms > (UINT64_MAX - frac) / MLFQ_NS_PER_MS)
    return MLFQ_ERANGE;
  total = ms * MLFQ_NS_PER_MS + frac;
  if (round_up) {
    if (total == UINT64_MAX)
      return MLFQ_ERANGE;
    total++;
  }
  if (total > max_ns)
    return MLFQ_ERANGE;
  *ns = total;
  return 0;
}

size_t mlfq_ms_format(uint64_t ns, char *buf) {
  char tmp[MLFQ_MS_BUFSIZE];
  uint64_t whole = ns / MLFQ_NS_PER_MS;
  uint64_t frac = ns % MLFQ_NS_PER_MS;
  size_t n = 0;
  size_t len = 0;
  int i;

  /* Whole part, digits reversed into tmp. */
  do {
    tmp[n++] = (char)('0' + whole % 10);
    whole /= 10;
  } while (whole > 0);
  while (n > 0)
    buf[len++] = tmp[--n];
  if (frac > 0) {
    buf[len++] = '.';
    for (i = 5; i >= 0; i--) {
      tmp[i] = (char)('0' + frac % 10);
      frac /= 10;
    }
    n = 6;
    while (tmp[n - 1] == '0')
      n--;
    memcpy(buf + len, tmp, n);
    len += n;
  }
  buf[len] = '\0';
  return len;
}

int mlfq_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  int overflow = 0;
  size_t i;

  if (len == 0)
    return MLFQ_EPARSE;
  for (i = 0; i < len; i++) {
    unsigned d;
    if (!is_digit(s[i]))
      return MLFQ_EPARSE;
    d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      overflow = 1;
    else
      v = v * 10 + d;
  }
  if (overflow || v > max)
    return MLFQ_ERANGE;
  *out = v;
  return 0;
}

int mlfq_parse_double(const char *s, double *out) {
  const char *p = s;
  char *end;
  size_t ndigits = 0;
  double v;

  /* Check the grammar first: strtod alone would take "inf", "nan", hex
   * and leading spaces. */
  if (*p == '+' || *p == '-')
    p++;
  while (is_digit(*p)) {
    p++;
    ndigits++;
  }
  if (*p == '.') {
    p++;
    while (is_digit(*p)) {
      p++;
      ndigits++;
    }
  }
  if (ndigits == 0)
    return MLFQ_EPARSE;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (!is_digit(*p))
      return MLFQ_EPARSE;
    while (is_digit(*p))
      p++;
  }
  if (*p != '\0')
    return MLFQ_EPARSE;
  v = strtod(s, &end);
  if (end != p || !isfinite(v))
    return MLFQ_EPARSE;
  *out = v;
  return 0;
}

uint64_t mlfq_ms_to_ns(double ms) {
  double ns;

  if (!(ms > 0))
    return 0;
  ns = round(ms * 1e6);
  /* 18446744073709551616.0 is 2^64, the first double past UINT64_MAX. */
  if (ns >= 18446744073709551616.0)
    return UINT64_MAX;
  return (uint64_t)ns;
}
