#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

const char *mlfq_strerror(int err) {
  switch (err) {
#define X(name, value, text)                                                   \
  case MLFQ_##name:                                                            \
    return text;
    MLFQ_ERRNO_MAP(X)
#undef X
  case 0:
    return "success";
  default:
    if (err < 0 && err > -4096)
      return strerror(-err);
    return "unknown error";
  }
}

int mlfq_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  va_list ap;

  if (err != NULL && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}
