/* mlfqd: the real-time serving daemon. Its options, what they build, and
 * the ops by which the servers' one life cycle (common/net/daemon_main.h:
 * daemon mode, pidfile, logging, signals, the drain, the exit) runs it;
 * the server itself is the rest of server/ (server/README.md). */
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
#include "net/daemon_main.h"
#include "preset.h"
#include "server.h"

typedef struct {
  mlfq_daemon_opts_t s; /* what every server has */
  double time_scale;
  const char *http_listen;
  const char *http_port_file;
  const char *model_name;
  unsigned http_max_tokens;
  const char *output_len; /* natural endings (load/endings.h) */
  const char *workload;
  uint64_t seed;
  size_t http_max_body_bytes;
  double http_read_timeout_s;
  double late_fraction;
  faults_opts_t faults;
  const char *preset;
  double gpu_memory_gib;
  int gpu_memory_given;
  double http_idle_timeout_s;
  unsigned http_max_requests;
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

/* --fault-kinds: names separated by commas (faults.h). */
static int set_fault_kinds(const mlfq_cli_opt_t *o, void *field,
                           const char *val, char *err, size_t errlen) {
  (void)o;
  return faults_parse_kinds(val, (unsigned *)field, err, errlen);
}

/* --preset: a name preset.c knows. */
static int set_preset(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen) {
  (void)o;
  if (preset_find(val) == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "'%s' is not a preset (%s)", val,
                     preset_names());
  *(const char **)field = val;
  return 0;
}

/* mlfqd's own server options; the others are every server's (daemon.h). */
static const mlfq_cli_opt_t daemon_options[] = {
    {"time-scale", "X",
     "wall seconds per model second: 0.1 runs ten times faster (default "
     "1); model time lasts 2^63 ns (292 years), that is 292 years times X "
     "of wall time (2.6 hours at 1e-6), then stops",
     mlfq_cli_set_double, D(time_scale), 0, 1e-6, 1e6},
    {"http-listen", "HOST:PORT",
     "also serve HTTP there, on kept-alive connections: /metrics, /health, "
     "/version, /v1/models, /v1/models/{id}, /v1/completions, "
     "/v1/chat/completions, /tokenize, /detokenize (docs/HTTP.md); port 0 "
     "takes a free port (default: off)",
     mlfq_cli_set_str, D(http_listen), 0, 0, 0},
    {"http-port-file", "FILE", "write the bound HTTP HOST:PORT to FILE",
     mlfq_cli_set_str, D(http_port_file), 0, 0, 0},
    {"model-name", "NAME",
     "the model /v1/models lists and completions answer for: 1 to 256 "
     "letters, digits and . _ - / : + @ (default mlfqd)",
     set_model_name, D(model_name), 0, 0, 0},
    {"http-max-tokens", "N",
     "max_tokens of a completion that gives none (default 16)",
     mlfq_cli_set_uint, D(http_max_tokens), 0, 1, 4294967295.0},
    {"output-len", "SPEC",
     "natural length of a completion, drawn per prompt: fixed:N, "
     "uniform:A:B, zipf:S:MAX, or file with --workload; min_tokens, "
     "ignore_eos and max_tokens bound it, and below max_tokens it ends "
     "\"stop\" (docs/MODEL.md, \"Natural endings\"; default: none, every "
     "completion runs to max_tokens)",
     mlfq_cli_set_str, D(output_len), 0, 0, 0},
    {"workload", "FILE",
     "CSV whose output_length column --output-len file takes, row after "
     "row, cycling, as mlfqsim and loadgen take it (alone: --output-len "
     "file)",
     mlfq_cli_set_str, D(workload), 0, 0, 0},
    {"seed", "N",
     "seed of the --output-len draws and of the injected faults (default 1)",
     mlfq_cli_set_u64, D(seed), 0, 0, 1.8446744073709552e19},
    {"http-max-body-bytes", "N",
     "largest HTTP request body; a larger one gets 413 (default 1048576)",
     mlfq_cli_set_size, D(http_max_body_bytes), 0, 1024, 1e9},
    {"http-read-timeout", "S",
     "seconds a client has to send its whole HTTP request: from connecting "
     "for its first, from when the server begins to read it for the next; "
     "then it gets 408 and is disconnected (default 30)",
     mlfq_cli_set_double, D(http_read_timeout_s), 0, 0.01, 86400},
    {"late-warn-fraction", "F",
     "an iteration that ends later than F times the smallest decode time "
     "(and at least 1 ms of wall time) puts the server behind the model: "
     "it says so in its log, /metrics and each late request's Done or "
     "response (default 0.1)",
     mlfq_cli_set_double, D(late_fraction), 0, 0, 1e6},
    {"fault-rate", "P",
     "probability that an HTTP completion gets an injected fault, 0 to 1 "
     "(default 0: none; docs/HTTP.md, \"Failure injection\")",
     mlfq_cli_set_double, D(faults.rate), 0, 0, 1},
    {"fault-kinds", "LIST",
     "the faults drawn, uniformly, separated by commas: rate-limit, "
     "server-error, drop, slow-first-token (default: all four)",
     set_fault_kinds, D(faults.kinds), 0, 0, 0},
    {"fault-slow-ms", "MS",
     "slow-first-token: wall milliseconds a request waits before it enters "
     "the scheduler (default 1000)",
     mlfq_cli_set_double, D(faults.slow_ms), 0, 0, 86400000},
    {"preset", "NAME",
     "vllm: the defaults of a vLLM server for OPT-1.3B (fcfs, max-batch "
     "256, the KV capacity of --gpu-memory-gib, on-full recompute, HTTP on "
     "127.0.0.1:8000, model facebook/opt-1.3b); options given override it "
     "(docs/HTTP.md, \"Preset vllm\")",
     set_preset, D(preset), 0, 0, 0},
    {"gpu-memory-gib", "GIB",
     "with --preset: the GPU memory whose 90%, less the weights, is the KV "
     "capacity (default 40)",
     mlfq_cli_set_double, D(gpu_memory_gib),
     MLFQ_CLI_GIVEN(daemon_opts_t, gpu_memory_given), 1, 1e6},
    {"http-idle-timeout", "S",
     "seconds a kept-alive HTTP connection may wait for its next request; "
     "then it is closed (default 60)",
     mlfq_cli_set_double, D(http_idle_timeout_s), 0, 0.01, 86400},
    {"http-max-requests", "N",
     "requests one HTTP connection carries; the response to the last says "
     "Connection: close (default 1000; 0: no cap)",
     mlfq_cli_set_uint, D(http_max_requests), 0, 0, 4294967295.0}};
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
    "in docs/PROTOCOL.md. Times are model milliseconds, unless an option\n"
    "says wall time.\n";

/* The daemon's state: its options, what they build, its server. */
static struct {
  mlfq_daemon_prog_t prog;
  mlfq_model_opts_t mo;
  daemon_opts_t dopt;
  server_opts_t so;
  server_t sv;
  mlfq_endings_t endings;
  char hhost[256];
  int hport;
  char hbound[300];
} g;

static int check(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  char names[MLFQ_POLICY_NAMES_BUFSIZE];
  const preset_t *ps;

  (void)p;
  if (mlfq_policy_find(g.mo.sched.policy) == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--policy: unknown '%s' (%s)",
                     g.mo.sched.policy,
                     mlfq_policy_names(names, sizeof(names), NULL));
  if (g.dopt.gpu_memory_given && g.dopt.preset == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--gpu-memory-gib: needs --preset");
  ps = g.dopt.preset != NULL ? preset_find(g.dopt.preset) : NULL;
  if (ps != NULL && preset_kv_tokens(ps, g.dopt.gpu_memory_gib) == 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--gpu-memory-gib: %g GiB at %g%% does not hold the "
                     "weights of --preset %s (%llu bytes)",
                     g.dopt.gpu_memory_gib, ps->gpu_memory_utilization * 100,
                     ps->name, (unsigned long long)ps->weight_bytes);
  return 0;
}

/* The HTTP options, once the shared ones are checked. */
static int check_http(const daemon_opts_t *d, char *err, size_t errlen) {
  if (d->http_listen != NULL &&
      mlfq_daemon_parse_listen(d->http_listen, g.hhost, sizeof(g.hhost),
                               &g.hport) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--http-listen: '%s' is not a numeric HOST:PORT",
                     d->http_listen);
  if (d->http_port_file != NULL && d->http_listen == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--http-port-file: needs --http-listen");
  if (d->http_max_tokens > d->s.max_output_length)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--http-max-tokens: %u is over --max-output-length (%u)",
                     d->http_max_tokens, (unsigned)d->s.max_output_length);
  return 0;
}

static int configure(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  const daemon_opts_t *d = &g.dopt;
  server_opts_t *so = &g.so;
  int rc;

  (void)p;
  rc = check_http(d, err, errlen);
  if (rc)
    return rc;
  rc = mlfq_model_opts_cost(&g.mo, &so->cost, err, errlen);
  if (rc)
    return rc;
  so->sched = g.mo.sched;
  so->lim.time_scale = d->time_scale;
  so->lim.max_pending = d->s.max_pending;
  so->lim.max_pending_per_conn = d->s.max_pending_per_conn;
  so->lim.max_input_length = d->s.max_input_length;
  so->lim.max_output_length = d->s.max_output_length;
  so->lim.max_frame_bytes = d->s.max_frame_bytes;
  so->max_connections = d->s.max_connections;
  so->max_queued_bytes = d->s.max_queued_bytes;
  so->drain_timeout_s = d->s.drain_timeout;
  so->hello_timeout_s = d->s.hello_timeout;
  so->model_name = d->model_name;
  so->http_max_tokens = d->http_max_tokens;
  so->http_max_body_bytes = d->http_max_body_bytes;
  so->http_read_timeout_s = d->http_read_timeout_s;
  so->late_fraction = d->late_fraction;
  rc = mlfq_endings_init(&g.endings, d->output_len, d->workload, d->seed, err,
                         errlen);
  if (rc)
    return rc;
  so->endings = g.endings.on ? &g.endings : NULL;
  so->faults = d->faults;
  so->faults.seed = d->seed; /* one --seed, a stream for each use */
  so->http_idle_timeout_s = d->http_idle_timeout_s;
  so->http_max_requests = d->http_max_requests;
  return server_replies_check(so, err, errlen);
}

static int start(mlfq_daemon_prog_t *p, char *err, size_t errlen) {
  int rc;

  rc = server_init(&g.sv, &p->loop, &g.so, err, errlen);
  if (rc == 0)
    rc = server_listen(&g.sv, p->host, p->port, p->bound, sizeof(p->bound), err,
                       errlen);
  if (rc == 0 && g.dopt.http_listen != NULL)
    rc = http_listen(&g.sv, g.hhost, g.hport, g.hbound, sizeof(g.hbound), err,
                     errlen);
  if (rc == 0 && g.dopt.http_port_file != NULL)
    rc = mlfq_daemon_write_port_file(g.dopt.http_port_file, "--http-port-file",
                                     g.hbound, err, errlen);
  return rc;
}

static void on_stop(server_t *sv) {
  (void)sv;
  mlfq_daemon_main_stopped(&g.prog);
}

/* The faults in force, their kinds by name as --fault-kinds takes them. */
static void log_faults(const faults_opts_t *f) {
  char kinds[128] = "";
  size_t n = 0;
  int k;

  for (k = FAULT_NONE + 1; k < FAULT_KINDS; k++)
    if (f->kinds & (1u << k))
      n += (size_t)snprintf(kinds + n, sizeof(kinds) - n, "%s%s",
                            n > 0 ? "," : "", faults_name((fault_kind_t)k));
  mlfq_log(MLFQ_LOG_INFO,
           "injecting faults: rate %g, kinds %s, slow %g ms, seed %llu",
           f->rate, kinds, f->slow_ms, (unsigned long long)f->seed);
}

static void started(mlfq_daemon_prog_t *p) {
  g.sv.on_stop = on_stop;
  mlfq_log(MLFQ_LOG_INFO,
           "listening on %s: policy %s, %u workers, max_batch %u, "
           "kv_capacity_tokens %llu, on_full %s, time_scale %g",
           p->bound, g.so.sched.policy, g.so.sched.workers,
           g.so.sched.max_batch,
           (unsigned long long)g.so.sched.kv_capacity_tokens,
           mlfq_on_full_name(g.so.sched.on_full), g.so.lim.time_scale);
  if (g.dopt.preset != NULL)
    mlfq_log(MLFQ_LOG_INFO, "preset %s, gpu_memory_gib %g", g.dopt.preset,
             g.dopt.gpu_memory_gib);
  if (g.dopt.http_listen != NULL)
    mlfq_log(MLFQ_LOG_INFO, "HTTP on %s: model %s", g.hbound, g.so.model_name);
  if (g.so.faults.rate > 0)
    log_faults(&g.so.faults);
}

static void drain(void *sv) { server_drain(sv); }

static void close_server(void *sv) { server_close(sv); }

static void free_server(void *sv) { server_free(sv); }

static void release(mlfq_daemon_prog_t *p) {
  (void)p;
  mlfq_cost_free(&g.so.cost);
  mlfq_endings_free(&g.endings);
}

/* In the order of mlfq_daemon_ops_t. */
static const mlfq_daemon_ops_t ops = {
    check, configure, start, started, drain, close_server, free_server, release,
};

#define NDAEMON_OPTIONS (sizeof(daemon_options) / sizeof(daemon_options[0]))

/* --preset and --gpu-memory-gib, read from argv ahead of the real parse
 * into a scratch copy of every option (a bad option is the real parse's
 * to report), so that the preset gives defaults that the options given
 * override, wherever they stand. */
static void preparse(int argc, char **argv, daemon_opts_t *d) {
  mlfq_cli_opt_t t[MLFQ_DAEMON_CLI_MAX];
  mlfq_cli_group_t groups[2];
  mlfq_model_opts_t mo;
  char err[512];

  mlfq_model_opts_init(&mo);
  mlfq_daemon_cli_table(t, "", daemon_options, NDAEMON_OPTIONS, D(s));
  groups[0] = (mlfq_cli_group_t){"", mlfq_model_options, &mo};
  groups[1] = (mlfq_cli_group_t){"", t, d};
  (void)mlfq_cli_parse(argc, argv, groups, 2, NULL, 0, NULL, err, sizeof(err));
}

/* The defaults of preset ps for a GPU of gib GiB. */
static void apply_preset(const preset_t *ps, double gib) {
  g.mo.sched.policy = ps->policy;
  g.mo.sched.max_batch = ps->max_batch;
  g.mo.sched.on_full = ps->on_full;
  g.mo.sched.kv_capacity_tokens = preset_kv_tokens(ps, gib);
  g.dopt.http_listen = ps->http_listen;
  g.dopt.model_name = ps->model_name;
}

int main(int argc, char **argv) {
  static daemon_opts_t pre;
  const preset_t *ps;

  mlfq_model_opts_init(&g.mo);
  g.dopt.time_scale = 1;
  g.dopt.model_name = "mlfqd";
  g.dopt.http_max_tokens = 16;
  g.dopt.seed = 1;
  g.dopt.http_max_body_bytes = 1 << 20;
  g.dopt.http_read_timeout_s = 30;
  g.dopt.late_fraction = 0.1;
  faults_opts_init(&g.dopt.faults);
  pre = g.dopt;
  preparse(argc, argv, &pre);
  ps = pre.preset != NULL ? preset_find(pre.preset) : NULL;
  if (ps != NULL) {
    g.dopt.gpu_memory_gib =
        pre.gpu_memory_given ? pre.gpu_memory_gib : ps->gpu_memory_gib;
    apply_preset(ps, g.dopt.gpu_memory_gib);
  }
  g.dopt.http_idle_timeout_s = 60;
  g.dopt.http_max_requests = 1000;
  g.prog.name = "mlfqd";
  g.prog.usage = usage;
  g.prog.ops = &ops;
  g.prog.server = &g.sv;
  g.prog.own =
      (mlfq_cli_group_t){"Scheduler and cost model", mlfq_model_options, &g.mo};
  g.prog.own_server = daemon_options;
  g.prog.nown_server = NDAEMON_OPTIONS;
  g.prog.server_base = &g.dopt;
  g.prog.opts_off = D(s);
  g.prog.listen = "127.0.0.1:7070";
  g.prog.listen_for = "";
  return mlfq_daemon_main(&g.prog, argc, argv);
}
