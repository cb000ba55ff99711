/* Deadlines that all fall the same time after they are set: a protocol
 * connection's Hello, an HTTP request's last byte. They are kept in the
 * order they were set, which is also the order they fall due, with one
 * libuv timer armed for the first, so setting, cancelling and expiring
 * each cost O(1) whatever the number of connections. Loop thread.
 */
#ifndef MLFQ_DEADLINE_H
#define MLFQ_DEADLINE_H

#include <stdint.h>

#include <uv.h>

#include "base/list.h"

/* One deadline, embedded in what it is for. */
typedef struct {
  mlfq_link_t link; /* in the set while it runs */
  uint64_t due;     /* uv_now() at which it falls due */
} mlfq_deadline_t;

typedef struct mlfq_deadlines_s mlfq_deadlines_t;
struct mlfq_deadlines_s {
  uv_timer_t timer;
  mlfq_link_t list; /* running deadlines, earliest first */
  uint64_t after_ms;
  /* d fell due; it is no longer in the set. */
  void (*expired)(mlfq_deadlines_t *ds, mlfq_deadline_t *d);
  int open;
};

/* A set whose deadlines fall after_ms (at least 1) after they are set.
 * Its timer does not keep the loop alive. Returns 0 or a UV_E* code. */
int mlfq_deadlines_init(mlfq_deadlines_t *ds, uv_loop_t *loop,
                        uint64_t after_ms,
                        void (*expired)(mlfq_deadlines_t *, mlfq_deadline_t *));
/* Marks d as not running (before it is first set or cancelled). */
void mlfq_deadline_init(mlfq_deadline_t *d);
/* d falls due after_ms from now. */
void mlfq_deadline_set(mlfq_deadlines_t *ds, mlfq_deadline_t *d);
/* d will not fall due; nothing happens if it is not running. */
void mlfq_deadline_cancel(mlfq_deadline_t *d);
/* Closes the timer; the deadlines still running never fall due. */
void mlfq_deadlines_close(mlfq_deadlines_t *ds);

#endif
