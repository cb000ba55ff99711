/* The process side of the long-running servers (mlfqd, mlfq-router): the
 * listen address, the pidfile, the log file, detaching with a readiness
 * pipe so that `PROG --daemon` returns once the server listens, the port
 * file, the first and second signal, and the exit.
 *
 * The servers' life cycle (mlfq_daemon_main, daemon_main.h) calls, in
 * order: mlfq_daemon_begin (after the options are parsed), then sets up
 * its loop and listens, mlfq_daemon_publish and mlfq_daemon_ready;
 * mlfq_daemon_signal from its SIGINT/SIGTERM handler; and mlfq_daemon_end,
 * or mlfq_daemon_fail if the server could not start. No libuv and no
 * threads: call these from the loop thread.
 */
#ifndef MLFQ_DAEMON_H
#define MLFQ_DAEMON_H

#include <stddef.h>
#include <stdio.h>

#include "base/cli.h"
#include "base/log.h"

/* The options every server has: where it listens, its limits, and its
 * process side. */
typedef struct {
  const char *listen;
  const char *port_file;
  size_t max_pending;
  size_t max_pending_per_conn; /* 0 until mlfq_daemon_opts_check: default */
  unsigned max_connections;
  unsigned max_frame_bytes;
  unsigned max_input_length;
  unsigned max_output_length;
  size_t max_queued_bytes;
  double drain_timeout;
  double hello_timeout;
  int daemon;
  const char *pidfile;
  const char *log_file;
  const char *log_level;
} mlfq_daemon_opts_t;

/* The entries of a server's option table: --listen (its help
 * listen_help) and --port-file, then own[0..nown) (at most
 * MLFQ_DAEMON_CLI_OWN), then the limits and the process options, the
 * shared ones writing the mlfq_daemon_opts_t at offset base of the option
 * group's struct, then the end of the table. t has room for
 * MLFQ_DAEMON_CLI_MAX entries. */
#define MLFQ_DAEMON_CLI_OWN 32
#define MLFQ_DAEMON_CLI_MAX (MLFQ_DAEMON_CLI_OWN + 18)
void mlfq_daemon_cli_table(mlfq_cli_opt_t *t, const char *listen_help,
                           const mlfq_cli_opt_t *own, size_t nown, size_t base);

/* The end of a server's --help: its signals and exit statuses. */
#define MLFQ_DAEMON_FOOTER                                                     \
  "\nSignals: the first SIGINT or SIGTERM stops accepting, lets requests in\n" \
  "flight finish (--drain-timeout), then exits 0; a second exits at once.\n"   \
  "Exit status: 0 after a clean stop, 1 on a runtime failure, 2 for bad\n"     \
  "options.\n"

/* Answers --help and --version, which mlfq_cli_parse returned as rc: for
 * MLFQ_CLI_HELP prints usage, the options of groups[0..ngroups) and
 * MLFQ_DAEMON_FOOTER on stdout; for MLFQ_CLI_VERSION prints "PROG VERSION
 * (protocol N)". Returns 1 when it printed (the server exits 0), else 0. */
int mlfq_daemon_cli_info(int rc, const char *prog, const char *usage,
                         const mlfq_cli_group_t *groups, size_t ngroups);

typedef struct {
  const char *prog;
  const char *pidfile; /* --pidfile, or NULL */
  int pidfile_written; /* ours to remove at the end */
  int log_fd;          /* --log-file, or -1 (stderr) */
  int notify;          /* the readiness pipe of --daemon, or -1 */
  int signals;
} mlfq_daemon_t;

/* The defaults of o, listening on listen. */
void mlfq_daemon_opts_init(mlfq_daemon_opts_t *o, const char *listen);

/* Checks o's --log-level and --listen: *level, host and *port; and its
 * --max-pending-per-conn, which it sets to the default when not given.
 * Returns 0, or MLFQ_EINVAL with err set ("--listen: 'X' is not
 * HOST:PORT"). */
int mlfq_daemon_opts_check(mlfq_daemon_opts_t *o, mlfq_log_level_t *level,
                           char *host, size_t hostlen, int *port, char *err,
                           size_t errlen);

/* Splits a --listen value, "HOST:PORT" or "[V6]:PORT", into host and port
 * and checks that host is a numeric IPv4 or IPv6 address. Returns 0 or
 * MLFQ_EINVAL. */
int mlfq_daemon_parse_listen(const char *s, char *host, size_t hostlen,
                             int *port);

/* Starts the process side of program prog: refuses a pidfile (NULL: none)
 * that names a live process, appends the log to log_file (NULL: stderr)
 * at level, detaches (--daemon) when detach (the caller's process then
 * waits for mlfq_daemon_ready or mlfq_daemon_fail), and starts the log's
 * writer thread, so that logging never blocks the loop (log.h). Returns 0, or
 * the exit status after saying why on stderr: 1 for a runtime failure (a live
 * pidfile, cannot detach), 2 for a pidfile that is a symbolic link, or a
 * log file that cannot be opened or is not a regular file (a symbolic link
 * is never followed, a FIFO never waited on). Reads the umask (the mode of
 * the files mlfq_daemon_publish writes): call it before any thread. */
int mlfq_daemon_begin(mlfq_daemon_t *d, const char *prog, const char *pidfile,
                      const char *log_file, mlfq_log_level_t level, int detach);

/* The server listens on bound ("HOST:PORT"): writes it and a newline to
 * port_file (NULL: none) and the pid to the pidfile, each atomically
 * through a temporary file of an unpredictable name (a symbolic link
 * planted beside them is never followed) renamed over them, with mode
 * 0666 less the umask.
 * Returns 0, or a negated errno with err set ("--port-file: cannot write
 * FILE: reason"). */
int mlfq_daemon_publish(mlfq_daemon_t *d, const char *bound,
                        const char *port_file, char *err, size_t errlen);
/* Writes bound and a newline to path atomically. Returns 0, or a negated
 * errno with err set ("OPT: cannot write PATH: reason"). */
int mlfq_daemon_write_port_file(const char *path, const char *opt,
                                const char *bound, char *err, size_t errlen);

/* Start-up is over: tells the waiting caller of --daemon the address, or
 * prints it and a newline on stdout. */
void mlfq_daemon_ready(mlfq_daemon_t *d, const char *bound);

/* How long the exit waits for the log to be written (a log on a pipe
 * nobody reads is left behind). */
#define MLFQ_DAEMON_LOG_FLUSH_S 1.0

/* SIGINT or SIGTERM signum arrived. The first returns 1 (the server
 * drains); a second exits at once with status 1, removing the pidfile. */
int mlfq_daemon_signal(mlfq_daemon_t *d, int signum);

/* The server could not start (err says why): logged, as the last line of
 * the log (on stderr without --log-file, within the bound of the log's
 * stop); with --daemon also told to the waiting caller, which prints it,
 * and with --log-file also printed on stderr. Stops and closes the log;
 * returns the exit status, 1. */
int mlfq_daemon_fail(mlfq_daemon_t *d, const char *err);

/* The server has stopped: removes the pidfile, logs it, stops and closes
 * the log. Returns status. */
int mlfq_daemon_end(mlfq_daemon_t *d, int status);

#endif
