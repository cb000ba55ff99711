/* DESIGN: capacity starts at BUF_MIN_CAP (or max, if smaller) and doubles
 * until the request fits, never past max, so a buffer allocates at most
 * max bytes and O(log max) times. consume moves the rest to the front with
 * memmove: callers consume whole frames, which are small next to the
 * buffer, and the data always starts at data[0]. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"

#define BUF_MIN_CAP 256

void mlfq_buf_init(mlfq_buf_t *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

/* The capacity to grow to for need bytes (need <= max). */
static size_t grow_cap(const mlfq_buf_t *b, size_t need) {
  size_t cap;

  cap = b->cap > 0 ? b->cap : BUF_MIN_CAP;
  while (cap < need && cap <= b->max / 2)
    cap *= 2;
  if (cap < need || cap > b->max)
    cap = b->max;
  /* Only when max is 0: allocate a byte so that reserve never returns NULL
   * on success. */
  if (cap == 0)
    cap = 1;
  return cap;
}

uint8_t *mlfq_buf_reserve(mlfq_buf_t *b, size_t n, int *err) {
  uint8_t *p;
  size_t cap;

  if (err != NULL)
    *err = 0;
  if (b->len > b->max || n > b->max - b->len) {
    if (err != NULL)
      *err = MLFQ_ERANGE;
    return NULL;
  }
  if (b->data == NULL || b->len + n > b->cap) {
    cap = grow_cap(b, b->len + n);
    p = realloc(b->data, cap);
    if (p == NULL) {
      if (err != NULL)
        *err = MLFQ_ENOMEM;
      return NULL;
    }
    b->data = p;
    b->cap = cap;
  }
  return b->data + b->len;
}

void mlfq_buf_commit(mlfq_buf_t *b, size_t n) {
  assert(n <= b->cap - b->len);
  b->len += n;
}

int mlfq_buf_append(mlfq_buf_t *b, const void *p, size_t n) {
  uint8_t *dst;
  int err;

  if (n == 0)
    return 0;
  dst = mlfq_buf_reserve(b, n, &err);
  if (dst == NULL)
    return err;
  memcpy(dst, p, n);
  b->len += n;
  return 0;
}

void mlfq_buf_consume(mlfq_buf_t *b, size_t n) {
  assert(n <= b->len);
  if (n == 0)
    return;
  if (n < b->len)
    memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  /* Emptied after a burst: the memory goes, and comes back when needed. */
  if (b->len == 0 && b->cap > MLFQ_BUF_KEEP)
    mlfq_buf_free(b);
}

void mlfq_buf_free(mlfq_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
