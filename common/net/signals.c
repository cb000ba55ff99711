#include "net/signals.h"

#include <signal.h>

#include "base/list.h"

static void on_int(uv_signal_t *h, int signum) {
  mlfq_signals_t *s = MLFQ_CONTAINER_OF(h, mlfq_signals_t, _int);

  s->_cb(signum, s->_arg);
}

static void on_term(uv_signal_t *h, int signum) {
  mlfq_signals_t *s = MLFQ_CONTAINER_OF(h, mlfq_signals_t, _term);

  s->_cb(signum, s->_arg);
}

int mlfq_signals_start(mlfq_signals_t *s, uv_loop_t *loop,
                       void (*cb)(int signum, void *arg), void *arg) {
  int rc;

  s->_cb = cb;
  s->_arg = arg;
  s->_open = 0;
  rc = uv_signal_init(loop, &s->_int);
  if (rc)
    return rc;
  rc = uv_signal_init(loop, &s->_term);
  if (rc) {
    uv_close((uv_handle_t *)&s->_int, NULL);
    return rc;
  }
  s->_open = 1;
  rc = uv_signal_start(&s->_int, on_int, SIGINT);
  if (rc == 0)
    rc = uv_signal_start(&s->_term, on_term, SIGTERM);
  if (rc)
    mlfq_signals_close(s);
  return rc;
}

void mlfq_signals_close(mlfq_signals_t *s) {
  if (!s->_open)
    return;
  s->_open = 0;
  uv_close((uv_handle_t *)&s->_int, NULL);
  uv_close((uv_handle_t *)&s->_term, NULL);
}
