/* DESIGN
 *
 * glibc's malloc gives memory back to the system only from the top of the
 * heap. After a burst (a thousand connections' buffers, a long queue of
 * requests) most of the heap can be free and still resident, because a
 * few live blocks sit above it: a server that served a soak of 1,000
 * connections held 60 MB of free heap once idle, against 0.5 MB in use.
 * malloc_trim(0) hands back every whole free page (madvise), wherever it
 * is.
 *
 * It walks the heap, so it never runs on a request's path: a timer asks
 * the owner once a period whether anything is in flight and how much has
 * happened (a count that grows with every connection and request), and
 * trims at the first tick that finds the server idle after something
 * happened. A server that stays busy, or stays idle, is never trimmed.
 * Everything runs on the loop thread. Elsewhere than glibc it does
 * nothing but count.
 */
#include "net/trim.h"

#include "base/list.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void on_tick(uv_timer_t *timer) {
  mlfq_trim_t *t = MLFQ_CONTAINER_OF(timer, mlfq_trim_t, _timer);
  uint64_t a;

  if (t->_busy(t->_arg))
    return;
  a = t->_activity(t->_arg);
  if (a == t->_seen)
    return;
  t->_seen = a;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  t->trims++;
}

int mlfq_trim_init(mlfq_trim_t *t, uv_loop_t *loop, unsigned period_ms,
                   int (*busy)(void *arg), uint64_t (*activity)(void *arg),
                   void *arg) {
  int rc;

  t->_busy = busy;
  t->_activity = activity;
  t->_arg = arg;
  t->_seen = activity(arg);
  t->trims = 0;
  rc = uv_timer_init(loop, &t->_timer);
  if (rc)
    return rc;
  rc = uv_timer_start(&t->_timer, on_tick, period_ms, period_ms);
  if (rc) {
    uv_close((uv_handle_t *)&t->_timer, NULL);
    return rc;
  }
  uv_unref((uv_handle_t *)&t->_timer);
  return 0;
}

void mlfq_trim_close(mlfq_trim_t *t) {
  if (uv_is_closing((uv_handle_t *)&t->_timer))
    return;
  uv_timer_stop(&t->_timer);
  uv_close((uv_handle_t *)&t->_timer, NULL);
}
