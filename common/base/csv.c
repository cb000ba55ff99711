#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/error.h"

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

void mlfq_csv_init(mlfq_csv_t *c, const char *name, const char *buf,
                   size_t len) {
  c->name = name;
  c->line = 0;
  c->_p = buf;
  c->_end = buf + len;
  c->_next_line = 1;
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
    c->_p += 3;
}

/* Stores the trimmed s[0..len) in f. */
static void set_field(mlfq_field_t *f, const char *s, const char *end) {
  while (s < end && is_blank(*s))
    s++;
  while (end > s && is_blank(end[-1]))
    end--;
  f->s = s;
  f->len = (size_t)(end - s);
}

int mlfq_csv_next(mlfq_csv_t *c, mlfq_field_t *f, size_t max, char *err,
                  size_t errlen) {
  const char *line;
  const char *eol;
  const char *p;
  const char *start;
  size_t n;

  for (;;) {
    if (c->_p >= c->_end)
      return 0;
    line = c->_p;
    eol = memchr(line, '\n', (size_t)(c->_end - line));
    if (eol == NULL) {
      eol = c->_end;
      c->_p = c->_end;
    } else {
      c->_p = eol + 1;
    }
    c->line = c->_next_line++;
    if (eol > line && eol[-1] == '\r')
      eol--;
    if (memchr(line, '\0', (size_t)(eol - line)) != NULL)
      return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: NUL byte", c->name,
                       c->line);
    p = line;
    while (p < eol && is_blank(*p))
      p++;
    if (p < eol)
      break;
  }

  n = 0;
  start = line;
  for (p = line; p <= eol; p++) {
    if (p < eol && *p != ',')
      continue;
    if (n < max)
      set_field(&f[n], start, p);
    n++;
    start = p + 1;
  }
  if (n > max)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: %zu fields, at most %zu allowed", c->name,
                     c->line, n, max);
  return (int)n;
}

int mlfq_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                   char *err, size_t errlen) {
  FILE *f;
  char *data = NULL;
  char *grown;
  size_t cap = 0;
  size_t used = 0;
  size_t want;
  size_t got;
  int code;

  *buf = NULL;
  *len = 0;
  f = fopen(path, "rb");
  if (f == NULL) {
    code = errno ? -errno : MLFQ_EIO;
    return mlfq_fail(err, errlen, code, "%s: %s", path, mlfq_strerror(code));
  }
  for (;;) {
    /* Keep room for the NUL and for one byte past max_bytes, which tells a
     * file of exactly max_bytes from a larger one. */
    if (used + 1 >= cap) {
      want = cap == 0 ? 4096 : cap * 2;
      if (want > max_bytes && want - max_bytes > 2)
        want = max_bytes + 2;
      if (want <= cap) {
        code = mlfq_fail(err, errlen, MLFQ_ERANGE, "%s: larger than %zu bytes",
                         path, max_bytes);
        goto fail;
      }
      grown = realloc(data, want);
      if (grown == NULL) {
        code = mlfq_fail(err, errlen, MLFQ_ENOMEM, "%s: out of memory", path);
        goto fail;
      }
      data = grown;
      cap = want;
    }
    got = fread(data + used, 1, cap - 1 - used, f);
    used += got;
    if (used > max_bytes) {
      code = mlfq_fail(err, errlen, MLFQ_ERANGE, "%s: larger than %zu bytes",
                       path, max_bytes);
      goto fail;
    }
    if (got == 0) {
      if (ferror(f)) {
        code = errno ? -errno : MLFQ_EIO;
        code =
            mlfq_fail(err, errlen, code, "%s: %s", path, mlfq_strerror(code));
        goto fail;
      }
      break;
    }
  }
  fclose(f);
  data[used] = '\0';
  *buf = data;
  *len = used;
  return 0;

fail:
  fclose(f);
  free(data);
  return code;
}

static int field_is(const mlfq_field_t *f, const char *name) {
  return f->len == strlen(name) && memcmp(f->s, name, f->len) == 0;
}

int mlfq_csv_columns(const mlfq_csv_t *c, const mlfq_field_t *f, size_t n,
                     const char *const *names, size_t nnames, size_t nrequired,
                     size_t *col, char *err, size_t errlen) {
  size_t i, j, k;

  for (k = 0; k < nnames; k++)
    col[k] = n;
  for (i = 0; i < n; i++) {
    if (f[i].len == 0)
      return mlfq_fail(err, errlen, MLFQ_EPARSE,
                       "%s:%zu: column %zu has no name", c->name, c->line,
                       i + 1);
    for (j = 0; j < i; j++) {
      if (f[j].len == f[i].len && memcmp(f[j].s, f[i].s, f[i].len) == 0)
        return mlfq_fail(err, errlen, MLFQ_EPARSE,
                         "%s:%zu: duplicate column '%.*s'", c->name, c->line,
                         MLFQ_CSV_QUOTE(&f[i]), f[i].s);
    }
    for (k = 0; k < nnames; k++) {
      if (field_is(&f[i], names[k]))
        col[k] = i;
    }
  }
  for (k = 0; k < nrequired; k++) {
    if (col[k] == n)
      return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s:%zu: missing column '%s'",
                       c->name, c->line, names[k]);
  }
  return 0;
}

int mlfq_csv_header(mlfq_csv_t *c, mlfq_field_t *f, size_t max,
                    const char *const *names, size_t nnames, size_t nrequired,
                    size_t *col, size_t *ncols, char *err, size_t errlen) {
  int n = mlfq_csv_next(c, f, max, err, errlen);

  if (n < 0)
    return n;
  if (n == 0)
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "%s: empty file", c->name);
  *ncols = (size_t)n;
  return mlfq_csv_columns(c, f, *ncols, names, nnames, nrequired, col, err,
                          errlen);
}

int mlfq_csv_row(mlfq_csv_t *c, mlfq_field_t *f, size_t max, size_t ncols,
                 char *err, size_t errlen) {
  int n = mlfq_csv_next(c, f, max, err, errlen);

  if (n <= 0)
    return n;
  if ((size_t)n != ncols)
    return mlfq_fail(err, errlen, MLFQ_EPARSE,
                     "%s:%zu: %d field%s, the header has %zu", c->name, c->line,
                     n, n == 1 ? "" : "s", ncols);
  return 1;
}
