/* Returning freed heap memory to the system once a server is quiet. */
#ifndef MLFQ_TRIM_H
#define MLFQ_TRIM_H

#include <stdint.h>

#include <uv.h>

/* The period the servers use. */
#define MLFQ_TRIM_PERIOD_MS 1000

typedef struct mlfq_trim_s mlfq_trim_t;

struct mlfq_trim_s {
  uv_timer_t _timer;
  int (*_busy)(void *arg);          /* anything in flight */
  uint64_t (*_activity)(void *arg); /* grows with connections and requests */
  void *_arg;
  uint64_t _seen; /* activity at the last trim */
  uint64_t trims; /* times freed memory was returned */
};

/* Starts t's timer on loop (the loop thread): every period_ms, if busy(arg)
 * is 0 and activity(arg) has changed since the last trim, the heap's free
 * pages go back to the system. The timer does not keep the loop alive.
 * Returns 0 or a UV_E* code. */
int mlfq_trim_init(mlfq_trim_t *t, uv_loop_t *loop, unsigned period_ms,
                   int (*busy)(void *arg), uint64_t (*activity)(void *arg),
                   void *arg);
/* Stops and closes the timer; t must stay valid until the loop has run
 * its close callbacks. */
void mlfq_trim_close(mlfq_trim_t *t);

#endif
