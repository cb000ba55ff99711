/* The daemon's state shared by its parts: the server (listener, signals,
 * the scheduling pump, drain) and its connections. Everything here lives
 * on the loop thread; only workers.c runs elsewhere.
 */
#ifndef MLFQ_SERVER_H
#define MLFQ_SERVER_H

#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "hist.h"
#include "idmap.h"
#include "job.h"
#include "list.h"
#include "sched.h"
#include "trim.h"
#include "wire.h"
#include "workers.h"

typedef struct server_s server_t;
typedef struct conn_s conn_t;

/* Options of a server. */
typedef struct {
  mlfq_sched_config_t sched;
  mlfq_cost_t cost;
  mlfq_limits_t lim;
  unsigned max_connections;
  size_t max_queued_bytes; /* unread output that disconnects a client */
  double drain_timeout_s;
} server_opts_t;

/* One client request, owned by its connection. */
typedef struct {
  mlfq_job_t job; /* the scheduler's view; its id is the server's */
  conn_t *conn;
  uint64_t client_id;
  mlfq_link_t clink; /* in conn->reqs */
  mlfq_link_t plink; /* in server->pending until it enters the scheduler */
  int in_sched;
} request_t;

#define MLFQ_NONE UINT64_MAX

struct server_s {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_timer_t drain_timer;
  mlfq_trim_t trim; /* gives freed heap back once idle (trim.h) */
  int listening;
  int timer_ready;
  server_opts_t opt;
  mlfq_sched_t *sched;
  mlfq_workers_t *workers;
  mlfq_wire_config_t wcfg;
  char server_id[64];
  uint64_t t0; /* uv_hrtime() at model time 0 */
  /* engines: model end of the iteration running (MLFQ_NONE when idle),
   * whether its thread has reported, total modeled busy time */
  uint64_t *end;
  uint8_t *woke;
  uint64_t *busy_ns;
  mlfq_job_t **out; /* max_batch, for mlfq_sched_complete */
  uint64_t point;   /* model time of the last scheduling point */
  uint64_t last_arrival;
  uint64_t next_job_id;
  mlfq_link_t pending; /* arrived, not yet in the scheduler, by time */
  size_t inflight;     /* accepted requests not yet ended */
  mlfq_link_t conns;
  size_t nconns;
  uint64_t conn_seq;
  mlfq_link_t dirty; /* connections with output to flush */
  mlfq_hist_t lateness;
  uint64_t rejected;
  uint64_t submitted;       /* requests accepted */
  uint64_t cancelled_early; /* cancelled before they entered the scheduler */
  int draining;
  int stopping;
  void (*on_stop)(server_t *sv); /* called once the server begins to stop */
};

struct conn_s {
  uv_tcp_t tcp;
  server_t *sv;
  mlfq_link_t link;  /* in sv->conns */
  mlfq_link_t dlink; /* in sv->dirty while it has output */
  mlfq_buf_t in;
  mlfq_buf_t out;
  size_t queued;    /* bytes given to uv_write and not yet written */
  mlfq_idmap_t ids; /* client id -> request_t */
  mlfq_link_t reqs;
  uint64_t id;
  int hello;
  int closing;
  int paused;
  int close_when_flushed;
  char peer[64];
};

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
uint64_t server_model_now(server_t *sv);
/* A new request r arrives at model time now (one read's requests share
 * one time); the server takes it from here. */
void server_arrive(server_t *sv, request_t *r, uint64_t now);
/* Takes r out of the scheduler or the arrivals (it has not ended). */
void server_forget(server_t *sv, request_t *r);
/* Runs every scheduling point that is due and flushes the output. */
void server_pump(server_t *sv);
void server_stats(server_t *sv, conn_t *c);
void server_conn_closed(server_t *sv, conn_t *c);

/* conn.c */
int conn_accept(server_t *sv);
void conn_send(conn_t *c, const Mlfq__ServerMessage *m);
void conn_error(conn_t *c, uint64_t id, Mlfq__ErrorCode code, const char *fmt,
                ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void conn_accepted(request_t *r);
void conn_token(request_t *r, uint64_t t);
/* r has ended (Done sent, or an Error): frees it. */
void conn_request_end(request_t *r);
void conn_flush(conn_t *c);
void conn_close(conn_t *c);

#endif
