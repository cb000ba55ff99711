/* mlfq-router's state shared by its parts: the router (listener, requests
 * and their routes, drain), the client connections, the replica
 * connections (on common/net/stream.h and session.h), and the aggregation
 * of statistics. Everything lives on the loop thread; there are no others.
 * docs/ROUTER.md describes what it does.
 */
#ifndef MLFQ_ROUTER_H
#define MLFQ_ROUTER_H

#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "base/idmap.h"
#include "base/list.h"
#include "core/balance.h"
#include "net/daemon.h"
#include "net/deadline.h"
#include "net/session.h"
#include "net/stream.h"
#include "net/trim.h"
#include "wire/mlfq.pb-c.h"

typedef struct router_s router_t;
typedef struct client_s client_t;
typedef struct replica_s replica_t;
typedef struct route_s route_t;

/* --stats-timeout's default. A router answers a StatsRequest (an outer
 * router's probe too) within two of them (stats.c). */
#define ROUTER_STATS_TIMEOUT_MS 1000

/* Options of a router. */
typedef struct {
  mlfq_balance_policy_t policy;
  uint64_t seed;
  unsigned stats_timeout_ms;   /* how long a StatsRequest waits for replicas */
  unsigned probe_interval_ms;  /* from a probe's answer to the next probe */
  unsigned probe_timeout_ms;   /* a replica that does not answer is lost */
  size_t replica_queued_bytes; /* bound of each replica's unwritten output */
  /* The server's limits: max_pending counts requests in flight through
   * the router; max_queued_bytes bounds each client's unread output. */
  mlfq_daemon_opts_t srv;
} router_opts_t;

/* ---- router.c: listener, routes, forwarding, drain ---------------------- */

/* A request routed to a replica, known by its upstream id (the router's,
 * unique for the router's life) and by its client's id on its client. */
struct route_s {
  uint64_t up_id;
  uint64_t client_id;
  client_t *client;
  replica_t *replica;
  mlfq_balance_load_t load;
  mlfq_link_t clink; /* in client->routes */
  mlfq_link_t rlink; /* in replica->routes */
};

struct router_s {
  uv_loop_t *loop;
  router_opts_t opt;
  uv_tcp_t listener;
  mlfq_deadlines_t hellos; /* clients that have not sent Hello */
  uv_timer_t drain_timer;
  uv_timer_t stats_timer;
  mlfq_trim_t trim; /* gives freed heap back once idle (trim.h) */
  int listening;
  int accept_held; /* a connection waits for the first replica's Welcome */
  int timers;      /* the timers are initialised */
  mlfq_balance_t bal;
  replica_t *replicas;
  size_t nreplicas;
  mlfq_idmap_t routes; /* upstream id -> route_t */
  uint64_t next_up_id;
  mlfq_link_t clients;
  size_t nclients;
  uint64_t conn_seq;
  mlfq_stream_group_t streams;     /* every stream: flushed at settle */
  mlfq_session_cfg_t scfg;         /* the client sessions' (client.c) */
  struct stats_job_s *stats_round; /* the Stats round in flight, or NULL */
  int stats_bare; /* the last reply went without the replicas' configs */
  mlfq_link_t stats_clients; /* clients owed a StatsReply */
  uint64_t t0;               /* uv_hrtime() at start */
  uint64_t rejected;         /* OVERLOADED and NO_REPLICA */
  int draining;
  int stopping;
  void (*on_stop)(router_t *rt); /* called once the router begins to stop */
};

/* Sets the router up and starts connecting to the replicas (addresses
 * "HOST:PORT"). Returns 0 or a negative code with err set; after a
 * failure call router_close, run the loop, then router_free. */
int router_init(router_t *rt, uv_loop_t *loop, const router_opts_t *o,
                const char *const *addrs, size_t naddrs, char *err,
                size_t errlen);
/* Listens on host:port (port 0: any free port) and writes the bound
 * address to bound. Returns 0 or a negative code with err set. */
int router_listen(router_t *rt, const char *host, int port, char *bound,
                  size_t boundlen, char *err, size_t errlen);
/* Stops accepting, lets the requests in flight finish (at most
 * drain_timeout_s), then stops: the loop ends. */
void router_drain(router_t *rt);
/* Closes every handle at once, for a router that failed to start. */
void router_close(router_t *rt);
/* Frees what router_init made, after the loop has ended. */
void router_free(router_t *rt);
/* Writes every stream's pending output and, when draining with nothing
 * in flight, begins the stop. Call at the end of every callback that is
 * not a stream's (those settle rt->streams themselves). */
void router_settle(router_t *rt);
/* The configuration clients are told (Welcome and Stats): the first up
 * replica's, else that of the first one that has said Welcome, with the
 * router's own limits; the fields point into the replica's Welcome and into *c.
 * NULL while no replica has ever said Welcome. */
const Mlfq__Config *router_config(router_t *rt, Mlfq__Config *c);
/* Sends request q (Submit s from its client) to its replica and adds it
 * to the replica's load. Returns 0, MLFQ_EFRAMESIZE when the Submit is
 * larger than the replica's max_frame_bytes, or MLFQ_ERANGE / MLFQ_ENOMEM
 * when the replica's output is full. */
