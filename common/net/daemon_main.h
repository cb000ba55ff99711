/* The whole life of a long-running server (mlfqd, mlfq-router), written
 * once: its options, --help and --version, the checks, the process side
 * (daemon.h), the loop, SIGINT and SIGTERM (signals.h), the drain, the
 * exit and its status. A server's main fills an mlfq_daemon_prog_t with
 * its name, its option tables and an ops table, and returns
 * mlfq_daemon_main().
 *
 * The order: parse (2 on bad options, 0 after --help or --version);
 * ops.check; the shared checks (mlfq_daemon_opts_check); ops.configure;
 * mlfq_daemon_begin; the loop; ops.start (listen); mlfq_daemon_publish;
 * the signals; mlfq_daemon_ready and ops.started; the loop runs until the
 * server stops (the first signal calls ops.drain, the server calls
 * mlfq_daemon_main_stopped when it begins to stop); ops.free;
 * mlfq_daemon_end. If ops.start or what follows it fails: ops.close, the
 * loop runs out, ops.free, mlfq_daemon_fail (status 1). ops.release runs
 * at every exit after the parse. Everything runs on the main thread, which
 * is the loop's.
 */
#ifndef MLFQ_DAEMON_MAIN_H
#define MLFQ_DAEMON_MAIN_H

#include <stddef.h>
#include <uv.h>

#include "base/cli.h"
#include "base/log.h"
#include "net/daemon.h"
#include "net/signals.h"

typedef struct mlfq_daemon_prog_s mlfq_daemon_prog_t;

/* What the program does at each step; p is the mlfq_daemon_prog_t it
 * passed (the program finds its own state around it, or in its globals),
 * server its p->server. The int-returning ones return 0, or a negative
 * code with err set. */
typedef struct {
  /* The program's own options, before the shared ones are checked. */
  int (*check)(mlfq_daemon_prog_t *p, char *err, size_t errlen);
  /* After the shared ones are checked: builds the server's configuration.
   * A failure is a bad option (status 2). */
  int (*configure)(mlfq_daemon_prog_t *p, char *err, size_t errlen);
  /* Initialises the server on p->loop and listens on p->host:p->port,
   * writing the bound address to p->bound. On failure ops.close and
   * ops.free follow. */
  int (*start)(mlfq_daemon_prog_t *p, char *err, size_t errlen);
  /* Start-up is over: logs what the server is (may be NULL). */
  void (*started)(mlfq_daemon_prog_t *p);
  /* The first SIGINT or SIGTERM: begin to drain. */
  void (*drain)(void *server);
  /* Closes a server that failed to start. */
  void (*close)(void *server);
  /* Frees what ops.start made, after the loop has ended. */
  void (*free)(void *server);
  /* Frees what ops.configure made (may be NULL). */
  void (*release)(mlfq_daemon_prog_t *p);
} mlfq_daemon_ops_t;

struct mlfq_daemon_prog_s {
  /* Set by the program. */
  const char *name;  /* "mlfqd": messages, the log, --version */
  const char *usage; /* the start of --help */
  const mlfq_daemon_ops_t *ops;
  void *server;         /* what ops.drain, ops.close and ops.free take */
  mlfq_cli_group_t own; /* the program's first option group */
  /* The "Server" group: --listen and --port-file, the program's options
   * own_server[0..nown_server) (at most MLFQ_DAEMON_CLI_OWN), then every
   * server's, into the struct server_base, which holds the
   * mlfq_daemon_opts_t at offset opts_off. */
  const mlfq_cli_opt_t *own_server;
  size_t nown_server;
  void *server_base;
  size_t opts_off;
  const char *listen;     /* the default --listen */
  const char *listen_for; /* in its help: "" or " for clients" */

  /* Set by mlfq_daemon_main, for the ops to read. */
  mlfq_daemon_opts_t *opts; /* the shared options, checked */
  uv_loop_t loop;
  char host[256]; /* --listen */
  int port;
  char bound[300]; /* set by ops.start */

  /* Private. */
  mlfq_daemon_t _proc;
  mlfq_signals_t _signals;
  mlfq_log_level_t _level;
  char _listen_help[160];
};

/* Runs the server p describes with the command line argv[0..argc) from
 * start to exit (above). Returns the exit status: 0 after a clean stop (or
 * --help, --version), 1 on a runtime failure, 2 for bad options; the
 * second signal exits at once with 1. Call it once, from main. */
int mlfq_daemon_main(mlfq_daemon_prog_t *p, int argc, char **argv);

/* The server has begun to stop (its drain is over, or it failed): stops
 * watching the signals, so that the loop ends once the server has closed.
 * Call it from the server's stop hook, on the loop thread. */
void mlfq_daemon_main_stopped(mlfq_daemon_prog_t *p);

#endif
