/* The daemon's state shared by its parts: the server (listener, the
 * scheduling pump, drain, metrics.c), its protocol connections (conn.c,
 * proto.c) and its HTTP front door (http.c, completion.c). The server speaks
 * its own types to its doors (request_ops_t, server_err_t, server_stats_t);
 * each door translates them at its edge. Everything here lives on the loop
 * thread; only workers.c runs elsewhere.
 */
#ifndef MLFQ_SERVER_H
#define MLFQ_SERVER_H

#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "base/hist.h"
#include "base/idmap.h"
#include "base/list.h"
#include "core/job.h"
#include "core/point.h"
#include "core/sched.h"
#include "errors.h"
#include "faults.h"
#include "http/prom.h"
#include "late.h"
#include "load/endings.h"
#include "net/deadline.h"
#include "net/session.h"
#include "net/stream.h"
#include "net/trim.h"
#include "wire/wire.h"
#include "workers.h"

typedef struct server_s server_t;
typedef struct conn_s conn_t;
typedef struct request_s request_t;
typedef struct http_door_s http_door_t;

/* The longest --model-name, in bytes: room for a Hugging Face id
 * ("facebook/opt-1.3b") and for the path of a model's files, which vLLM
 * serves under as its name by default (a snapshot's in the Hugging Face
 * cache is over 120 bytes), while a /metrics line stays small. Its characters
 * are letters, digits and . _ - / : + @ (SERVER_MODEL_NAME_CHARS), which a
 * Prometheus label value, a JSON string and a URL path all carry as they
 * are. */
#define SERVER_MODEL_NAME_MAX 256
#define SERVER_MODEL_NAME_CHARS                                                \
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/:+@"

/* Options of a server. */
typedef struct {
  mlfq_sched_config_t sched;
  mlfq_cost_t cost;
  mlfq_limits_t lim;
  unsigned max_connections;
  size_t max_queued_bytes; /* unread output that disconnects a client */
  double drain_timeout_s;
  double hello_timeout_s; /* a connection without Hello by then is closed */
  /* The HTTP front door (http.c), when http_listen is set. */
  const char *model_name;     /* the one model /v1/models lists */
  unsigned http_max_tokens;   /* max_tokens when a completion gives none */
  size_t http_max_body_bytes; /* a larger request body gets 413 */
  double http_read_timeout_s; /* a request not read whole by then: 408 */
  double late_fraction; /* of the smallest decode time: a late end (late.h) */
  /* The natural lengths of completions (load/endings.h; loop thread), or
   * NULL: every completion runs to its max_tokens. */
  mlfq_endings_t *endings;
  faults_opts_t faults;       /* failure injection (faults.h); zero: none */
  double http_idle_timeout_s; /* a kept-alive connection idle so long closes */
  unsigned http_max_requests; /* per connection; 0: no cap */
} server_opts_t;

/* What the owner of a request (a protocol connection, an HTTP exchange) is
 * told, during a scheduling point: it may queue output but not close a
 * connection (it marks it, and closes at its flush). */
typedef struct {
  /* r entered the scheduler. */
  void (*accepted)(request_t *r);
  /* Token r->job.tokens completed at model time t. After the last one r
   * has ended: the server has let it go, and the owner frees it. */
  void (*token)(request_t *r, uint64_t t);
  /* r ended without finishing (why, msg): the server has let it go, and
   * the owner tells its client and frees it. */
  void (*failed)(request_t *r, server_err_t why, const char *msg);
} request_ops_t;

/* One client request, owned by whoever submitted it. */
struct request_s {
  mlfq_job_t job; /* the scheduler's view; its id is the server's */
  const request_ops_t *ops;
  void *owner;        /* the connection it came from (conn.c, http.c) */
  uint64_t client_id; /* the owner's id for it */
  /* The most tokens its client allowed (max_tokens; a Submit's
   * output_length): job.output_len below it is a natural end, "stop". */
  uint32_t max_tokens;
  mlfq_link_t clink; /* in its owner's list */
  mlfq_link_t plink; /* in server->pending until it enters the scheduler */
  mlfq_link_t slink; /* in server->requests while in flight */
  int in_sched;
  int started; /* its first iteration has begun (the queue time is known) */
  /* The worst lateness of its iterations' ends, wall ns, where late (late.h);
   * 0 while the server kept the model's time for it. */
  uint64_t late_ns;
  /* For /metrics (metrics.c), model time: when its first iteration began
   * and when its latest token completed. */
  uint64_t started_ns;
  uint64_t last_token_ns;
};

