/* common/net/deadline.c on a real libuv loop: deadlines fall due in the order
 * they were set, not before their time; a cancelled one never falls due,
 * nor does one still set when the set is closed; the timer does not keep
 * the loop alive. */
#include <uv.h>

#include "net/deadline.h"
#include "task.h"

typedef struct {
  mlfq_deadline_t d;
  int n;        /* its name */
  uint64_t set; /* uv_now() when it was set */
} item_t;

static int order[8], nfired;
static uint64_t late_by[8];
static item_t items[4];

static void expired(mlfq_deadlines_t *ds, mlfq_deadline_t *d) {
  item_t *it = MLFQ_CONTAINER_OF(d, item_t, d);
  uint64_t now = uv_now(ds->timer.loop);

  ASSERT(!mlfq_list_linked(&d->link));
  ASSERT_GE(now, it->set + ds->after_ms);
  late_by[nfired] = now - (it->set + ds->after_ms);
  order[nfired++] = it->n;
  if (it->n == 0) /* set again from its own expiry */
    mlfq_deadline_set(ds, d);
}

/* Keeps the loop alive (the deadlines' timer does not) until stopped. */
static void on_keep(uv_timer_t *t) {
  if (nfired >= 4)
    uv_close((uv_handle_t *)t, NULL);
}

TEST(deadline, order_cancel_close) {
  mlfq_deadlines_t ds;
  uv_timer_t keep;
  uv_loop_t loop;
  int i;

  ASSERT_EQ(uv_loop_init(&loop), 0);
  ASSERT_EQ(mlfq_deadlines_init(&ds, &loop, 30, expired), 0);
  for (i = 0; i < 4; i++) {
    items[i].n = i;
    mlfq_deadline_init(&items[i].d);
    mlfq_deadline_cancel(&items[i].d); /* not running: nothing happens */
    items[i].set = uv_now(&loop);
    mlfq_deadline_set(&ds, &items[i].d);
  }
  mlfq_deadline_cancel(&items[1].d);
  mlfq_deadline_cancel(&items[1].d);
  /* 3 is set again: it moves behind the others */
  uv_sleep(5);
  uv_update_time(&loop);
  items[3].set = uv_now(&loop);
  mlfq_deadline_set(&ds, &items[3].d);

  ASSERT_EQ(uv_timer_init(&loop, &keep), 0);
  ASSERT_EQ(uv_timer_start(&keep, on_keep, 1, 1), 0);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  /* 0, 2, 3, then 0 again (set from its expiry); never 1 */
  ASSERT_EQ(nfired, 4);
  ASSERT_EQ(order[0], 0);
  ASSERT_EQ(order[1], 2);
  ASSERT_EQ(order[2], 3);
  ASSERT_EQ(order[3], 0);
  for (i = 0; i < 4; i++)
    ASSERT_LT(late_by[i], 1000); /* generous: a loaded machine */

  /* Set, then closed: it never falls due, and the loop ends. */
  items[2].set = uv_now(&loop);
  mlfq_deadline_set(&ds, &items[2].d);
  mlfq_deadlines_close(&ds);
  mlfq_deadline_set(&ds, &items[2].d); /* after close: ignored */
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(nfired, 4);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}
