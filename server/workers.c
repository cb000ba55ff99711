/* DESIGN
 *
 * Owns the engine threads and the hand-off between them and the loop.
 * Each engine has a slot (deadline, has_work) guarded by one mutex and a
 * condition variable per engine; finished sleeps go to a list (an array of
 * at most n entries: an engine has one sleep at a time) under the same
 * mutex, and uv_async_send wakes the loop, which may coalesce several
 * sends into one callback: the callback takes the whole list.
 *
 * Threads: engine threads touch only their slot, the list and the async
 * handle's send; everything else is the loop thread's.
 *
 * Stopping must not wait for an iteration to end (one may be a long
 * prefill): mlfq_workers_stop sets `stop` and signals each thread with
 * SIGRTMIN, whose handler does nothing, so clock_nanosleep returns EINTR
 * and the thread sees `stop` and leaves. It repeats the signal until the
 * thread is joined, which covers a thread that was between its check of
 * `stop` and the sleep when the first signal came. Simulated inference
 * runs on these threads rather than libuv's shared work queue, whose four
 * FIFO threads would serialise engines and add queueing delay.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "workers.h"

typedef struct {
  mlfq_workers_t *w;
  unsigned index;
  pthread_t thread;
  pthread_cond_t cond;
  int has_work;
  uint64_t deadline;
} engine_t;

struct mlfq_workers_s {
  uv_async_t async;
  pthread_mutex_t mu;
  atomic_int stop;
  unsigned n;
  unsigned started;
  engine_t *engines;
  mlfq_wake_t *done; /* n slots */
  size_t ndone;
  mlfq_wake_t *batch; /* the callback's copy */
  mlfq_workers_cb cb;
  void *ud;
};

static void on_interrupt(int sig) { (void)sig; }

/* Sleeps until deadline; returns 0, or 1 if the workers are stopping. */
static int sleep_until(mlfq_workers_t *w, uint64_t deadline) {
  struct timespec ts;

  ts.tv_sec = (time_t)(deadline / 1000000000u);
  ts.tv_nsec = (long)(deadline % 1000000000u);
  /* It returns the error number; EINTR means sleep again to the same
   * deadline, unless it was the stop signal. */
  for (;;) {
    if (atomic_load(&w->stop))
      return 1;
    if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != EINTR)
      return 0;
  }
}

static void *engine_main(void *arg) {
  engine_t *e = arg;
  mlfq_workers_t *w = e->w;
  uint64_t deadline, woke;

  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!e->has_work && !atomic_load(&w->stop))
      pthread_cond_wait(&e->cond, &w->mu);
    if (!e->has_work) {
      pthread_mutex_unlock(&w->mu);
      return NULL;
    }
    deadline = e->deadline;
    pthread_mutex_unlock(&w->mu);

    if (sleep_until(w, deadline))
      return NULL;
    woke = uv_hrtime();

    pthread_mutex_lock(&w->mu);
    e->has_work = 0;
    w->done[w->ndone].engine = e->index;
    w->done[w->ndone].deadline = deadline;
    w->done[w->ndone].woke = woke;
    w->ndone++;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
  }
}

static void on_async(uv_async_t *a) {
  mlfq_workers_t *w = (mlfq_workers_t *)a;
  size_t n;

  pthread_mutex_lock(&w->mu);
  n = w->ndone;
  memcpy(w->batch, w->done, n * sizeof(*w->done));
  w->ndone = 0;
  pthread_mutex_unlock(&w->mu);
  if (n > 0 && !atomic_load(&w->stop))
    w->cb(w->ud, w->batch, n);
}

static void free_workers(mlfq_workers_t *w) {
  unsigned i;

  for (i = 0; i < w->n; i++)
    pthread_cond_destroy(&w->engines[i].cond);
  pthread_mutex_destroy(&w->mu);
  free(w->engines);
  free(w->done);
  free(w->batch);
  free(w);
}

static void on_close(uv_handle_t *h) { free_workers((mlfq_workers_t *)h); }

mlfq_workers_t *mlfq_workers_start(uv_loop_t *loop, unsigned n,
                                   mlfq_workers_cb cb, void *ud, int *err) {
  struct sigaction sa;
  sigset_t mask, old;
  mlfq_workers_t *w;
  unsigned i;
  int rc;

  w = calloc(1, sizeof(*w));
  if (w == NULL) {
    *err = UV_ENOMEM;
    return NULL;
  }
  w->n = n;
  w->cb = cb;
  w->ud = ud;
  atomic_init(&w->stop, 0);
  w->engines = calloc(n, sizeof(*w->engines));
  w->done = calloc(n, sizeof(*w->done));
  w->batch = calloc(n, sizeof(*w->batch));
  if (w->engines == NULL || w->done == NULL || w->batch == NULL) {
    free(w->engines);
    free(w->done);
    free(w->batch);
    free(w);
    *err = UV_ENOMEM;
    return NULL;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_interrupt; /* no SA_RESTART: sleeps return EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGRTMIN, &sa, NULL);
  pthread_mutex_init(&w->mu, NULL);
  for (i = 0; i < n; i++) {
    w->engines[i].w = w;
    w->engines[i].index = i;
    pthread_cond_init(&w->engines[i].cond, NULL);
  }
  rc = uv_async_init(loop, &w->async, on_async);
  if (rc) {
    free_workers(w);
    *err = rc;
    return NULL;
  }
  /* The threads take only the stop signal: the others (SIGTERM, SIGINT)
   * are the loop thread's, whose libuv handles wake the loop. */
  sigfillset(&mask);
  sigdelset(&mask, SIGRTMIN);
  sigdelset(&mask, SIGSEGV);
  sigdelset(&mask, SIGBUS);
  sigdelset(&mask, SIGFPE);
  sigdelset(&mask, SIGILL);
  pthread_sigmask(SIG_SETMASK, &mask, &old);
  for (i = 0; i < n; i++) {
    rc = pthread_create(&w->engines[i].thread, NULL, engine_main,
                        &w->engines[i]);
    if (rc)
      break;
    w->started++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    *err = -rc;
    mlfq_workers_stop(w);
    return NULL;
  }
  return w;
}

void mlfq_workers_run(mlfq_workers_t *w, unsigned e, uint64_t deadline) {
  pthread_mutex_lock(&w->mu);
  w->engines[e].deadline = deadline;
  w->engines[e].has_work = 1;
  pthread_cond_signal(&w->engines[e].cond);
  pthread_mutex_unlock(&w->mu);
}

void mlfq_workers_stop(mlfq_workers_t *w) {
  struct timespec ts;
  unsigned i;

  pthread_mutex_lock(&w->mu);
  atomic_store(&w->stop, 1);
  for (i = 0; i < w->n; i++)
    pthread_cond_signal(&w->engines[i].cond);
  pthread_mutex_unlock(&w->mu);
  for (i = 0; i < w->started; i++) {
    for (;;) {
      pthread_kill(w->engines[i].thread, SIGRTMIN);
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10000000; /* 10 ms, then signal again */
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      if (pthread_timedjoin_np(w->engines[i].thread, NULL, &ts) == 0)
        break;
    }
  }
  uv_close((uv_handle_t *)&w->async, on_close);
}
