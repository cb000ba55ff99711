/* mlfq-router: a load balancer in front of mlfqd replicas. Options, daemon
 * mode, pidfile, logging and signals; the router itself is router.c,
 * client.c, replica.c, stream.c and stats.c (docs/ROUTER.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/log.h"
#include "net/daemon.h"
#include "net/peer.h"
#include "net/signals.h"
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

typedef struct {
  mlfq_daemon_opts_t s;
} proc_opts_t;

#define R(field) offsetof(route_opts_t, field)
#define P(field) offsetof(proc_opts_t, field)

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

/* The router's own server options; the others are every server's
 * (daemon.h). */
static const mlfq_cli_opt_t proc_options[] = {
    {"listen", "HOST:PORT",
     "address to listen on for clients; port 0 takes a free port (default "
     "127.0.0.1:7080)",
     mlfq_cli_set_str, P(s.listen), 0, 0, 0},
    {"port-file", "FILE", "write the bound HOST:PORT to FILE", mlfq_cli_set_str,
     P(s.port_file), 0, 0, 0}};
_Static_assert(sizeof(proc_options) / sizeof(proc_options[0]) <=
                   MLFQ_DAEMON_CLI_OWN,
               "MLFQ_DAEMON_CLI_OWN is too small");

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

static struct {
  router_t rt;
  mlfq_signals_t signals;
  mlfq_daemon_t proc;
} g;

static void on_signal(int signum, void *arg) {
  (void)arg;
  if (mlfq_daemon_signal(&g.proc, signum))
    router_drain(&g.rt);
}

static void on_stop(router_t *rt) {
  (void)rt;
  mlfq_signals_close(&g.signals);
}

int main(int argc, char **argv) {
  route_opts_t ro;
  proc_opts_t po;
  mlfq_cli_opt_t server_options[MLFQ_DAEMON_CLI_MAX];
  mlfq_cli_group_t groups[2];
  router_opts_t o;
  mlfq_log_level_t level = MLFQ_LOG_INFO;
  char err[512], host[256], bound[300];
  uv_loop_t loop;
  int rc, port, status = 0;
  size_t i;

  signal(SIGPIPE, SIG_IGN);
  memset(&ro, 0, sizeof(ro));
  memset(&o, 0, sizeof(o));
  ro.policy = "least-tokens";
  ro.seed = 1;
  ro.stats_timeout_ms = ROUTER_STATS_TIMEOUT_MS;
  ro.probe_interval_ms = 500;
  ro.probe_timeout_ms = 1500;
  ro.replica_queued_bytes = 64 << 20;
  mlfq_daemon_opts_init(&po.s, "127.0.0.1:7080");
  groups[0] = (mlfq_cli_group_t){"Routing", route_options, &ro};
  mlfq_daemon_cli_table(server_options, proc_options,
                        sizeof(proc_options) / sizeof(proc_options[0]), P(s));
  groups[1] = (mlfq_cli_group_t){"Server", server_options, &po};

  rc = mlfq_cli_parse(argc, argv, groups, 2, NULL, 0, NULL, err, sizeof(err));
  if (mlfq_daemon_cli_info(rc, "mlfq-router", usage, groups, 2))
    return 0;
  if (rc < 0)
    goto bad;
  if (ro.replicas.n == 0) {
    snprintf(err, sizeof(err), "--replica: at least one is needed");
    goto bad;
  }
  if (mlfq_balance_parse(ro.policy, &o.policy) != 0) {
    snprintf(err, sizeof(err),
             "--policy: unknown '%s' (round-robin, random, least-requests, "
             "least-tokens or power-of-two)",
             ro.policy);
    goto bad;
  }
  for (i = 0; i < ro.replicas.n; i++) {
    if (mlfq_peer_parse_addr(ro.replicas.v[i], host, sizeof(host), &port) !=
            0 ||
        port < 1) {
      snprintf(err, sizeof(err), "--replica: '%s' is not HOST:PORT",
               ro.replicas.v[i]);
      goto bad;
    }
  }
  if (mlfq_daemon_opts_check(&po.s, &level, host, sizeof(host), &port, err,
                             sizeof(err)) != 0)
    goto bad;
  o.seed = ro.seed;
  o.stats_timeout_ms = ro.stats_timeout_ms;
  o.probe_interval_ms = ro.probe_interval_ms;
  o.probe_timeout_ms = ro.probe_timeout_ms;
  o.replica_queued_bytes = ro.replica_queued_bytes;
  o.srv = po.s;
  status = mlfq_daemon_begin(&g.proc, "mlfq-router", po.s.pidfile,
                             po.s.log_file, level, po.s.daemon);
  if (status)
    return status;

  rc = uv_loop_init(&loop);
  if (rc) {
    snprintf(err, sizeof(err), "event loop: %s", uv_strerror(rc));
    goto fail;
  }
  rc = router_init(&g.rt, &loop, &o, ro.replicas.v, ro.replicas.n, err,
                   sizeof(err));
  if (rc == 0)
    rc = router_listen(&g.rt, host, port, bound, sizeof(bound), err,
                       sizeof(err));
  if (rc == 0)
    rc = mlfq_daemon_publish(&g.proc, bound, po.s.port_file, err, sizeof(err));
  if (rc == 0) {
    rc = mlfq_signals_start(&g.signals, &loop, on_signal, NULL);
    if (rc)
      snprintf(err, sizeof(err), "signals: %s", uv_strerror(rc));
  }
  if (rc != 0) {
    router_close(&g.rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    router_free(&g.rt);
    return mlfq_daemon_fail(&g.proc, err);
  }
  g.rt.on_stop = on_stop;

  mlfq_daemon_ready(&g.proc, bound);
  mlfq_log(MLFQ_LOG_INFO, "listening on %s: policy %s, %zu replicas", bound,
           mlfq_balance_name(o.policy), ro.replicas.n);

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
  rc = uv_loop_close(&loop);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "loop did not close cleanly: %s", uv_strerror(rc));
    status = 1;
  }
  router_free(&g.rt);
  return mlfq_daemon_end(&g.proc, status);

fail: /* a runtime failure: said once, to the log file or the caller */
  return mlfq_daemon_fail(&g.proc, err);

bad:
  fprintf(stderr, "mlfq-router: %s\n", err);
  return 2;
}