int router_dispatch(router_t *rt, route_t *q, const Mlfq__Submit *s);
/* A message about route q from its replica: forwarded to the client with
 * the client's id; Done and Error end q. */
void router_forward(router_t *rt, route_t *q, Mlfq__ServerMessage *m);
/* Ends q (its client has been told, or is gone): its load leaves the
 * replica, its ids are forgotten, it is freed. */
void router_end(router_t *rt, route_t *q);
/* c's handle has closed: it leaves rt->clients. */
void router_client_closed(router_t *rt, client_t *c);
/* A replica said Welcome: accepts a connection held for it. */
void router_replica_ready(router_t *rt);

/* ---- client.c: one client connection ------------------------------------ */

struct client_s {
  mlfq_session_t s; /* its ids map client ids to route_t */
  router_t *rt;
  mlfq_link_t link; /* in rt->clients */
  mlfq_link_t routes;
  unsigned stats_now;     /* StatsReplies owed by the round in flight */
  unsigned stats_next;    /* and by the next round */
  mlfq_link_t stats_link; /* in rt->stats_clients while either is > 0 */
};

/* Sets up rt->scfg from rt->opt (router_init). */
void client_setup(router_t *rt);
/* Accepts a connection from rt->listener. Returns 0 or a UV_E* code. */
int client_accept(router_t *rt);
/* Queues m for c; too much unread output marks c to be disconnected. */
void client_send(client_t *c, const Mlfq__ServerMessage *m);
/* Closes c: its requests are cancelled upstream and ended. Idempotent. */
void client_close(client_t *c);
/* Stops reading from c and closes it once its output is written. */
void client_linger(client_t *c);

/* ---- replica.c: one upstream connection per replica ---------------------- */

enum {
  REPLICA_IDLE = 0,   /* no connection; the timer brings the next try */
  REPLICA_RESOLVING,  /* looking the host up */
  REPLICA_CONNECTING, /* TCP connect in progress */
  REPLICA_HELLO,      /* Hello sent, waiting for Welcome */
  REPLICA_UP,         /* Welcome received: it takes requests */
  REPLICA_CLOSING,    /* its handle is closing */
  REPLICA_STOPPED     /* the router is stopping: no more tries */
};

struct replica_s {
  mlfq_stream_t s; /* the connection of the moment */
  router_t *rt;
  size_t index;
  char addr[128]; /* as given, "HOST:PORT" */
  char host[100];
  int port;
  int state;
  int draining;   /* said SHUTTING_DOWN: no new work until it reconnects */
  int complained; /* a failed try was logged at info since the last up */
  int timer_open;
  uv_timer_t timer; /* the next try, the Welcome deadline, and when UP
                       the next probe or the probe's deadline */
  uv_connect_t connect;
  uv_getaddrinfo_t resolve;
  uint64_t backoff_ms;
  Mlfq__ServerMessage *welcome; /* the last Welcome, kept while down */
  mlfq_link_t routes;
  mlfq_link_t stats;    /* stats slots waiting for its reply, oldest first */
  unsigned stats_owed;  /* replies owed to requests that gave up waiting */
  uint64_t stats_asked; /* StatsRequests sent on this connection */
  uint64_t stats_heard; /* StatsReplies read on it */
  uint64_t probe_seq;   /* the probe in flight (its stats_asked), 0: none */
  uint64_t heard_ms;    /* loop time of its last frame, or of the probe */
  int probe_overdue;    /* its deadline passed: one more read, then lost */
  uint64_t routed;      /* requests sent to it */
  uint64_t lost;        /* requests ended by REPLICA_LOST */
};

/* Sets r up for the replica at addr and starts connecting. Returns 0 or
 * a negative code with err set. */
int replica_init(replica_t *r, router_t *rt, size_t index, const char *addr,
                 char *err, size_t errlen);
/* Sends Cancel for upstream id. A Cancel passes the output bound: there
 * is at most one per request sent to r, so the requests in flight bound
 * them. Only a broken connection (the request is lost with it) or no
 * memory drops it. */
void replica_cancel(replica_t *r, uint64_t up_id);
/* Sends r a StatsRequest for a Stats round, within r's output bound.
 * Returns 0, or MLFQ_ERANGE / MLFQ_ENOMEM (nothing is sent). */
int replica_ask_stats(replica_t *r);
/* Closes r's connection and timer for good (the router is stopping). */
void replica_stop(replica_t *r);
/* Frees what r holds, after the loop has ended. */
void replica_free(replica_t *r);

/* ---- stats.c: StatsRequest over every replica -----------------------------
 */

/* c asked for statistics: c joins the next round, which asks every up
 * replica and answers c when all have replied, or at the stats timeout
 * with what came. */
void stats_request(router_t *rt, client_t *c);
/* r sent a StatsReply (its answer to the oldest StatsRequest it has).
 * Returns 1 if it kept m. */
int stats_reply(replica_t *r, Mlfq__ServerMessage *m);
/* r's connection is gone: its pending replies will not come. */
void stats_replica_lost(replica_t *r);
/* c is closing: the replies it is owed go to nobody. */
void stats_client_gone(router_t *rt, client_t *c);
/* Answers every client owed a reply with what came (the router stops). */
void stats_flush_all(router_t *rt);

#endif
