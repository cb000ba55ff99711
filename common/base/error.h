/* Project error codes.
 *
 * Functions return 0 on success and a negative code on failure: a UV_E* code
 * (a negated errno) for system and I/O errors, or one of the MLFQ_E* codes
 * below, which sit far below any errno so the two never collide.
 */
#ifndef MLFQ_ERROR_H
#define MLFQ_ERROR_H

#define MLFQ_ERRNO_MAP(X)                                                      \
  X(EINVAL, -5001, "invalid argument")                                         \
  X(ENOMEM, -5002, "out of memory")                                            \
  X(EPARSE, -5003, "malformed input")                                          \
  X(ERANGE, -5004, "value out of range")                                       \
  X(EIO, -5005, "input/output error")                                          \
  X(EEXIST, -5006, "already exists")                                           \
  X(ENOENT, -5007, "not found")                                                \
  X(ESTATE, -5008, "operation not valid in this state")                        \
  X(EFRAMESIZE, -5009, "frame length over the limit")                          \
  X(EFRAMEEMPTY, -5010, "empty frame")

enum {
#define X(name, value, text) MLFQ_##name = (value),
  MLFQ_ERRNO_MAP(X)
#undef X
};

/* Returns a static description of err: an MLFQ_E* code, a negated errno, or
 * "unknown error". Never NULL. Any thread. */
const char *mlfq_strerror(int err);

/* Formats into err (errlen bytes, always NUL-terminated) like snprintf and
 * returns code, so that parsers can write `return mlfq_fail(err, errlen,
 * MLFQ_EPARSE, "%s:%zu: ...", ...)`. err may be NULL when errlen is 0. */
int mlfq_fail(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
