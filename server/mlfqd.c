/* mlfqd: the real-time serving daemon. Options, daemon mode, pidfile,
 * logging and signals; the server itself is server.c and conn.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "frame.h"
#include "log.h"
#include "options.h"
#include "peer.h"
#include "policy.h"
#include "server.h"
#include "units.h"
#include "version.h"

typedef struct {
  const char *listen;
  const char *port_file;
  const char *pidfile;
  const char *log_file;
  const char *log_level;
  double time_scale;
  size_t max_pending;
  unsigned max_connections;
  unsigned max_frame_bytes;
  unsigned max_input_length;
  unsigned max_output_length;
  size_t max_queued_bytes;
  double drain_timeout;
  int daemon;
} daemon_opts_t;

#define D(field) offsetof(daemon_opts_t, field)

static const mlfq_cli_opt_t daemon_options[] = {
    {"listen", "HOST:PORT",
     "address to listen on; port 0 takes a free port (default "
     "127.0.0.1:7070)",
     mlfq_cli_set_str, D(listen), 0, 0, 0},
    {"port-file", "FILE", "write the bound HOST:PORT to FILE", mlfq_cli_set_str,
     D(port_file), 0, 0, 0},
    {"time-scale", "X",
     "wall seconds per model second: 0.1 runs ten times faster (default 1)",
     mlfq_cli_set_double, D(time_scale), 0, 1e-6, 1e6},
    {"max-pending", "N",
     "requests in flight beyond which Submit is refused with OVERLOADED "
     "(default 100000)",
     mlfq_cli_set_size, D(max_pending), 0, 1, 1e9},
    {"max-connections", "N", "client connections at once (default 1024)",
     mlfq_cli_set_uint, D(max_connections), 0, 1, 1e6},
    {"max-frame-bytes", "N", "largest client frame (default 65536)",
     mlfq_cli_set_uint, D(max_frame_bytes), 0, 16, 64 << 20},
    {"max-input-length", "N", "largest input_length (default 1048576)",
     mlfq_cli_set_uint, D(max_input_length), 0, 1, 4294967295.0},
    {"max-output-length", "N", "largest output_length (default 1048576)",
     mlfq_cli_set_uint, D(max_output_length), 0, 1, 4294967295.0},
    {"max-queued-bytes", "N",
     "unread output that disconnects a client; reading pauses at a quarter "
     "(default 8388608)",
     mlfq_cli_set_size, D(max_queued_bytes), 0, 4096, 1e12},
    {"drain-timeout", "S",
     "on SIGINT/SIGTERM, seconds to let requests finish before cancelling "
     "them (default 30)",
     mlfq_cli_set_double, D(drain_timeout), 0, 0, 1e6},
    {"daemon", NULL, "detach and run in the background", mlfq_cli_set_flag,
     D(daemon), 0, 0, 0},
    {"pidfile", "FILE",
     "write the pid to FILE; refuse to start if it names a live process",
     mlfq_cli_set_str, D(pidfile), 0, 0, 0},
    {"log-file", "FILE", "append the log to FILE (default: stderr)",
     mlfq_cli_set_str, D(log_file), 0, 0, 0},
    {"log-level", "LEVEL", "error, warn, info or debug (default info)",
     mlfq_cli_set_str, D(log_level), 0, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static const char usage[] =
    "Usage: mlfqd [OPTIONS]\n"
    "\n"
    "Serves LLM inference requests over TCP the way an engine would, without\n"
    "a GPU: the scheduler core of mlfqsim decides what runs, and one thread\n"
    "per engine sleeps for exactly as long as each modeled iteration takes,\n"
    "streaming every token to its client as it is produced. The protocol is\n"
    "in docs/PROTOCOL.md. Times are model milliseconds.\n";

static const char footer[] =
    "\nSignals: the first SIGINT or SIGTERM stops accepting, lets requests in\n"
    "flight finish (--drain-timeout), then exits 0; a second exits at once.\n"
    "Exit status: 0 after a clean stop, 1 on a runtime failure, 2 for bad\n"
    "options.\n";

static struct {
  server_t sv;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  const char *pidfile;
  int signals;
} g;

/* 1 if path holds the pid of a live process. */
static int pidfile_live(const char *path, long *pid) {
  char buf[32] = {0};
  FILE *f = fopen(path, "r");
  char *end;

  if (f == NULL)
    return 0;
  if (fgets(buf, sizeof(buf), f) == NULL)
    buf[0] = '\0';
  fclose(f);
  *pid = strtol(buf, &end, 10);
  if (end == buf || *pid <= 0)
    return 0;
  return kill((pid_t)*pid, 0) == 0 || errno == EPERM;
}

/* Writes text to path through a temporary file and a rename, so readers
 * never see it half written. */
