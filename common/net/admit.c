#include <stdio.h>

#include "net/admit.h"

mlfq_admit_t mlfq_admit(size_t total, size_t own, size_t n, size_t max_pending,
                        size_t max_per_conn) {
  if (total >= max_pending || n > max_pending - total)
    return MLFQ_ADMIT_FULL;
  if (own >= max_per_conn || n > max_per_conn - own)
    return MLFQ_ADMIT_CONN;
  /* Others hold requests too: own + n may not pass the free slots. */
  if (own < total && own + n > max_pending - total)
    return MLFQ_ADMIT_SHARE;
  return MLFQ_ADMIT_OK;
}

void mlfq_admit_why(mlfq_admit_t a, size_t total, size_t own,
                    size_t max_pending, size_t max_per_conn, char *err,
                    size_t errlen) {
  switch (a) {
  case MLFQ_ADMIT_CONN:
    snprintf(err, errlen,
             "%zu requests pending on this connection (max-pending-per-conn "
             "%zu)",
             own, max_per_conn);
    break;
  case MLFQ_ADMIT_SHARE:
    snprintf(err, errlen,
             "%zu requests pending on this connection and %zu slots free of "
             "max-pending %zu: the rest is the other connections' fair share",
             own, max_pending - total, max_pending);
    break;
  default:
    snprintf(err, errlen, "%zu requests pending (max-pending)", total);
    break;
  }
}

size_t mlfq_admit_default_per_conn(size_t max_pending) {
  return max_pending >= 2 ? max_pending / 2 : 1;
}