/* Something with output to write at the end of a pump (server_dirty). */
typedef struct server_out_s server_out_t;
struct server_out_s {
  mlfq_link_t link;
  void (*flush)(server_out_t *o);
};

/* What /metrics observes as requests run (metrics.c): vLLM's histograms,
 * times in model seconds, lengths in tokens, and counters the scheduler
 * does not keep. Loop thread; an observation is a bucket search. */
typedef struct {
  mlfq_prom_hist_t ttft;    /* arrival to the first token */
  mlfq_prom_hist_t itl;     /* between consecutive tokens of a request */
  mlfq_prom_hist_t e2e;     /* arrival to the last token */
  mlfq_prom_hist_t queue;   /* arrival to the start of the first iteration */
  mlfq_prom_hist_t prefill; /* that start to the first token */
  mlfq_prom_hist_t decode;  /* the first token to the last */
  mlfq_prom_hist_t
      inference;           /* the first iteration's start to the last token */
  mlfq_prom_hist_t prompt; /* a finished request's prompt tokens */
  mlfq_prom_hist_t generation; /* and the tokens it generated */
  mlfq_prom_hist_t max_tokens; /* and the most its client allowed */
  mlfq_prom_hist_t n;          /* and its sequences (always 1) */
  mlfq_prom_hist_t iteration;  /* tokens of an iteration: prefill + decode */
  /* vLLM's 1-2-5 bounds up to the longest request, the iteration bounds up
   * to the largest batch (the histograms point at them). */
  double len_bounds[MLFQ_PROM_MAX_BUCKETS];
  double iter_bounds[MLFQ_PROM_MAX_BUCKETS];
  uint64_t prompt_tokens;  /* of the requests whose prefill completed */
  uint64_t prefix_queries; /* prompt tokens of requests first scheduled */
  uint64_t stopped;        /* requests that ended before max_tokens */
  uint64_t capped;         /* and at max_tokens */
} server_metrics_t;

/* The server's statistics at one moment (server_stats_get): what a
 * StatsReply carries (proto.c) and /metrics shows (metrics.c). */
typedef struct {
  uint64_t running;   /* requests in an engine's batch */
  uint64_t waiting;   /* accepted, not running (arrivals included) */
  uint64_t submitted; /* requests accepted */
  uint64_t completed;
  uint64_t cancelled; /* by a client, a disconnect or the drain */
  uint64_t rejected;
  uint64_t tokens; /* generated */
  unsigned nlevels;
  uint64_t levels[MLFQ_MAX_QUEUES]; /* unfinished requests in each level */
  unsigned nengines;
  double busy[MLFQ_MAX_WORKERS]; /* share of the model uptime, 0 to 1 */
  double lateness_p50_us;        /* engine threads' wake-up lateness */
  double lateness_p99_us;
  double lateness_max_us;
  uint64_t late_iterations; /* ends handled too late (late.h) */
  int behind;               /* the server is behind the model now */
  double uptime_s;          /* wall time */
  uint64_t connections;     /* protocol and HTTP */
  uint64_t iterations;
  uint64_t demotions;
  uint64_t promotions;
  uint64_t preemptions;
  uint64_t swapped_tokens;
  uint64_t kv_used_tokens;
  uint64_t kv_peak_tokens;
  uint64_t kv_capacity_tokens; /* 0: unlimited */
  uint64_t kv_host_requests;   /* swapped out to host memory now */
  uint64_t kv_host_tokens;     /* the KV tokens they hold there */
  uint64_t heap_trims;
  int draining;
} server_stats_t;

#define MLFQ_NONE UINT64_MAX

