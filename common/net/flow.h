/* The flow control of one peer's output, shared by mlfqd's protocol and
 * HTTP connections and the router's client connections: when to stop
 * reading a peer that does not read its output, when to read it again,
 * and when to close the connection. Only decisions, no I/O: the caller
 * appends, writes, reads and closes, and tells this what it did.
 *
 * Output is "queued" once handed to the kernel (uv_write) and not yet
 * written, "buffered" while still appended for the next flush.
 */
#ifndef MLFQ_FLOW_H
#define MLFQ_FLOW_H

#include <stddef.h>

typedef enum {
  MLFQ_FLOW_KEEP,   /* nothing to do */
  MLFQ_FLOW_CLOSE,  /* close the connection now */
  MLFQ_FLOW_PAUSE,  /* stop reading the peer */
  MLFQ_FLOW_RESUME, /* read the peer again */
} mlfq_flow_action_t;

typedef enum {
  MLFQ_FLOW_OPEN,   /* the connection goes on */
  MLFQ_FLOW_LINGER, /* close it once everything is written */
  MLFQ_FLOW_DROP,   /* a slow reader: write nothing more, close it */
} mlfq_flow_end_t;

typedef struct {
  size_t max;   /* queued + buffered output that disconnects the peer */
  size_t pause; /* queued output above which reading stops, until half of
                   it is written; 0: never */
  int paused;
  mlfq_flow_end_t end;
} mlfq_flow_t;

void mlfq_flow_init(mlfq_flow_t *f, size_t max, size_t pause);

/* Whether unwritten bytes (queued + buffered, what is to be appended
 * included) may wait for the peer. If not, f drops the peer and 0 is
 * returned: the caller says so in its log and appends nothing more. */
int mlfq_flow_admit(mlfq_flow_t *f, size_t unwritten);
/* The peer is dropped for another reason (the output could not be
 * appended). */
void mlfq_flow_drop(mlfq_flow_t *f);
/* Close once everything is written (an answer that ends the connection);
 * a dropped peer stays dropped. */
void mlfq_flow_linger(mlfq_flow_t *f);

/* At a flush, before writing: CLOSE for a dropped peer (nothing more is
 * written), else KEEP. */
mlfq_flow_action_t mlfq_flow_flushing(const mlfq_flow_t *f);
/* After the flush handed its output to the kernel, queued bytes unwritten:
 * CLOSE (lingering, and all written), PAUSE or KEEP. */
mlfq_flow_action_t mlfq_flow_flushed(mlfq_flow_t *f, size_t queued);
/* A write ended well, queued and buffered bytes remain: CLOSE (not open,
 * and all written), RESUME or KEEP. */
mlfq_flow_action_t mlfq_flow_written(mlfq_flow_t *f, size_t queued,
                                     size_t buffered);

#endif