static int write_atomic(const char *path, const char *text) {
  char tmp[PATH_MAX];
  FILE *f;

  if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >=
      (int)sizeof(tmp))
    return -ENAMETOOLONG;
  f = fopen(tmp, "w");
  if (f == NULL)
    return -errno;
  fputs(text, f);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    int rc = -errno;
    unlink(tmp);
    return rc;
  }
  return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (++g.signals > 1) {
    mlfq_log(MLFQ_LOG_WARN, "second signal %d: exiting at once", signum);
    if (g.pidfile != NULL)
      unlink(g.pidfile);
    _exit(1);
  }
  mlfq_log(MLFQ_LOG_INFO, "signal %d: draining", signum);
  server_drain(&g.sv);
}

static void on_stop(server_t *sv) {
  (void)sv;
  uv_close((uv_handle_t *)&g.sigint, NULL);
  uv_close((uv_handle_t *)&g.sigterm, NULL);
}

static int parse_listen(const char *s, char *host, size_t hostlen, int *port) {
  struct sockaddr_in6 a6;
  struct sockaddr_in a4;
  int rc = mlfq_peer_parse_addr(s, host, hostlen, port);

  if (rc == 0 && uv_ip4_addr(host, *port, &a4) != 0 &&
      uv_ip6_addr(host, *port, &a6) != 0)
    rc = MLFQ_EINVAL;
  return rc;
}

/* Detaches: the parent waits until the child reports its bound address
 * (or an error) through a pipe, prints it and exits, so that when
 * `mlfqd --daemon` returns the server is listening. Returns in the child
 * with *notify the pipe's write end. */
static int daemonize(int *notify) {
  char buf[512];
  ssize_t n, got = 0;
  int fds[2], null;
  pid_t pid;

  if (pipe(fds) != 0)
    return -errno;
  pid = fork();
  if (pid < 0)
    return -errno;
  if (pid > 0) {
    close(fds[1]);
    while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 ||
           (n < 0 && errno == EINTR))
      if (n > 0)
        got += n;
    buf[got] = '\0';
    if (got > 0 && buf[0] == '+') {
      fputs(buf + 1, stdout);
      exit(0);
    }
    fprintf(stderr, "%s", got > 1 ? buf + 1 : "mlfqd: failed to start\n");
    exit(1);
  }
  close(fds[0]);
  if (setsid() < 0)
    return -errno;
  null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2); /* the log goes to --log-file, or nowhere */
    if (null > 2)
      close(null);
  }
  *notify = fds[1];
  return 0;
}

