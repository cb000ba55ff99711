/* SIGINT and SIGTERM through a server's libuv loop (mlfqd, mlfq-router):
 * the handles, started and closed together. What a signal means (drain,
 * or exit at the second) is mlfq_daemon_signal's (daemon.h). */
#ifndef MLFQ_SIGNALS_H
#define MLFQ_SIGNALS_H

#include <uv.h>

typedef struct {
  uv_signal_t _int;
  uv_signal_t _term;
  int _open;
  void (*_cb)(int signum, void *arg);
  void *_arg;
} mlfq_signals_t;

/* Starts watching SIGINT and SIGTERM on loop; cb(signum, arg) runs on the
 * loop thread for each. Returns 0 or a UV_E* code (nothing stays open). */
int mlfq_signals_start(mlfq_signals_t *s, uv_loop_t *loop,
                       void (*cb)(int signum, void *arg), void *arg);
/* Closes both handles; idempotent. */
void mlfq_signals_close(mlfq_signals_t *s);

#endif
