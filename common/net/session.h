/* One protocol session of a server (docs/PROTOCOL.md), mlfqd's or the
 * router's, on one client connection: the Hello gate and its deadline,
 * the errors that close the connection, the flow control of its output,
 * the connection limit, and the dispatch of Submit, Cancel and
 * StatsRequest to the program's ops. Loop thread only.
 *
 * What the session answers itself, the same in every server: BAD_FRAME
 * and BAD_MESSAGE (and HELLO_FIRST, BAD_VERSION) close the connection once
 * the error is written; a Hello not sent within hello_timeout_s closes it
 * with HELLO_FIRST; past max_connections it is closed with
 * TOO_MANY_CONNECTIONS; a Submit while draining gets SHUTTING_DOWN, one
 * with bad lengths INVALID_REQUEST, one whose id is in flight DUPLICATE_ID;
 * a Cancel of an id not in flight gets UNKNOWN_ID, of one in flight
 * CANCELLED after ops->cancel. The program decides the rest of a Submit
 * (admission: common/net/admit.h) and keeps its requests in `ids`.
 *
 * Output: when the unwritten output passes a quarter of max_queued the
 * session stops reading the peer, until half of that is written; past
 * max_queued the peer is disconnected (common/net/flow.h).
 *
 * Closing is one idempotent path, mlfq_session_close: ops->closing ends
 * the program's requests at once, and ops->closed frees the session once
 * its handle has closed.
 */
#ifndef MLFQ_SESSION_H
#define MLFQ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/idmap.h"
#include "net/daemon.h"
#include "net/deadline.h"
#include "net/flow.h"
#include "net/stream.h"
#include "wire/mlfq.pb-c.h"

typedef struct mlfq_session_s mlfq_session_t;

/* A server's side of its sessions, shared by all of them. */
typedef struct {
  uv_loop_t *loop;
  uv_stream_t *listener;      /* where the sessions are accepted from */
  mlfq_stream_group_t *group; /* their streams' */
  mlfq_deadlines_t *hellos;   /* their Hello deadlines, whose expired
                                 callback is mlfq_session_hello_due */
  unsigned max_connections;
  const char *who; /* "server", "router": in BAD_VERSION, SHUTTING_DOWN */
  uint32_t max_frame;
  size_t max_queued; /* unread output that disconnects a client */
  double hello_timeout_s;
  uint32_t max_input_length;
  uint32_t max_output_length;
  const int *draining; /* the server's flag: Submits get SHUTTING_DOWN */
  int relay; /* messages are relayed as they came: refuse what could not
                be (mlfq_wire_tags_valid) with BAD_MESSAGE */
} mlfq_session_cfg_t;

/* Sets cfg up for the sessions of a server named who, accepted from
 * listener on loop, their streams in group and their Hello deadlines in
 * hellos, draining while *draining; no relay; the limits are zero (set
 * them, or mlfq_session_cfg_limits). */
void mlfq_session_cfg_init(mlfq_session_cfg_t *cfg, const char *who,
                           uv_loop_t *loop, uv_stream_t *listener,
                           mlfq_stream_group_t *group, mlfq_deadlines_t *hellos,
                           const int *draining);
/* Sets cfg's limits from a server's options o. */
void mlfq_session_cfg_limits(mlfq_session_cfg_t *cfg,
                             const mlfq_daemon_opts_t *o);

/* What the program does for a session. */
typedef struct {
  /* A connection is being accepted into s: count it among the server's
   * open sessions and return how many there are now, s included (over
   * max_connections, s is refused). ops->closed follows in any case. */
  size_t (*opened)(mlfq_session_t *s);
  /* Bytes arrived; their messages follow (may be NULL). */
  void (*read)(mlfq_session_t *s);
  /* Hello was accepted: fill w's server_id, config and replicas (the
   * rest is set); cfg is storage w->config may point into. */
  void (*welcome)(mlfq_session_t *s, Mlfq__Welcome *w, Mlfq__Config *cfg);
  /* The program's own check of a Submit before its id is looked at (may
   * be NULL): nonzero with err set answers INVALID_REQUEST. */
  int (*check)(mlfq_session_t *s, const Mlfq__Submit *m, char *err,
               size_t errlen);
  /* A Submit passed the checks and its id is not in flight: admit it or
   * answer it (mlfq_session_error), and put it in s->ids if admitted. */
  void (*submit)(mlfq_session_t *s, const Mlfq__Submit *m);
  /* Cancel of request req (s->ids' value for its id): end it and take it
   * out of s->ids; the session then answers CANCELLED. */
  void (*cancel)(mlfq_session_t *s, void *req);
  /* A StatsRequest: answer it now or later. */
  void (*stats)(mlfq_session_t *s);
  /* The session is closing: end every request in s->ids at once. */
  void (*closing)(mlfq_session_t *s);
  /* The handle has closed (or could not be made): forget and free the
   * session. */
  void (*closed)(mlfq_session_t *s);
} mlfq_session_ops_t;

struct mlfq_session_s {
  mlfq_stream_t stream;
  const mlfq_session_cfg_t *cfg;
  const mlfq_session_ops_t *ops;
  mlfq_flow_t flow; /* when to pause, resume, close (flow.h) */
  mlfq_deadline_t hello_due;
  mlfq_idmap_t ids; /* client id -> the program's request */
  uint64_t id;
  int hello;
  int closing;
  char peer[64];
};

/* Accepts the connection waiting on cfg->listener into s (zeroed but for
 * the program's fields), connection number id: ops->opened counts it; one
 * over max_connections is sent TOO_MANY_CONNECTIONS and closed, else it is
 * read and its Hello deadline runs. Returns 0 or a UV_E* code; either way
 * ops->closed frees s in the end (at once if no handle could be made). */
int mlfq_session_accept(mlfq_session_t *s, const mlfq_session_cfg_t *cfg,
                        const mlfq_session_ops_t *ops, uint64_t id);
/* Queues m for s; too much unread output marks s to be disconnected at
 * its flush (nothing more is queued or read). */
void mlfq_session_send(mlfq_session_t *s, const Mlfq__ServerMessage *m);
/* Queues an Error about request id (0: about the connection). */
void mlfq_session_error(mlfq_session_t *s, uint64_t id, Mlfq__ErrorCode code,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* An error about the whole connection: nothing more is read, and s closes
 * once the Error is written. */
void mlfq_session_fatal(mlfq_session_t *s, Mlfq__ErrorCode code,
                        const char *msg);
/* Stops reading from s and closes it once its output is written (at once
 * when none is left). */
void mlfq_session_linger(mlfq_session_t *s);
/* Closes s now: ops->closing, then ops->closed once the handle has
 * closed. Idempotent. */
void mlfq_session_close(mlfq_session_t *s);
/* The expired callback of a server's Hello deadlines: the session of d
 * sent no Hello in time and is closed with HELLO_FIRST. */
void mlfq_session_hello_due(mlfq_deadlines_t *ds, mlfq_deadline_t *d);

#endif
