/* One loadgen run: the whole schedule of a workload sent to one server, and
 * what came back.
 *
 * The run owns a libuv loop with C connections to the server. Sends happen
 * at absolute deadlines computed up front from the workload's arrival
 * times (model time, scaled by the server's time_scale from Welcome): a
 * timerfd armed at each next deadline wakes the loop with nanosecond
 * resolution, so there is no chain of relative sleeps and no millisecond
 * rounding of libuv timers. Everything is recorded per request with
 * uv_hrtime().
 */
#ifndef MLFQ_LG_RUN_H
#define MLFQ_LG_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "load/workload.h"
#include "wire/mlfq.pb-c.h"

/* Request states and the client-side failure codes (server failures use
 * their positive ErrorCode, known to this build or not). */
enum { LG_UNSENT = 0, LG_INFLIGHT, LG_DONE, LG_FAILED };
enum {
  LG_ERR_TIMEOUT = -1,
  LG_ERR_CONN_LOST = -2,
  LG_ERR_INTERRUPTED = -3,
  LG_ERR_PROTOCOL = -4 /* the server broke the protocol: the run ended */
};

typedef struct {
  uint64_t intended_wall; /* uv_hrtime() at which it is due */
  uint64_t sent_wall;
  uint64_t first_wall;     /* receipt of token 1 */
  uint64_t last_wall;      /* receipt of the last token */
  uint64_t srv_arrival_ns; /* server model times from Accepted and Done */
  uint64_t srv_first_ns;   /* (while in flight: of token 1) */
  uint64_t srv_finish_ns;  /* (while in flight: of the last token) */
  uint64_t *tok_wall;      /* receipt of every token, when tracing */
  mlfq_link_t link;        /* in the in-flight list, by send time */
  uint64_t swapped_tokens; /* from Done: KV moved to host memory and back */
  uint64_t late_ns;     /* from Done: how far behind the model the server served
                           it (model ns), when it fell behind; else 0 */
  uint32_t preemptions; /* from Done: KV evictions */
  uint32_t replica;     /* from Done: a router's 1-based replica, or 0 */
  uint32_t input_len;
  uint32_t output_len;
  uint32_t tokens;
  int32_t status; /* 0, an ErrorCode, or an LG_ERR_* */
  uint8_t state;
  uint8_t accepted;
  uint16_t conn;
} lg_req_t;

typedef struct {
  const char *host;
  int port;
  unsigned connections;   /* >= 1 */
  size_t max_concurrency; /* 0: open loop */
  double timeout_s;       /* per request, 0: none */
  int trace;              /* keep every token's receipt time */
  int progress;           /* a progress line on stderr */
  const char *label;
} lg_run_opts_t;

typedef struct {
  lg_req_t *reqs; /* by request id (workload row) */
  size_t n;
  uint64_t t0_wall;  /* model time 0 of the schedule */
  double time_scale; /* the server's */
  Mlfq__ServerMessage *welcome;
  uint64_t kv_peak; /* the server's peak KV use from a Stats after the last
                       request (asked only with a KV capacity);
                       MLFQ_KV_PEAK_UNKNOWN when not known */
  int interrupted;
  int lost;     /* a connection was lost */
  int bad_peer; /* the server broke the protocol mid-run; err says how */
} lg_result_t;

/* Sends w to the server as o says and waits for every request to end;
 * then, if the server has a KV capacity, asks it for Stats (at most 5 s)
 * for its peak KV use. Every message of the server is checked against
 * docs/PROTOCOL.md before it is used (its Welcome with
 * mlfq_wire_welcome_check; ids, token order and times of the others).
 * Returns 0 when the run happened (requests may have failed: see their
 * status; with res->bad_peer set the server broke the protocol, the run
 * ended then, its unfinished requests failed with LG_ERR_PROTOCOL, and err
 * says how), or a negative code with err set when the server could not be
 * reached, did not answer Hello, or is not mlfqd protocol (nothing was
 * sent). */
int lg_run(const lg_run_opts_t *o, const mlfq_workload_t *w, lg_result_t *res,
           char *err, size_t errlen);

void lg_result_free(lg_result_t *res);

/* The name of a request's status: "ok", an ErrorCode's ("OVERLOADED"), an
 * LG_ERR_*'s ("TIMEOUT", "CONNECTION_LOST", "INTERRUPTED",
 * "PROTOCOL_ERROR"), or for a code this build does not know (a newer
 * server's) "ERROR_CODE_<n>", written into buf (len bytes, at least
 * LG_STATUS_NAME_MAX) and returned. */
#define LG_STATUS_NAME_MAX 32
const char *lg_status_name(int32_t status, char *buf, size_t len);

/* Sets up res->reqs for workload w sent over connections connections
 * (request i on connection i mod connections), unsent. Returns 0 or
 * MLFQ_ENOMEM (res->reqs NULL). result.c, like lg_check, lg_record,
 * lg_status_name and lg_result_free. */
int lg_result_init(lg_result_t *res, const mlfq_workload_t *w,
                   unsigned connections);
/* Gives every request its intended_wall: model time 0 at t0_wall, the
 * arrivals scaled by res->time_scale. Returns 0, or MLFQ_ERANGE with *bad
 * the first request that would fall past the largest wall time. */
int lg_schedule(lg_result_t *res, const mlfq_workload_t *w, uint64_t t0_wall,
                size_t *bad);

/* Checks m, the next message on connection conn of a run (ready: it has
 * had its Welcome), against docs/PROTOCOL.md and what the run has seen:
 * the Welcome with mlfq_wire_welcome_check, then the ids, the order of
 * tokens and the times of the others (result.c). Returns 0, or -1 with why
 * set. */
int lg_check(const lg_result_t *res, unsigned conn, int ready,
             const Mlfq__ServerMessage *m, char *why, size_t len);
/* Records into q, in flight, what reply m (checked) tells of it, received
 * at uv_hrtime() now: Accepted's arrival, a Token's times, Done's times
 * and counters. Ending q is the caller's. */
void lg_record(lg_req_t *q, const Mlfq__ServerMessage *m, uint64_t now);

/* Model ns between two uv_hrtime() readings of a run. */
static inline double lg_model_ms(const lg_result_t *r, uint64_t from,
                                 uint64_t to) {
  return (double)(to - from) / 1e6 / r->time_scale;
}

#endif
