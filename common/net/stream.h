/* One framed, flow-controlled TCP stream, under mlfqd's protocol
 * connections, the router's client and replica links and loadgen's
 * connections: reading and framing, appending output, and writing it with
 * one uv_write per flush. Loop thread only.
 *
 * Reading appends to `in` and hands each whole frame to ops->frame in
 * order, until the owner sets `stop`; a bad frame header or the end of the
 * stream goes to ops->failed. Output is appended to `out` (never past
 * max_queued bytes unwritten, written included, but for the unbounded
 * messages the room is kept for) and written by mlfq_stream_write.
 *
 * A stream may belong to a group: what a program flushes together. Putting
 * a message marks the stream dirty in its group, and at the end of every
 * read and write callback the stream calls the group's settle, which
 * flushes each dirty stream once (mlfq_stream_group_flush): the frames one
 * callback produces for a peer go out in one write. Without a group the
 * owner writes when it wants.
 *
 * The stream owns no close path: its owner closes it (mlfq_stream_close)
 * and frees the buffers (mlfq_stream_reset) when the handle has closed.
 */
#ifndef MLFQ_STREAM_H
#define MLFQ_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "wire/mlfq.pb-c.h"

typedef struct mlfq_stream_s mlfq_stream_t;
typedef struct mlfq_stream_group_s mlfq_stream_group_t;

/* What a stream's owner does at its events. */
typedef struct {
  /* Bytes arrived; their frames follow (may be NULL). */
  void (*read)(mlfq_stream_t *s);
  /* One whole frame arrived (payload p[0..len), at offset s->pos of in). */
  void (*frame)(mlfq_stream_t *s, const uint8_t *p, size_t len);
  /* Reading ended: err is UV_EOF, a read error, or MLFQ_EFRAMESIZE or
   * MLFQ_EFRAMEEMPTY for a bad frame header (at offset s->pos of in). */
  void (*failed)(mlfq_stream_t *s, int err);
  /* The group flushes the stream: write its output (mlfq_stream_write).
   * May be NULL for a stream without a group. */
  void (*flush)(mlfq_stream_t *s);
  /* A write ended with status, after s->queued went down (may be NULL). */
  void (*written)(mlfq_stream_t *s, int status);
} mlfq_stream_ops_t;

/* The streams a program flushes together: those with output, and what to
 * do at the end of each of their callbacks. */
struct mlfq_stream_group_s {
  mlfq_link_t dirty; /* streams with output to write */
  /* Called at the end of every read and write callback of a stream of the
   * group: flush the group (mlfq_stream_group_flush), and whatever else
   * the program does then. */
  void (*settle)(mlfq_stream_group_t *g);
};

struct mlfq_stream_s {
  uv_tcp_t tcp;
  mlfq_stream_group_t *group; /* or NULL */
  const mlfq_stream_ops_t *ops;
  mlfq_buf_t in;
  mlfq_buf_t out;
  size_t pos;    /* offset in `in` of the frame being handed over */
  size_t queued; /* bytes given to uv_write and not yet written */
  size_t max_queued;
  uint32_t max_frame;
  mlfq_link_t dirty; /* in group->dirty while it has output to write */
  int stop;          /* hand over no more frames of what was read */
};

/* Sets the group up: no stream is dirty; settle as above. */
void mlfq_stream_group_init(mlfq_stream_group_t *g,
                            void (*settle)(mlfq_stream_group_t *g));
/* Calls ops->flush of every dirty stream of g once, taking them from the
 * head until none is left (a flush may make another stream dirty). */
void mlfq_stream_group_flush(mlfq_stream_group_t *g);

/* Sets s up (no handle yet; the owner calls uv_tcp_init on s->tcp): frames
 * of at most max_frame bytes are read, and at most max_queued bytes may
 * wait to be written, plus room bytes more of unbounded messages. group
 * may be NULL. */
void mlfq_stream_init(mlfq_stream_t *s, mlfq_stream_group_t *group,
                      const mlfq_stream_ops_t *ops, uint32_t max_frame,
                      size_t max_queued, size_t room);
/* Starts reading (s->tcp connected). Returns 0 or a UV_E* code. */
int mlfq_stream_read_start(mlfq_stream_t *s);
/* Stops reading; what was read and not handed over stays. */
void mlfq_stream_read_stop(mlfq_stream_t *s);
/* Appends a framed message to s->out and marks s for its group's next
 * flush (also when it fails). Returns 0, MLFQ_ERANGE when the unwritten
 * output would pass max_queued (nothing is appended), or MLFQ_ENOMEM. */
int mlfq_stream_put_server(mlfq_stream_t *s, const Mlfq__ServerMessage *m);
int mlfq_stream_put_client(mlfq_stream_t *s, const Mlfq__ClientMessage *m);
/* The same past max_queued, for a message whose count the caller bounds,
 * within the room given to mlfq_stream_init. Returns 0, MLFQ_ERANGE past
 * that room, or MLFQ_ENOMEM. */
int mlfq_stream_put_client_unbounded(mlfq_stream_t *s,
                                     const Mlfq__ClientMessage *m);
/* Writes what is in s->out with one uv_write (nothing when it is empty).
 * Returns 0 or a UV_E* code (then the connection is unusable: close it). */
int mlfq_stream_write(mlfq_stream_t *s);
/* Stops handing frames over, takes s out of its group's dirty list and
 * closes the handle; cb runs when it has closed. */
void mlfq_stream_close(mlfq_stream_t *s, uv_close_cb cb);
/* Forgets what was read and not written and takes s out of its group's
 * dirty list, for a stream whose handle has closed; the buffers are freed
 * (reusable after: mlfq_stream_init again). */
void mlfq_stream_reset(mlfq_stream_t *s);
/* The peer's address as "HOST:PORT" ("[V6]:PORT"), or "?". */
void mlfq_stream_peer_name(mlfq_stream_t *s, char *buf, size_t len);

#endif
