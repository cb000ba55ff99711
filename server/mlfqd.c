/* mlfqd: the real-time serving daemon. Options, daemon mode, pidfile,
 * logging and signals; the server itself is server.c, conn.c, http.c and
 * metrics.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/log.h"
#include "base/units.h"
#include "core/policy.h"
#include "load/options.h"
#include "net/daemon.h"
#include "net/signals.h"
#include "server.h"

typedef struct {
  mlfq_daemon_opts_t s; /* what every server has */
  double time_scale;
  const char *http_listen;
  const char *http_port_file;
  const char *model_name;
  unsigned http_max_tokens;
  size_t http_max_body_bytes;
  double http_read_timeout_s;
} daemon_opts_t;

#define D(field) offsetof(daemon_opts_t, field)

/* --model-name: 1 to SERVER_MODEL_NAME_MAX bytes of SERVER_MODEL_NAME_CHARS
 * (server.h), so that /metrics, /v1/models and every completion carry it
 * whole and as given. */
static int set_model_name(const mlfq_cli_opt_t *o, void *field, const char *val,
                          char *err, size_t errlen) {
  size_t n = strlen(val), ok = strspn(val, SERVER_MODEL_NAME_CHARS);

  (void)o;
  if (n == 0 || n > SERVER_MODEL_NAME_MAX)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "%zu bytes long; a model name is 1 to %d bytes", n,
                     SERVER_MODEL_NAME_MAX);
  if (ok < n)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "byte %zu (0x%02x) is not a letter, a digit or one of "
                     ". _ - / : + @",
                     ok + 1, (unsigned)(unsigned char)val[ok]);
  *(const char **)field = val;
  return 0;
}

/* mlfqd's own server options; the others are every server's (daemon.h). */
static const mlfq_cli_opt_t daemon_options[] = {
    {"listen", "HOST:PORT",
     "address to listen on; port 0 takes a free port (default "
     "127.0.0.1:7070)",
     mlfq_cli_set_str, D(s.listen), 0, 0, 0},
    {"port-file", "FILE", "write the bound HOST:PORT to FILE", mlfq_cli_set_str,
     D(s.port_file), 0, 0, 0},
    {"time-scale", "X",
     "wall seconds per model second: 0.1 runs ten times faster (default "
     "1); model time lasts 2^63 ns (292 years), that is 292 years times X "
     "of wall time (2.6 hours at 1e-6), then stops",
     mlfq_cli_set_double, D(time_scale), 0, 1e-6, 1e6},
    {"http-listen", "HOST:PORT",
     "also serve HTTP there: /metrics, /health, /v1/models, "
     "/v1/completions, /v1/chat/completions (docs/HTTP.md); port 0 takes a "
     "free port (default: off)",
     mlfq_cli_set_str, D(http_listen), 0, 0, 0},
    {"http-port-file", "FILE", "write the bound HTTP HOST:PORT to FILE",
     mlfq_cli_set_str, D(http_port_file), 0, 0, 0},
    {"model-name", "NAME",
     "the model /v1/models lists and completions answer for: 1 to 256 "
     "letters, digits and . _ - / : + @ (default mlfqd)",
     set_model_name, D(model_name), 0, 0, 0},
    {"http-max-tokens", "N",
     "output_length of a completion without max_tokens (default 16)",
     mlfq_cli_set_uint, D(http_max_tokens), 0, 1, 4294967295.0},
    {"http-max-body-bytes", "N",
     "largest HTTP request body; a larger one gets 413 (default 1048576)",
     mlfq_cli_set_size, D(http_max_body_bytes), 0, 1024, 1e9},
    {"http-read-timeout", "S",
     "seconds a client has to send its whole HTTP request after connecting; "
     "then it gets 408 and is disconnected (default 30)",
     mlfq_cli_set_double, D(http_read_timeout_s), 0, 0.01, 86400}};
_Static_assert(sizeof(daemon_options) / sizeof(daemon_options[0]) <=
                   MLFQ_DAEMON_CLI_OWN,
               "MLFQ_DAEMON_CLI_OWN is too small");

static const char usage[] =
    "Usage: mlfqd [OPTIONS]\n"
    "\n"
    "Serves LLM inference requests over TCP the way an engine would, without\n"
    "a GPU: the scheduler core of mlfqsim decides what runs, and one thread\n"
    "per engine sleeps for exactly as long as each modeled iteration takes,\n"
    "streaming every token to its client as it is produced. The protocol is\n"
    "in docs/PROTOCOL.md. Times are model milliseconds.\n";

static struct {
  server_t sv;
  mlfq_signals_t signals;
  mlfq_daemon_t proc;
} g;

static void on_signal(int signum, void *arg) {
  (void)arg;
  if (mlfq_daemon_signal(&g.proc, signum))
    server_drain(&g.sv);
}

static void on_stop(server_t *sv) {
  (void)sv;
  mlfq_signals_close(&g.signals);
}

