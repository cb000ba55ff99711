/* A small CSV reader for the project's numeric tables (workloads, cost
 * profiles).
 *
 * It reads from a buffer the caller owns, one row at a time, and keeps the
 * line number so that every error can name file and line. Accepted: a UTF-8
 * BOM, LF or CRLF line ends, a missing final newline, spaces and tabs around
 * fields, blank lines (skipped). Fields are not quoted: the tables hold
 * numbers only.
 */
#ifndef MLFQ_CSV_H
#define MLFQ_CSV_H

#include <stddef.h>

typedef struct {
  const char *s; /* not NUL-terminated */
  size_t len;
} mlfq_field_t;

typedef struct {
  const char *name; /* shown in messages; not copied */
  size_t line;      /* 1-based line of the row last returned */
  const char *_p;
  const char *_end;
  size_t _next_line;
} mlfq_csv_t;

/* Starts reading buf[0..len). name is kept by pointer for messages. */
void mlfq_csv_init(mlfq_csv_t *c, const char *name, const char *buf,
                   size_t len);

/* Reads the next non-blank row into f (at most max fields, trimmed). Returns
 * the number of fields (>= 1), 0 at the end of input, or MLFQ_EPARSE with a
 * message "NAME:LINE: ..." in err when the row has more than max fields or
 * holds a NUL byte. c->line is the row's line number. */
int mlfq_csv_next(mlfq_csv_t *c, mlfq_field_t *f, size_t max, char *err,
                  size_t errlen);

/* Longest part of a field quoted back in a message: printf("%.*s",
 * MLFQ_CSV_QUOTE(f), f->s). */
#define MLFQ_CSV_QUOTE(f) ((f)->len > 40 ? 40 : (int)(f)->len)

/* Finds the columns names[0..nnames) in the header row f[0..n): col[k] is
 * the index of names[k], or n when absent. The first nrequired names must
 * be present. Other columns are allowed. Fails with "NAME:LINE: ..." in err
 * (MLFQ_EPARSE) for a column with no name, a duplicate column or a missing
 * required one. */
int mlfq_csv_columns(const mlfq_csv_t *c, const mlfq_field_t *f, size_t n,
                     const char *const *names, size_t nnames, size_t nrequired,
                     size_t *col, char *err, size_t errlen);

/* Reads the header row into f (at most max fields) and finds the columns
 * as mlfq_csv_columns does; *ncols is the header's field count. An empty
 * input is an error "NAME: empty file". Returns 0 or a negative code with
 * err set. */
int mlfq_csv_header(mlfq_csv_t *c, mlfq_field_t *f, size_t max,
                    const char *const *names, size_t nnames, size_t nrequired,
                    size_t *col, size_t *ncols, char *err, size_t errlen);

/* Reads the next row of a table whose header has ncols fields into f (room
 * for max). Returns 1 for a row, 0 at the end of input, or MLFQ_EPARSE with
 * "NAME:LINE: N fields, the header has M" (or mlfq_csv_next's error) in
 * err. */
int mlfq_csv_row(mlfq_csv_t *c, mlfq_field_t *f, size_t max, size_t ncols,
                 char *err, size_t errlen);

/* Reads the whole file at path into a new NUL-terminated buffer (*buf, which
 * the caller frees; *len excludes the NUL). Fails with a message naming the
 * file: a UV-style negated errno if it cannot be read, MLFQ_ERANGE if it is
 * larger than max_bytes. */
int mlfq_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                   char *err, size_t errlen);

#endif
