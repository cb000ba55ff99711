#include "net/flow.h"

void mlfq_flow_init(mlfq_flow_t *f, size_t max, size_t pause) {
  f->max = max;
  f->pause = pause;
  f->paused = 0;
  f->end = MLFQ_FLOW_OPEN;
}

int mlfq_flow_admit(mlfq_flow_t *f, size_t unwritten) {
  if (f->end == MLFQ_FLOW_DROP)
    return 0;
  if (unwritten > f->max) {
    f->end = MLFQ_FLOW_DROP;
    return 0;
  }
  return 1;
}

void mlfq_flow_drop(mlfq_flow_t *f) { f->end = MLFQ_FLOW_DROP; }

void mlfq_flow_linger(mlfq_flow_t *f) {
  if (f->end == MLFQ_FLOW_OPEN)
    f->end = MLFQ_FLOW_LINGER;
}

mlfq_flow_action_t mlfq_flow_flushing(const mlfq_flow_t *f) {
  return f->end == MLFQ_FLOW_DROP ? MLFQ_FLOW_CLOSE : MLFQ_FLOW_KEEP;
}

mlfq_flow_action_t mlfq_flow_flushed(mlfq_flow_t *f, size_t queued) {
  if (f->end != MLFQ_FLOW_OPEN)
    return queued == 0 ? MLFQ_FLOW_CLOSE : MLFQ_FLOW_KEEP;
  if (!f->paused && f->pause > 0 && queued > f->pause) {
    f->paused = 1;
    return MLFQ_FLOW_PAUSE;
  }
  return MLFQ_FLOW_KEEP;
}

mlfq_flow_action_t mlfq_flow_written(mlfq_flow_t *f, size_t queued,
                                     size_t buffered) {
  if (f->end != MLFQ_FLOW_OPEN)
    return queued == 0 && buffered == 0 ? MLFQ_FLOW_CLOSE : MLFQ_FLOW_KEEP;
  if (f->paused && queued <= f->pause / 2) {
    f->paused = 0;
    return MLFQ_FLOW_RESUME;
  }
  return MLFQ_FLOW_KEEP;
}
