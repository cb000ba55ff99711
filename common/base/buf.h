/* A growable byte buffer with a hard maximum (every growable buffer in the
 * project has one). Data lives in data[0..len). */
#ifndef MLFQ_BUF_H
#define MLFQ_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t max; /* len never exceeds it */
} mlfq_buf_t;

/* An empty buffer that may grow to max bytes; allocates nothing yet. */
void mlfq_buf_init(mlfq_buf_t *b, size_t max);

/* Makes room for n more bytes and returns where they go (commit them with
 * mlfq_buf_commit), or NULL: when len + n would exceed max, or on ENOMEM
 * (*err, if not NULL, says which: MLFQ_ERANGE or MLFQ_ENOMEM). */
uint8_t *mlfq_buf_reserve(mlfq_buf_t *b, size_t n, int *err);
void mlfq_buf_commit(mlfq_buf_t *b, size_t n);

/* Appends p[0..n). Returns 0, MLFQ_ERANGE or MLFQ_ENOMEM. */
int mlfq_buf_append(mlfq_buf_t *b, const void *p, size_t n);

/* What an empty buffer keeps allocated, at most. */
#define MLFQ_BUF_KEEP (64 * 1024)

/* Drops the first n bytes (n <= len). A buffer left empty with more than
 * MLFQ_BUF_KEEP bytes allocated frees them: pointers into it are then
 * stale. */
void mlfq_buf_consume(mlfq_buf_t *b, size_t n);

/* Frees the memory; the buffer is empty and reusable after. */
void mlfq_buf_free(mlfq_buf_t *b);

#endif
