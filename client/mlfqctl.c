/* mlfqctl: asks a running mlfqd, or an mlfq-router, whether it is there
 * (ping) and for its configuration and live statistics (stats), as a
 * table or as JSON; a router's statistics add one row per replica. It is
 * the probe that scripts and health checks use: exit 0 when the server
 * answered, 1 when it could not be reached, closed, refused, is not mlfqd
 * protocol or did not answer within --timeout, 2 for bad usage.
 *
 * Here: the options and the commands; the exchange is ctl_conn.c, the
 * output ctl_show.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/cli.h"
#include "base/units.h"
#include "base/version.h"
#include "ctl.h"

typedef struct {
  const char *server;
  unsigned timeout_ms;
  int json;
} ctl_opts_t;

#define O(field) offsetof(ctl_opts_t, field)

static const mlfq_cli_opt_t ctl_options[] = {
    {"server", "HOST:PORT", "the server to ask (default 127.0.0.1:7070)",
     mlfq_cli_set_str, O(server), 0, 0, 0},
    {"timeout", "MS",
     "give up unless the whole exchange, connecting included, ends within "
     "MS milliseconds (default 2000)",
     mlfq_cli_set_uint, O(timeout_ms), 0, 1, 3600000},
    {"json", NULL, "print one JSON document instead of text", mlfq_cli_set_flag,
     O(json), 0, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static const char usage[] =
    "Usage: mlfqctl [OPTIONS] COMMAND\n"
    "\n"
    "Asks a running mlfqd, or an mlfq-router, how it is. Times are model\n"
    "milliseconds unless the unit says otherwise.\n"
    "\n"
    "Commands:\n"
    "  ping                        connect, say Hello and print the server's\n"
    "                              version and policy and the round trip\n"
    "  stats                       print the server's configuration and live\n"
    "                              statistics (a router's: summed over its\n"
    "                              replicas, and each replica's own)\n";

static const char footer[] =
    "\nExamples:\n"
    "  mlfqctl ping\n"
    "  mlfqctl --server mlfqd-mlfq:7070 stats --json\n"
    "\nExit status: 0 when the server answered; 1 when it cannot be reached,\n"
    "closes the connection, sends an error, is not mlfqd protocol or does\n"
    "not answer within --timeout (one line on stderr names the address and\n"
    "the reason); 2 for bad usage. With --json, stdout holds a JSON document\n"
    "exactly when the status is 0.\n";

/* ---- commands ----------------------------------------------------------- */

static int cmd_ping(ctl_t *c, int json) {
  Mlfq__ServerMessage *w = NULL;
  double rtt = 0;
  int rc;

  rc = ctl_hello(c, &w, &rtt);
  if (rc)
    return 1;
  rc = ctl_show_ping(c->addr, w->welcome, rtt, json);
  mlfq__server_message__free_unpacked(w, NULL);
  return rc;
}

static int cmd_stats(ctl_t *c, int json) {
  Mlfq__ServerMessage *w = NULL, *r = NULL;
  const Mlfq__StatsReply *s;
  double rtt;
  int rc;

  rc = ctl_hello(c, &w, &rtt);
  if (rc)
    return 1;
  rc = ctl_stats_request(c, &r);
  if (rc) {
    mlfq__server_message__free_unpacked(w, NULL);
    return 1;
  }
  s = r->stats;
  /* The reply's configuration is the current one; Welcome's otherwise. */
  rc = ctl_show_stats(c->addr, w->welcome,
                      s->config != NULL ? s->config : w->welcome->config, s,
                      json);
  mlfq__server_message__free_unpacked(r, NULL);
  mlfq__server_message__free_unpacked(w, NULL);
  return rc;
}

int main(int argc, char **argv) {
  mlfq_cli_group_t groups[1];
  ctl_opts_t o;
  ctl_t c;
  char err[512], *pos[1];
  const char *cmd;
  size_t npos = 0;
  char version[64];
  int rc, status;

  signal(SIGPIPE, SIG_IGN);
  memset(&o, 0, sizeof(o));
  o.server = "127.0.0.1:7070";
  o.timeout_ms = 2000;
  groups[0] = (mlfq_cli_group_t){"Options", ctl_options, &o};

  snprintf(version, sizeof(version), "mlfqctl %s (protocol %d)", MLFQ_VERSION,
           MLFQ_PROTOCOL_VERSION);
  rc = mlfq_cli_parse(argc, argv, groups, 1, pos, 1, &npos, err, sizeof(err));
  if (mlfq_cli_info(rc, usage, groups, 1, footer, version))
    return 0;
  if (rc < 0)
    goto bad;
  if (npos == 0) {
    snprintf(err, sizeof(err), "missing command: ping or stats (see --help)");
    goto bad;
  }
  cmd = pos[0];
  if (strcmp(cmd, "ping") != 0 && strcmp(cmd, "stats") != 0) {
    snprintf(err, sizeof(err), "unknown command '%s' (ping or stats)", cmd);
    goto bad;
  }
  memset(&c, 0, sizeof(c));
  c.addr = o.server;
  c.timeout_ms = o.timeout_ms;
  if (mlfq_peer_parse_addr(o.server, c.host, sizeof(c.host), &c.port) != 0 ||
      c.port == 0) {
    snprintf(err, sizeof(err), "--server: '%s' is not HOST:PORT", o.server);
    goto bad;
  }

  c.deadline = ctl_mono_ns() + (uint64_t)o.timeout_ms * MLFQ_NS_PER_MS;
  status = ctl_connect(&c) != 0;
  if (status == 0 && strcmp(cmd, "ping") == 0)
    status = cmd_ping(&c, o.json);
  else if (status == 0)
    status = cmd_stats(&c, o.json);
  if (c.connected)
    mlfq_peer_close(&c.peer);
  if (status != 0 && c.why[0] != '\0')
    fprintf(stderr, "mlfqctl: %s\n", c.why);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "mlfqctl: error writing the output: %s\n", strerror(errno));
    status = 1;
  }
  return status;

bad:
  fprintf(stderr, "mlfqctl: %s\n", err);
  return 2;
}
