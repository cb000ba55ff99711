#include "net/deadline.h"

static void arm(mlfq_deadlines_t *ds);

static void on_timer(uv_timer_t *t) {
  mlfq_deadlines_t *ds = MLFQ_CONTAINER_OF(t, mlfq_deadlines_t, timer);
  uint64_t now = uv_now(t->loop);
  mlfq_deadline_t *d;

  while (ds->open && !mlfq_list_empty(&ds->list)) {
    d = MLFQ_CONTAINER_OF(ds->list.next, mlfq_deadline_t, link);
    if (d->due > now)
      break;
    mlfq_list_remove(&d->link);
    ds->expired(ds, d);
  }
  if (ds->open)
    arm(ds);
}

/* Arms the timer for the earliest deadline. A cancelled one leaves the
 * timer armed: it then fires early, finds nothing due and is re-armed. */
static void arm(mlfq_deadlines_t *ds) {
  mlfq_deadline_t *d;
  uint64_t now;

  if (mlfq_list_empty(&ds->list))
    return;
  d = MLFQ_CONTAINER_OF(ds->list.next, mlfq_deadline_t, link);
  now = uv_now(ds->timer.loop);
  uv_timer_start(&ds->timer, on_timer, d->due > now ? d->due - now : 0, 0);
}

int mlfq_deadlines_init(mlfq_deadlines_t *ds, uv_loop_t *loop,
                        uint64_t after_ms,
                        void (*expired)(mlfq_deadlines_t *,
                                        mlfq_deadline_t *)) {
  int rc = uv_timer_init(loop, &ds->timer);

  if (rc != 0)
    return rc;
  uv_unref((uv_handle_t *)&ds->timer);
  mlfq_list_init(&ds->list);
  ds->after_ms = after_ms > 0 ? after_ms : 1;
  ds->expired = expired;
  ds->open = 1;
  return 0;
}

void mlfq_deadline_init(mlfq_deadline_t *d) {
  mlfq_list_init(&d->link);
  d->due = 0;
}

void mlfq_deadline_set(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  int first = mlfq_list_empty(&ds->list);

  if (!ds->open)
    return;
  mlfq_deadline_cancel(d);
  d->due = uv_now(ds->timer.loop) + ds->after_ms;
  mlfq_list_push_tail(&ds->list, &d->link);
  if (first)
    arm(ds);
}

void mlfq_deadline_cancel(mlfq_deadline_t *d) {
  if (mlfq_list_linked(&d->link))
    mlfq_list_remove(&d->link);
}

void mlfq_deadlines_close(mlfq_deadlines_t *ds) {
  if (!ds->open)
    return;
  ds->open = 0;
  while (!mlfq_list_empty(&ds->list))
    mlfq_list_remove(ds->list.next);
  uv_close((uv_handle_t *)&ds->timer, NULL);
}