struct server_s {
  uv_loop_t *loop;
  uv_tcp_t listener;
  mlfq_deadlines_t hellos; /* connections that have not sent Hello */
  uv_timer_t drain_timer;
  mlfq_trim_t trim; /* gives freed heap back once idle (trim.h) */
  int listening;
  int timer_ready;
  server_opts_t opt;
  mlfq_sched_t *sched;
  mlfq_workers_t *workers;
  mlfq_wire_config_t wcfg;
  char server_id[64];
  uint64_t t0;       /* uv_hrtime() at model time 0 */
  int clock_stopped; /* model time reached MLFQ_TIME_MAX (logged once) */
  /* the scheduling points: engines' ends, reports, the latest point's
   * model time (pt.now) */
  mlfq_point_t pt;
  unsigned inline_ends; /* reported by this pump without a hand-off */
  uint64_t *busy_ns;    /* per engine: total modeled busy time */
  uint64_t *end_late;   /* per engine: its latest end's lateness, where late */
  server_late_t late;   /* whether the server keeps the model's time */
  uint64_t last_arrival;
  uint64_t next_job_id;
  mlfq_link_t pending;  /* arrived, not yet in the scheduler, by time */
  mlfq_link_t requests; /* in flight, oldest first */
  size_t inflight;      /* accepted requests not yet ended */
  mlfq_link_t conns;
  size_t nconns;
  uint64_t conn_seq;
  mlfq_link_t dirty;           /* server_out_t with output to flush */
  mlfq_stream_group_t streams; /* the protocol connections' (conn.c) */
  mlfq_session_cfg_t scfg;     /* and their sessions' */
  mlfq_hist_t lateness;
  server_metrics_t metrics;
  http_door_t *http; /* the HTTP front door, once http_listen made it */
  faults_t faults;   /* which HTTP completions get a fault (faults.h) */
  uint64_t rejected;
  uint64_t submitted;       /* requests accepted */
  uint64_t cancelled_early; /* cancelled before they entered the scheduler */
  int draining;
  int stopping;
  void (*on_stop)(server_t *sv); /* called once the server begins to stop */
};

/* A protocol connection: its session (framing, Hello, flow control) and
 * its requests. */
struct conn_s {
  mlfq_session_t s; /* its ids map client ids to request_t */
  server_t *sv;
  mlfq_link_t link; /* in sv->conns */
  mlfq_link_t reqs;
  uint64_t now; /* model time of the read being handled */
};

/* proto.c: the server's types in the protocol's words */
/* Whether the largest Welcome and StatsReply a server with options o can
 * send (every profile row, every level and engine, counters at their
 * widest) fit in half of o->max_queued_bytes, so that sending one at
 * Hello, or on an otherwise idle connection, never makes a client a slow
 * reader (the other half is room for output queued before it). On a busy
 * connection the tokens of its requests in flight queue too, and a client
 * that does not read them can pass the bound with or without the reply.
 * Returns 0, or MLFQ_ERANGE
 * (or MLFQ_EINVAL / MLFQ_ENOMEM) with err set, naming the option. */
int server_replies_check(const server_opts_t *o, char *err, size_t errlen);
/* Sends c a StatsReply of the server's statistics now. */
void proto_send_stats(conn_t *c);

/* server.c */
/* Creates the scheduler and starts the engine threads. Returns 0 or a
 * negative code with err set. */
int server_init(server_t *sv, uv_loop_t *loop, const server_opts_t *o,
                char *err, size_t errlen);
/* Listens on host:port (port 0: any free port) and writes the bound
 * address to bound. */
int server_listen(server_t *sv, const char *host, int port, char *bound,
                  size_t boundlen, char *err, size_t errlen);
/* Stops accepting and lets requests in flight finish, at most
 * drain_timeout_s, then cancels the rest and stops. */
void server_drain(server_t *sv);
/* Stops the engine threads and closes the server's handles at once, for a
 * server that failed to start; run the loop after, then server_free. */
void server_close(server_t *sv);
/* Frees what server_init made, after the loop has ended. */
void server_free(server_t *sv);
/* The model time now, in ns since the start. It stops at MLFQ_TIME_MAX
 * (2^63 ns of model time, 292 years times --time-scale of wall time), and
 * logs an error the first time it does. Loop thread. */