int main(int argc, char **argv) {
  mlfq_model_opts_t mo;
  daemon_opts_t dopt;
  mlfq_cli_group_t groups[2];
  server_opts_t so;
  mlfq_log_level_t level = MLFQ_LOG_INFO;
  char err[512], host[256], bound[300], line[600];
  FILE *logf = NULL;
  uv_loop_t loop;
  int rc, port, notify = -1, status = 0;
  long pid;

  signal(SIGPIPE, SIG_IGN);
  memset(&so, 0, sizeof(so));
  mlfq_model_opts_init(&mo);
  memset(&dopt, 0, sizeof(dopt));
  dopt.listen = "127.0.0.1:7070";
  dopt.log_level = "info";
  dopt.time_scale = 1;
  dopt.max_pending = 100000;
  dopt.max_connections = 1024;
  dopt.max_frame_bytes = MLFQ_FRAME_DEFAULT_MAX;
  dopt.max_input_length = 1048576;
  dopt.max_output_length = 1048576;
  dopt.max_queued_bytes = 8 << 20;
  dopt.drain_timeout = 30;
  groups[0] =
      (mlfq_cli_group_t){"Scheduler and cost model", mlfq_model_options, &mo};
  groups[1] = (mlfq_cli_group_t){"Server", daemon_options, &dopt};

  rc = mlfq_cli_parse(argc, argv, groups, 2, NULL, 0, NULL, err, sizeof(err));
  if (rc == MLFQ_CLI_HELP) {
    fputs(usage, stdout);
    mlfq_cli_help(stdout, groups, 2);
    fputs(footer, stdout);
    return 0;
  }
  if (rc == MLFQ_CLI_VERSION) {
    printf("mlfqd %s (protocol %d)\n", MLFQ_VERSION, MLFQ_PROTOCOL_VERSION);
    return 0;
  }
  if (rc < 0)
    goto bad;
  if (mlfq_policy_find(mo.sched.policy) == NULL) {
    snprintf(err, sizeof(err),
             "--policy: unknown '%s' (fcfs, naive-mlfq, mlfq or srpt)",
             mo.sched.policy);
    goto bad;
  }
  if (mlfq_log_parse_level(dopt.log_level, &level) != 0) {
    snprintf(err, sizeof(err),
             "--log-level: '%s' is not error, warn, info or debug",
             dopt.log_level);
    goto bad;
  }
  if (parse_listen(dopt.listen, host, sizeof(host), &port) != 0) {
    snprintf(err, sizeof(err), "--listen: '%s' is not HOST:PORT", dopt.listen);
    goto bad;
  }
  rc = mlfq_model_opts_cost(&mo, &so.cost, err, sizeof(err));
  if (rc)
    goto bad;
  so.sched = mo.sched;
  so.lim.time_scale = dopt.time_scale;
  so.lim.max_pending = dopt.max_pending;
  so.lim.max_input_length = dopt.max_input_length;
  so.lim.max_output_length = dopt.max_output_length;
  so.lim.max_frame_bytes = dopt.max_frame_bytes;
  so.max_connections = dopt.max_connections;
  so.max_queued_bytes = dopt.max_queued_bytes;
  so.drain_timeout_s = dopt.drain_timeout;
  if (dopt.pidfile != NULL && pidfile_live(dopt.pidfile, &pid)) {
    snprintf(err, sizeof(err), "%s names process %ld, which is running",
             dopt.pidfile, pid);
    goto fail;
  }

  if (dopt.log_file != NULL) {
    logf = fopen(dopt.log_file, "a");
    if (logf == NULL) {
      snprintf(err, sizeof(err), "--log-file: cannot open %s: %s",
               dopt.log_file, strerror(errno));
      goto bad;
    }
  }
  mlfq_log_init("mlfqd", level, logf);
  if (dopt.daemon) {
    rc = daemonize(&notify);
    if (rc) {
      snprintf(err, sizeof(err), "cannot detach: %s", strerror(-rc));
      goto fail;
    }
  }

  rc = uv_loop_init(&loop);
  if (rc) {
    snprintf(err, sizeof(err), "event loop: %s", uv_strerror(rc));
    goto fail;
  }
  rc = server_init(&g.sv, &loop, &so, err, sizeof(err));
  if (rc == 0)
    rc = server_listen(&g.sv, host, port, bound, sizeof(bound), err,
                       sizeof(err));
  if (rc == 0 && dopt.port_file != NULL) {
    snprintf(line, sizeof(line), "%s\n", bound);
    rc = write_atomic(dopt.port_file, line);
    if (rc)
      snprintf(err, sizeof(err), "--port-file: cannot write %s: %s",
               dopt.port_file, strerror(-rc));
  }
  if (rc == 0 && dopt.pidfile != NULL) {
    snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    rc = write_atomic(dopt.pidfile, line);
    if (rc)
      snprintf(err, sizeof(err), "--pidfile: cannot write %s: %s", dopt.pidfile,
               strerror(-rc));
    else
      g.pidfile = dopt.pidfile;
  }
  if (rc != 0) {
    server_close(&g.sv);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    server_free(&g.sv);
    goto fail;
  }
  g.sv.on_stop = on_stop;
  uv_signal_init(&loop, &g.sigint);
  uv_signal_init(&loop, &g.sigterm);
  uv_signal_start(&g.sigint, on_signal, SIGINT);
  uv_signal_start(&g.sigterm, on_signal, SIGTERM);

  snprintf(line, sizeof(line), "+%s\n", bound);
  if (notify >= 0) {
    (void)!write(notify, line, strlen(line));
    close(notify);
  } else {
    fputs(line + 1, stdout);
    fflush(stdout);
  }
  mlfq_log(MLFQ_LOG_INFO,
           "listening on %s: policy %s, %u workers, max_batch %u, "
           "time_scale %g",
           bound, so.sched.policy, so.sched.workers, so.sched.max_batch,
           so.lim.time_scale);

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
  rc = uv_loop_close(&loop);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "loop did not close cleanly: %s", uv_strerror(rc));
    status = 1;
  }
  server_free(&g.sv);
  mlfq_cost_free(&so.cost);
  if (g.pidfile != NULL)
    unlink(g.pidfile);
  mlfq_log(MLFQ_LOG_INFO, "stopped");
  if (logf != NULL)
    fclose(logf);
  return status;

fail: /* a runtime failure: said once, to the log file or the caller */
  if (logf != NULL)
    mlfq_log(MLFQ_LOG_ERROR, "%s", err);
  if (notify >= 0) {
    snprintf(line, sizeof(line), "-mlfqd: %s\n", err);
    (void)!write(notify, line, strlen(line));
  } else {
    fprintf(stderr, "mlfqd: %s\n", err);
  }
  mlfq_cost_free(&so.cost);
  if (logf != NULL)
    fclose(logf);
  return 1;

bad:
  fprintf(stderr, "mlfqd: %s\n", err);
  mlfq_cost_free(&so.cost);
  if (logf != NULL)
    fclose(logf);
  return 2;
}
