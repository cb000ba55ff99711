/* mlfqctl's pieces: the exchange with the server (ctl_conn.c) and what
 * it prints (ctl_show.c). One blocking connection (common/net/peer.h) and
 * one deadline: --timeout bounds the whole exchange, connecting included,
 * not each wait. */
#ifndef MLFQ_CTL_H
#define MLFQ_CTL_H

#include <stdint.h>

#include "net/peer.h"
#include "wire/wire.h"

typedef struct {
  const char *addr; /* as given, for messages */
  char host[256];
  int port;
  unsigned timeout_ms;
  uint64_t deadline; /* monotonic ns */
  mlfq_peer_t peer;
  int connected;
  char why[1024]; /* the reason of the last failure, a whole message */
} ctl_t;

static inline const char *ctl_str(const char *s) { return s != NULL ? s : ""; }

/* Monotonic nanoseconds. */
uint64_t ctl_mono_ns(void);

/* Connects to c->host:c->port before c->deadline. Returns 0 (c->connected
 * set), or a negated errno with c->why set. */
int ctl_connect(ctl_t *c);

/* Hello and Welcome. Returns 0 with *welcome set (free it with
 * mlfq__server_message__free_unpacked) and *rtt_ms the round trip, or a
 * negative code with c->why set. */
int ctl_hello(ctl_t *c, Mlfq__ServerMessage **welcome, double *rtt_ms);

/* StatsRequest and StatsReply. Returns 0 with *reply set (its stats
 * checked), or a negative code with c->why set. */
int ctl_stats_request(ctl_t *c, Mlfq__ServerMessage **reply);

/* Prints the answer to ping from server addr (Welcome w, round trip rtt
 * ms), as one JSON line or as text. Returns the exit status: 0, or 1 when
 * the JSON could not be built. */
int ctl_show_ping(const char *addr, const Mlfq__Welcome *w, double rtt,
                  int json);

/* Prints the answer to stats: the server, its configuration cf, its
 * statistics s and its replicas', as a JSON document or as a table.
 * Returns the exit status, as ctl_show_ping. */
int ctl_show_stats(const char *addr, const Mlfq__Welcome *w,
                   const Mlfq__Config *cf, const Mlfq__StatsReply *s, int json);

#endif