int main(int argc, char **argv) {
  mlfq_model_opts_t mo;
  daemon_opts_t dopt;
  mlfq_cli_opt_t server_options[MLFQ_DAEMON_CLI_MAX];
  mlfq_cli_group_t groups[2];
  server_opts_t so;
  mlfq_log_level_t level = MLFQ_LOG_INFO;
  char err[512], host[256], bound[300], hhost[256], hbound[300];
  uv_loop_t loop;
  int rc, port, hport = 0, status = 0;

  signal(SIGPIPE, SIG_IGN);
  memset(&so, 0, sizeof(so));
  mlfq_model_opts_init(&mo);
  mlfq_daemon_opts_init(&dopt.s, "127.0.0.1:7070");
  dopt.time_scale = 1;
  dopt.http_listen = NULL;
  dopt.http_port_file = NULL;
  dopt.model_name = "mlfqd";
  dopt.http_max_tokens = 16;
  dopt.http_max_body_bytes = 1 << 20;
  dopt.http_read_timeout_s = 30;
  groups[0] =
      (mlfq_cli_group_t){"Scheduler and cost model", mlfq_model_options, &mo};
  mlfq_daemon_cli_table(server_options, daemon_options,
                        sizeof(daemon_options) / sizeof(daemon_options[0]),
                        D(s));
  groups[1] = (mlfq_cli_group_t){"Server", server_options, &dopt};

  rc = mlfq_cli_parse(argc, argv, groups, 2, NULL, 0, NULL, err, sizeof(err));
  if (mlfq_daemon_cli_info(rc, "mlfqd", usage, groups, 2))
    return 0;
  if (rc < 0)
    goto bad;
  if (mlfq_policy_find(mo.sched.policy) == NULL) {
    snprintf(err, sizeof(err),
             "--policy: unknown '%s' (fcfs, naive-mlfq, mlfq or srpt)",
             mo.sched.policy);
    goto bad;
  }
  if (mlfq_daemon_opts_check(&dopt.s, &level, host, sizeof(host), &port, err,
                             sizeof(err)) != 0)
    goto bad;
  if (dopt.http_listen != NULL &&
      mlfq_daemon_parse_listen(dopt.http_listen, hhost, sizeof(hhost),
                               &hport) != 0) {
    snprintf(err, sizeof(err), "--http-listen: '%s' is not a numeric HOST:PORT",
             dopt.http_listen);
    goto bad;
  }
  if (dopt.http_port_file != NULL && dopt.http_listen == NULL) {
    snprintf(err, sizeof(err), "--http-port-file: needs --http-listen");
    goto bad;
  }
  if (dopt.http_max_tokens > dopt.s.max_output_length) {
    snprintf(err, sizeof(err),
             "--http-max-tokens: %u is over --max-output-length (%u)",
             dopt.http_max_tokens, (unsigned)dopt.s.max_output_length);
    goto bad;
  }
  rc = mlfq_model_opts_cost(&mo, &so.cost, err, sizeof(err));
  if (rc)
    goto bad;
  so.sched = mo.sched;
  so.lim.time_scale = dopt.time_scale;
  so.lim.max_pending = dopt.s.max_pending;
  so.lim.max_pending_per_conn = dopt.s.max_pending_per_conn;
  so.lim.max_input_length = dopt.s.max_input_length;
  so.lim.max_output_length = dopt.s.max_output_length;
  so.lim.max_frame_bytes = dopt.s.max_frame_bytes;
  so.max_connections = dopt.s.max_connections;
  so.max_queued_bytes = dopt.s.max_queued_bytes;
  so.drain_timeout_s = dopt.s.drain_timeout;
  so.hello_timeout_s = dopt.s.hello_timeout;
  so.model_name = dopt.model_name;
  so.http_max_tokens = dopt.http_max_tokens;
  so.http_max_body_bytes = dopt.http_max_body_bytes;
  so.http_read_timeout_s = dopt.http_read_timeout_s;
  if (server_replies_check(&so, err, sizeof(err)) != 0)
    goto bad;
  status = mlfq_daemon_begin(&g.proc, "mlfqd", dopt.s.pidfile, dopt.s.log_file,
                             level, dopt.s.daemon);
  if (status) {
    mlfq_cost_free(&so.cost);
    return status;
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
  if (rc == 0 && dopt.http_listen != NULL)
    rc = http_listen(&g.sv, hhost, hport, hbound, sizeof(hbound), err,
                     sizeof(err));
  if (rc == 0 && dopt.http_port_file != NULL)
    rc = mlfq_daemon_write_port_file(dopt.http_port_file, "--http-port-file",
                                     hbound, err, sizeof(err));
  if (rc == 0)
    rc =
        mlfq_daemon_publish(&g.proc, bound, dopt.s.port_file, err, sizeof(err));
  if (rc == 0) {
    rc = mlfq_signals_start(&g.signals, &loop, on_signal, NULL);
    if (rc)
      snprintf(err, sizeof(err), "signals: %s", uv_strerror(rc));
  }
  if (rc != 0) {
    server_close(&g.sv);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    server_free(&g.sv);
    goto fail;
  }
  g.sv.on_stop = on_stop;

  mlfq_daemon_ready(&g.proc, bound);
  mlfq_log(MLFQ_LOG_INFO,
           "listening on %s: policy %s, %u workers, max_batch %u, "
           "time_scale %g",
           bound, so.sched.policy, so.sched.workers, so.sched.max_batch,
           so.lim.time_scale);
  if (dopt.http_listen != NULL)
    mlfq_log(MLFQ_LOG_INFO, "HTTP on %s: model %s", hbound, so.model_name);

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
  rc = uv_loop_close(&loop);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "loop did not close cleanly: %s", uv_strerror(rc));
    status = 1;
  }
  server_free(&g.sv);
  mlfq_cost_free(&so.cost);
  return mlfq_daemon_end(&g.proc, status);

fail: /* a runtime failure: said once, to the log file or the caller */
  mlfq_cost_free(&so.cost);
  return mlfq_daemon_fail(&g.proc, err);

bad:
  fprintf(stderr, "mlfqd: %s\n", err);
  mlfq_cost_free(&so.cost);
  return 2;
}
