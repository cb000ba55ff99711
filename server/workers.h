/* The engine threads: one pthread per engine, each sleeping through the
 * iterations its engine runs.
 *
 * The loop thread hands engine e an absolute wall-clock deadline
 * (uv_hrtime's clock, CLOCK_MONOTONIC); the thread sleeps until then with
 * clock_nanosleep(TIMER_ABSTIME), notes when it woke, and reports back
 * through a mutex-guarded list and uv_async_send. The loop thread drains
 * the whole list in its async callback. Workers never touch libuv objects
 * or the scheduler.
 */
#ifndef MLFQ_WORKERS_H
#define MLFQ_WORKERS_H

#include <stdint.h>

#include <uv.h>

typedef struct mlfq_workers_s mlfq_workers_t;

/* One finished sleep. */
typedef struct {
  unsigned engine;
  uint64_t deadline; /* as given, uv_hrtime() nanoseconds */
  uint64_t woke;     /* when the thread woke */
} mlfq_wake_t;

/* Called on the loop thread with every wake reported since the last call,
 * in the order they were reported. */
typedef void (*mlfq_workers_cb)(void *ud, const mlfq_wake_t *w, size_t n);

/* Starts n engine threads reporting to cb on loop. Returns NULL on failure
 * (errno-style code in *err). Loop thread only. */
mlfq_workers_t *mlfq_workers_start(uv_loop_t *loop, unsigned n,
                                   mlfq_workers_cb cb, void *ud, int *err);

/* Asks engine e, which must be idle, to sleep until deadline and report.
 * Loop thread only. */
void mlfq_workers_run(mlfq_workers_t *w, unsigned e, uint64_t deadline);

/* Stops and joins the threads (each finishes the sleep it is in), then
 * closes the async handle; the memory is freed in its close callback, so
 * run the loop afterwards. Wakes not yet delivered are dropped. */
void mlfq_workers_stop(mlfq_workers_t *w);

#endif
