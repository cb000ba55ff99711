/* mlfq-router: a load balancer in front of mlfqd replicas. Its options,
 * what they build, and the ops by which the servers' one life cycle
 * (common/net/daemon_main.h: daemon mode, pidfile, logging, signals, the
 * drain, the exit) runs it; the router itself is router.c, client.c,
 * replica.c and stats.c over common/net's stream and session
 * (docs/ROUTER.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/log.h"
#include "net/daemon.h"
#include "net/daemon_main.h"
#include "net/peer.h"
#include "router.h"

typedef struct {
  mlfq_cli_list_t replicas;
  const char *policy;
  uint64_t seed;
  unsigned stats_timeout_ms;
  unsigned probe_interval_ms;
  unsigned probe_timeout_ms;
  size_t replica_queued_bytes;
} route_opts_t;

#define R(field) offsetof(route_opts_t, field)

static const mlfq_cli_opt_t route_options[] = {
    {"replica", "HOST:PORT",
     "an mlfqd to send requests to; repeat for each replica (at most 16, "
     "numbered 1.. in this order)",
     mlfq_cli_set_list, R(replicas), 0, 0, 0},
    {"policy", "NAME",
     "round-robin, random, least-requests, least-tokens or power-of-two "
     "(default least-tokens)",
     mlfq_cli_set_str, R(policy), 0, 0, 0},
    {"seed", "N", "seed of the random and power-of-two policies (default 1)",
     mlfq_cli_set_u64, R(seed), 0, 0, 1.8e19},
    {"stats-timeout", "MS",
     "how long a StatsRequest waits for the replicas' replies (default 1000)",
     mlfq_cli_set_uint, R(stats_timeout_ms), 0, 1, 600000},
    {"probe-interval", "MS",
     "time from a replica's answer to a health probe to the next probe "
     "(default 500)",
     mlfq_cli_set_uint, R(probe_interval_ms), 0, 1, 600000},
    {"probe-timeout", "MS",
     "a replica that does not answer a health probe that long is lost: its "
     "requests end with REPLICA_LOST and it is reconnected (default 1500; "
     "over a replica that is a router, more than twice its --stats-timeout)",
     mlfq_cli_set_uint, R(probe_timeout_ms), 0, 1, 600000},
    {"replica-queued-bytes", "N",
     "requests waiting to be written to one replica; a Submit that does not "
     "fit is refused with OVERLOADED (default 67108864)",
     mlfq_cli_set_size, R(replica_queued_bytes), 0, 4096, 1e12},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static const char usage[] =
    "Usage: mlfq-router --replica HOST:PORT [--replica HOST:PORT ...] "
    "[OPTIONS]\n"
    "\n"
    "Spreads clients' requests over several mlfqd replicas. It speaks the\n"
    "mlfqd protocol (docs/PROTOCOL.md) to clients and to each replica:\n"
    "Submit and Cancel go to the replica the policy picks, Accepted, Token,\n"
    "Done and Error come back with the client's own ids, and Done names the\n"
    "replica. A replica that goes away, or stops answering its health\n"
    "probes, ends its requests with REPLICA_LOST and is tried again with\n"
    "backoff; Stats sums every replica and shows each one. docs/ROUTER.md\n"
    "has the details.\n";

/* The router's state: its options, what they build, its router. */
static struct {
  mlfq_daemon_prog_t prog;
  route_opts_t ro;
  mlfq_daemon_opts_t srv; /* the "Server" group: every server's options */
  router_opts_t o;
  router_t rt;
} g;

static int check(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  const route_opts_t *ro = &g.ro;
  char host[256];
  int port;
  size_t i;

  (void)p;
  if (ro->replicas.n == 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--replica: at least one is needed");
  if (mlfq_balance_parse(ro->policy, &g.o.policy) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--policy: unknown '%s' (round-robin, random, "
                     "least-requests, least-tokens or power-of-two)",
                     ro->policy);
  for (i = 0; i < ro->replicas.n; i++)
    if (mlfq_peer_parse_addr(ro->replicas.v[i], host, sizeof(host), &port) !=
            0 ||
        port < 1)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "--replica: '%s' is not HOST:PORT", ro->replicas.v[i]);
  return 0;
}

static int configure(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  (void)p;
  (void)err;
  (void)errlen;
  g.o.seed = g.ro.seed;
  g.o.stats_timeout_ms = g.ro.stats_timeout_ms;
  g.o.probe_interval_ms = g.ro.probe_interval_ms;
  g.o.probe_timeout_ms = g.ro.probe_timeout_ms;
  g.o.replica_queued_bytes = g.ro.replica_queued_bytes;
  g.o.srv = g.srv;
  return 0;
}

static int start(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  int rc;

  rc = router_init(&g.rt, &p->loop, &g.o, g.ro.replicas.v, g.ro.replicas.n, err,
                   errlen);
  if (rc == 0)
    rc = router_listen(&g.rt, p->host, p->port, p->bound, sizeof(p->bound), err,
                       errlen);
  return rc;
}

static void on_stop(router_t *rt) {
  (void)rt;
  mlfq_daemon_main_stopped(&g.prog);
}

static void started(mlfq_daemon_prog_t *p) {
  g.rt.on_stop = on_stop;
  mlfq_log(MLFQ_LOG_INFO, "listening on %s: policy %s, %zu replicas", p->bound,
           mlfq_balance_name(g.o.policy), g.ro.replicas.n);
}

static void drain(void *rt) { router_drain(rt); }

static void close_router(void *rt) { router_close(rt); }

static void free_router(void *rt) { router_free(rt); }

/* In the order of mlfq_daemon_ops_t. */
static const mlfq_daemon_ops_t ops = {
    check, configure, start, started, drain, close_router, free_router, NULL,
};

int main(int argc, char **argv) {
  g.ro.policy = "least-tokens";
  g.ro.seed = 1;
  g.ro.stats_timeout_ms = ROUTER_STATS_TIMEOUT_MS;
  g.ro.probe_interval_ms = 500;
  g.ro.probe_timeout_ms = 1500;
  g.ro.replica_queued_bytes = 64 << 20;
  g.prog.name = "mlfq-router";
  g.prog.usage = usage;
  g.prog.ops = &ops;
  g.prog.server = &g.rt;
  g.prog.own = (mlfq_cli_group_t){"Routing", route_options, &g.ro};
  g.prog.server_base = &g.srv; /* no options of its own there */
  g.prog.listen = "127.0.0.1:7080";
  g.prog.listen_for = " for clients";
  return mlfq_daemon_main(&g.prog, argc, argv);
}