uint64_t server_model_now(server_t *sv);
/* The limits every request meets, protocol or HTTP. Whether a request of
 * in + out tokens fits the KV capacity (lengths names them as its client
 * gave them, for err). */
int server_kv_fits(const server_t *sv, uint64_t in, uint64_t out,
                   const char *lengths, char *err, size_t errlen);
/* Whether n more requests of a connection holding own in flight may come
 * in (common/net/admit.h: max_pending, max_pending_per_conn, the fair share);
 * if not, they are counted as rejected and err says why. */
int server_has_room(server_t *sv, size_t own, size_t n, char *err,
                    size_t errlen);
/* A new request r arrives at model time now (one read's requests share
 * one time); the server takes it from here. */
void server_arrive(server_t *sv, request_t *r, uint64_t now);
/* Takes r out of the scheduler or the arrivals (it has not ended). */
void server_forget(server_t *sv, request_t *r);
/* Runs every scheduling point that is due and flushes the output. */
void server_pump(server_t *sv);
/* Fills st with the server's statistics now. Loop thread. */
void server_stats_get(server_t *sv, server_stats_t *st);
/* Protocol and HTTP connections open now. */
size_t server_conns(const server_t *sv);
void server_conn_closed(server_t *sv, conn_t *c);
/* A connection (of either kind) has closed: a stopping server with none
 * left closes its last handle. */
void server_gone(server_t *sv);
/* o has output: it is flushed at the end of the pump. */
void server_dirty(server_t *sv, server_out_t *o);

/* conn.c */
/* Sets up sv->streams and sv->scfg from sv->opt (server_init). */
void conn_setup(server_t *sv);
/* Accepts a connection from sv->listener. Returns 0 or a UV_E* code. */
int conn_accept(server_t *sv);
/* Queues m for c; too much unread output marks c to be disconnected. */
void conn_send(conn_t *c, const Mlfq__ServerMessage *m);
/* Closes c: its requests leave the server. Idempotent. */
void conn_close(conn_t *c);
/* Closes every protocol connection: now, or (now 0) each once its output
 * is written, reading nothing more meanwhile. */
void conn_close_all(server_t *sv, int now);

/* http.c: the HTTP front door (docs/HTTP.md); its state is its own
 * (http.h), the server holds only sv->http. Every function takes a NULL
 * door (no --http-listen) as one with nothing in it. */
/* Makes sv->http and listens on host:port, writing the bound address to
 * bound. Returns 0 or a negative code with err set (sv->http may be set
 * then: server_close and server_free still apply). */
int http_listen(server_t *sv, const char *host, int port, char *bound,
                size_t boundlen, char *err, size_t errlen);
/* Whether d accepts connections. */
int http_listening(const http_door_t *d);
/* HTTP connections open now. */
size_t http_conns(const http_door_t *d);
/* Stops accepting HTTP connections. */
void http_stop_listening(http_door_t *d);
/* Closes every HTTP connection: now, or (now 0) each once its output is
 * written (the server stops). */
void http_close_all(http_door_t *d, int now);
/* Frees d, after the loop has ended. */
void http_free(http_door_t *d);

/* metrics.c: GET /metrics */
/* Sets m up for a server with scheduler parameters p and limits lim (the
 * bounds of the length and iteration histograms). */
void metrics_init(server_metrics_t *m, const mlfq_sched_params_t *p,
                  const mlfq_limits_t *lim);
/* Engine iteration of tokens (prompt tokens of the jobs it prefills, one
 * for each job) begins. */
void metrics_iteration(server_metrics_t *m, uint64_t tokens);
/* r's first iteration begins at model time t. */
void metrics_started(server_metrics_t *m, request_t *r, uint64_t t);
/* Token r->job.tokens of r completed at t; after the last, r's
 * request-level figures. Per token: a bucket search or two. */
void metrics_token(server_metrics_t *m, request_t *r, uint64_t t);
/* Appends the server's metrics in Prometheus' text format to b. Returns 0,
 * MLFQ_ENOMEM, or MLFQ_ERANGE (b is full: lines have no limit of their
 * own). */
int metrics_write(server_t *sv, mlfq_buf_t *b);

#endif
