/* DESIGN: the life of a server process, once for mlfqd and mlfq-router.
 * The steps and their order are in daemon_main.h; what is the program's
 * own (its options' meaning, its server) comes through mlfq_daemon_ops_t.
 * The state lives in the program's mlfq_daemon_prog_t, which outlives the
 * loop (a static of the program), so that the signal handler and the stop
 * hook reach it. Loop thread only. */
#include "net/daemon_main.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void on_signal(int signum, void *arg) {
  mlfq_daemon_prog_t *p = arg;

  if (mlfq_daemon_signal(&p->_proc, signum))
    p->ops->drain(p->server);
}

void mlfq_daemon_main_stopped(mlfq_daemon_prog_t *p) {
  mlfq_signals_close(&p->_signals);
}

/* Parses and checks the options. Returns -1 to run the server, else the
 * exit status (0 after --help or --version, 2 with err set). */
static int parse(mlfq_daemon_prog_t *p, int argc, char **argv, char *err,
                 size_t errlen) {
  mlfq_cli_opt_t server_options[MLFQ_DAEMON_CLI_MAX];
  mlfq_cli_group_t groups[2];
  int rc;

  p->opts = (mlfq_daemon_opts_t *)((char *)p->server_base + p->opts_off);
  mlfq_daemon_opts_init(p->opts, p->listen);
  groups[0] = p->own;
  snprintf(p->_listen_help, sizeof(p->_listen_help),
           "address to listen on%s; port 0 takes a free port (default %s)",
           p->listen_for, p->listen);
  mlfq_daemon_cli_table(server_options, p->_listen_help, p->own_server,
                        p->nown_server, p->opts_off);
  groups[1] = (mlfq_cli_group_t){"Server", server_options, p->server_base};
  rc = mlfq_cli_parse(argc, argv, groups, 2, NULL, 0, NULL, err, errlen);
  if (mlfq_daemon_cli_info(rc, p->name, p->usage, groups, 2))
    return 0;
  if (rc < 0 || p->ops->check(p, err, errlen) != 0)
    return 2;
  p->_level = MLFQ_LOG_INFO;
  if (mlfq_daemon_opts_check(p->opts, &p->_level, p->host, sizeof(p->host),
                             &p->port, err, errlen) != 0)
    return 2;
  if (p->ops->configure(p, err, errlen) != 0)
    return 2;
  return -1;
}

/* Starts the loop, the server, the files and the signals. Returns 0, or a
 * negative code with err set, the server closed and the loop ended. */
static int start(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  int rc;

  rc = uv_loop_init(&p->loop);
  if (rc) {
    snprintf(err, errlen, "event loop: %s", uv_strerror(rc));
    return rc;
  }
  rc = p->ops->start(p, err, errlen);
  if (rc == 0)
    rc = mlfq_daemon_publish(&p->_proc, p->bound, p->opts->port_file, err,
                             errlen);
  if (rc == 0) {
    rc = mlfq_signals_start(&p->_signals, &p->loop, on_signal, p);
    if (rc)
      snprintf(err, errlen, "signals: %s", uv_strerror(rc));
  }
  if (rc != 0) {
    p->ops->close(p->server);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    p->ops->free(p->server);
  }
  return rc;
}

/* Runs the loop until the server has stopped and closed. Returns the exit
 * status. */
static int run(mlfq_daemon_prog_t *p) {
  int rc, status = 0;

  uv_run(&p->loop, UV_RUN_DEFAULT);
  uv_run(&p->loop, UV_RUN_DEFAULT); /* the close callbacks */
  rc = uv_loop_close(&p->loop);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "loop did not close cleanly: %s", uv_strerror(rc));
    status = 1;
  }
  p->ops->free(p->server);
  return status;
}

static void release(mlfq_daemon_prog_t *p) {
  if (p->ops->release != NULL)
    p->ops->release(p);
}

int mlfq_daemon_main(mlfq_daemon_prog_t *p, int argc, char **argv) {
  char err[512];
  int status;

  signal(SIGPIPE, SIG_IGN);
  memset(&p->_signals, 0, sizeof(p->_signals));
  status = parse(p, argc, argv, err, sizeof(err));
  if (status == 2)
    fprintf(stderr, "%s: %s\n", p->name, err);
  if (status >= 0) {
    release(p);
    return status;
  }
  status = mlfq_daemon_begin(&p->_proc, p->name, p->opts->pidfile,
                             p->opts->log_file, p->_level, p->opts->daemon);
  if (status) {
    release(p);
    return status;
  }
  if (start(p, err, sizeof(err)) != 0) {
    /* a runtime failure: said once, to the log file or the caller */
    release(p);
    return mlfq_daemon_fail(&p->_proc, err);
  }
  mlfq_daemon_ready(&p->_proc, p->bound);
  if (p->ops->started != NULL)
    p->ops->started(p);
  status = run(p);
  release(p);
  return mlfq_daemon_end(&p->_proc, status);
}
