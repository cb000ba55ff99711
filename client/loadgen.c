/* loadgen: sends one workload to one or more servers, one after another,
 * and reports what users would feel (docs/MLFQSIM.md, "Output files"), side by
 * side, with each server's distance from the model. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/units.h"
#include "base/version.h"
#include "load/compare.h"
#include "load/endings.h"
#include "load/options.h"
#include "load/report.h"
#include "load/summary.h"
#include "measure.h"
#include "net/peer.h"
#include "run.h"
#include "wire/wire.h"

typedef struct {
  mlfq_cli_list_t servers;
  unsigned connections;
  size_t max_concurrency;
  double timeout_s;
  double duration_s;
  int quiet;
} lg_opts_t;

#define G(field) offsetof(lg_opts_t, field)

static const mlfq_cli_opt_t lg_options[] = {
    {"server", "[LABEL=]HOST:PORT",
     "a server to run the workload against (HOST: an address or a name); "
     "repeat to compare several (default 127.0.0.1:7070)",
     mlfq_cli_set_list, G(servers), 0, 0, 0},
    {"connections", "N", "connections to each server (default 1)",
     mlfq_cli_set_uint, G(connections), 0, 1, 1024},
    {"max-concurrency", "N",
     "requests in flight at most: a closed loop (default 0: open loop)",
     mlfq_cli_set_size, G(max_concurrency), 0, 0, 1e9},
    {"timeout", "S",
     "fail a request not done S wall seconds after it was sent (default 0: "
     "none)",
     mlfq_cli_set_double, G(timeout_s), 0, 0, 1e6},
    {"duration", "S",
     "send for S model seconds (with a finite --rate; default: "
     "--num-requests)",
     mlfq_cli_set_double, G(duration_s), 0, 0, 1e9},
    {"quiet", NULL, "print only the summary", mlfq_cli_set_flag, G(quiet), 0, 0,
     0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static const char usage[] =
    "Usage: loadgen [OPTIONS]\n"
    "\n"
    "Sends a workload to mlfqd servers over TCP at absolute times computed\n"
    "up front (in model time, scaled by each server's time_scale), receives\n"
    "every token, and prints requests, makespan, throughput and JCT, TTFT\n"
    "and TPOT. With several --server it runs the identical schedule against\n"
    "each, one after another, and prints them side by side. After each run\n"
    "it replays the arrival times the server recorded through the scheduler\n"
    "core and prints how far the measurement is from the model (not behind\n"
    "a router of several replicas). Times are model milliseconds.\n";

static const char footer[] =
    "\nExit status: 0 when every request completed; 1 when any failed, a\n"
    "server went away, broke the protocol or the run was interrupted (the\n"
    "summary still prints); 2 for bad options or input, or a server that\n"
    "cannot be reached, does not answer Hello or is not mlfqd protocol.\n";

typedef struct {
  char label[64];
  char host[256];
  int port;
} target_t;

static int parse_target(const char *s, target_t *t, char *err, size_t errlen) {
  const char *eq = strchr(s, '=');
  const char *addr = eq ? eq + 1 : s;

  if (mlfq_peer_parse_addr(addr, t->host, sizeof(t->host), &t->port) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--server: '%s' is not [LABEL=]HOST:PORT", s);
  if (eq != NULL)
    snprintf(t->label, sizeof(t->label), "%.*s", (int)(eq - s), s);
  else
    snprintf(t->label, sizeof(t->label), "%s", addr);
  if (t->label[0] == '\0')
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--server: empty label");
  return 0;
}

/* One loadgen invocation: its options, the workload, and each server's
 * run and report. */
typedef struct {
  mlfq_load_opts_t lo;
  mlfq_output_opts_t oo;
  lg_opts_t go;
  target_t targets[MLFQ_CLI_LIST_MAX];
  size_t ntargets;
  lg_report_t reps[MLFQ_CLI_LIST_MAX];
  const char *labels[MLFQ_CLI_LIST_MAX];
  mlfq_summary_t sums[MLFQ_CLI_LIST_MAX];
  size_t nruns;
  mlfq_workload_t w;
  mlfq_outcome_t *oc; /* one run's, reused */
  char (*names)[LG_STATUS_NAME_MAX];
  cJSON *doc, *runs;
  int status;
} lg_t;

/* Makes the workload, cut at --duration. Returns 0, or a negative code
 * with err set. */
static int make_workload(lg_t *g, char *err, size_t errlen) {
  double duration = g->go.duration_s;
  uint64_t end;
  int rc;

  if (duration > 0) {
    if (g->lo.rate == 0 || isinf(g->lo.rate))
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "--duration needs a finite --rate");
    if (g->lo.num_requests == 0) /* enough to fill the duration, then cut */
      g->lo.num_requests = (size_t)(g->lo.rate * duration * 1.5) + 100;
  }
  rc = mlfq_load_opts_make(&g->lo, &g->w, err, errlen);
  if (rc)
    return rc;
  if (duration > 0) {
    end = (uint64_t)(duration * 1e9);
    while (g->w.n > 0 && g->w.reqs[g->w.n - 1].arrival_ns >= end)
      g->w.n--;
    if (g->w.n == 0)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "--duration: no request arrives in %g s", duration);
  }
  return 0;
}

/* Parses the command line into g and makes the workload. Returns -1 to go
 * on, 0 after --help or --version, or 2 with err set. */
static int parse(lg_t *g, int argc, char **argv, char *err, size_t errlen) {
  mlfq_cli_group_t groups[3];
  char version[64];
  size_t t;
  int rc;

  groups[0] = (mlfq_cli_group_t){"Servers and load", lg_options, &g->go};
  groups[1] = (mlfq_cli_group_t){"Workload", mlfq_load_options, &g->lo};
  groups[2] = (mlfq_cli_group_t){"Output", mlfq_output_options, &g->oo};
  snprintf(version, sizeof(version), "loadgen %s (protocol %d)", MLFQ_VERSION,
           MLFQ_PROTOCOL_VERSION);
  rc = mlfq_cli_parse(argc, argv, groups, 3, NULL, 0, NULL, err, errlen);
  if (mlfq_cli_info(rc, usage, groups, 3, footer, version))
    return 0;
  if (rc < 0)
    return 2;
  if (g->go.servers.n == 0)
    g->go.servers.v[g->go.servers.n++] = "127.0.0.1:7070";
  g->ntargets = g->go.servers.n;
  for (t = 0; t < g->ntargets; t++) {
    if (parse_target(g->go.servers.v[t], &g->targets[t], err, errlen))
      return 2;
    g->labels[t] = g->targets[t].label;
  }
  return make_workload(g, err, errlen) != 0 ? 2 : -1;
}

/* Prints what server t answered Hello with. */
static void print_server(const lg_t *g, size_t t, const lg_result_t *res,
                         uint64_t kv_cap) {
  Mlfq__Config *c = res->welcome ? res->welcome->welcome->config : NULL;

  printf("%s: %s, policy %s, max_batch %u, workers %u, time_scale %g",
         g->targets[t].label,
         res->welcome ? res->welcome->welcome->server_id : "?",
         c ? c->policy : "?", c ? c->max_batch : 0, c ? c->workers : 0,
         res->time_scale);
  if (kv_cap > 0)
    printf(", KV cache %llu tokens (on full: %s)", (unsigned long long)kv_cap,
           c->on_full);
  printf("\n");
}

/* Writes run t's --jobs-csv and --trace-csv; 1 if one could not be. */
static int write_files(const lg_t *g, size_t t, const lg_result_t *res,
                       uint64_t kv_cap) {
  int labelled = g->ntargets > 1, flags, status = 0;
  const char *label = g->targets[t].label, *p;
  char name[4096];
  FILE *f;

  if (g->oo.jobs_csv != NULL) {
    p = mlfq_compare_path(g->oo.jobs_csv, label, labelled, name, sizeof(name));
    f = p ? fopen(p, "w") : NULL;
    flags = MLFQ_REPORT_STATUS | (kv_cap ? MLFQ_REPORT_KV : 0) |
            (res->welcome && res->welcome->welcome->replicas > 0
                 ? MLFQ_REPORT_REPLICA
                 : 0);
    if (f == NULL || mlfq_report_jobs_csv(f, g->oc, g->w.n, flags) != 0 ||
        fclose(f) != 0) {
      fprintf(stderr, "loadgen: cannot write %s\n", p ? p : g->oo.jobs_csv);
      status = 1;
    }
  }
  if (g->oo.trace_csv != NULL) {
    p = mlfq_compare_path(g->oo.trace_csv, label, labelled, name, sizeof(name));
    if (p == NULL || lg_write_trace(p, res) != 0)
      status = 1;
  }
  return status;
}

/* Run t's entry of the JSON document's "runs". */
static cJSON *run_json(const lg_t *g, size_t t, const lg_result_t *res) {
  const lg_report_t *rep = &g->reps[t];
  cJSON *run = cJSON_CreateObject(), *me;
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t params;
  mlfq_cost_t cost;
  char err[512];

  cJSON_AddStringToObject(run, "label", g->targets[t].label);
  cJSON_AddStringToObject(run, "server", g->go.servers.v[t]);
  if (res->welcome != NULL &&
      mlfq_wire_config_parse(res->welcome->welcome->config, &cfg, &cost, NULL,
                             err, sizeof(err)) == 0) {
    if (mlfq_sched_resolve(&params, &cfg, &cost, err, sizeof(err)) == 0)
      cJSON_AddItemToObject(run, "config",
                            mlfq_report_config_json(&cfg, &params, &cost));
    cJSON_AddNumberToObject(run, "time_scale", res->time_scale);
    mlfq_cost_free(&cost);
  }
  cJSON_AddItemToObject(run, "summary", mlfq_report_summary_json(&rep->sum));
  if (res->welcome != NULL && res->welcome->welcome->replicas > 0)
    cJSON_AddNumberToObject(run, "replicas", res->welcome->welcome->replicas);
  if (rep->failures != NULL)
    cJSON_AddItemReferenceToObject(run, "failures", rep->failures);
  if (rep->model_ok) {
    me = cJSON_AddObjectToObject(run, "model_error");
    cJSON_AddNumberToObject(me, "mean_jct_pct", rep->err_mean_pct);
    cJSON_AddNumberToObject(me, "job_diff_mean_ms", rep->diff_mean_ms);
    cJSON_AddNumberToObject(me, "job_diff_p95_ms", rep->diff_p95_ms);
    cJSON_AddNumberToObject(me, "jobs_within_0_5_ms", rep->within_half_ms);
  }
  cJSON_AddNumberToObject(run, "send_error_p50_us",
                          (double)rep->send_p50 / 1e3);
  cJSON_AddNumberToObject(run, "send_error_p99_us",
                          (double)rep->send_p99 / 1e3);
  cJSON_AddNumberToObject(run, "send_error_max_us",
                          (double)rep->send_max / 1e3);
  cJSON_AddNumberToObject(run, "sent_per_s", rep->sent_per_s);
  cJSON_AddNumberToObject(run, "late_requests", (double)rep->late);
  cJSON_AddNumberToObject(run, "late_max_ms", (double)rep->late_max_ns / 1e6);
  return run;
}

/* Runs the workload against server t and reports it. Returns 0 to go on
 * to the next server, 1 when the run was interrupted (the summary still
 * prints), or -1 when the comparison ends at once (g->status set). */
static int run_target(lg_t *g, size_t t) {
  lg_run_opts_t ro;
  lg_result_t res;
  lg_report_t *rep = &g->reps[t];
  char err[512];
  uint64_t kv_cap;
  int interrupted;

  memset(&ro, 0, sizeof(ro));
  ro.host = g->targets[t].host;
  ro.port = g->targets[t].port;
  ro.connections = g->go.connections;
  ro.max_concurrency = g->go.max_concurrency;
  ro.timeout_s = g->go.timeout_s;
  ro.trace = g->oo.trace_csv != NULL;
  ro.progress = !g->go.quiet && isatty(2);
  ro.label = g->targets[t].label;
  if (lg_run(&ro, &g->w, &res, err, sizeof(err)) != 0) {
    fprintf(stderr, "loadgen: %s\n", err);
    g->status = 2;
    return -1;
  }
  if (res.bad_peer) /* the run ended there; its summary still prints */
    fprintf(stderr, "loadgen: %s\n", err);
  kv_cap = res.welcome ? res.welcome->welcome->config->kv_capacity_tokens : 0;
  if (!g->go.quiet)
    print_server(g, t, &res, kv_cap);
  lg_outcomes(&res, g->oc, g->names);
  if (mlfq_summary_compute(&rep->sum, g->oc, g->w.n) != 0) {
    lg_result_free(&res);
    g->status = 1;
    return -1;
  }
  rep->sum.kv_capacity = kv_cap;
  rep->sum.kv_peak = res.kv_peak;
  g->sums[t] = rep->sum;
  lg_model_error(&res, rep);
  lg_send_error(&res, rep);
  lg_late(&res, rep);
  lg_count_failures(rep, g->oc, g->w.n);
  if (rep->sum.failed > 0 || res.lost || res.interrupted || res.bad_peer)
    g->status = 1;
  if (write_files(g, t, &res, kv_cap) != 0)
    g->status = 1;
  cJSON_AddItemToArray(g->runs, run_json(g, t, &res));
  g->nruns = t + 1;
  interrupted = res.interrupted; /* SIGINT ends the whole comparison */
  lg_result_free(&res);
  return interrupted;
}

/* The table of every run, then each run's failures, model error, whether
 * the server fell behind the model, and send time error. */
static void print_reports(const lg_t *g) {
  const lg_report_t *rep;
  const cJSON *fail;
  size_t t;

  printf("\n");
  mlfq_report_table(stdout, g->labels, g->sums, g->nruns);
  printf("\n");
  for (t = 0; t < g->nruns; t++) {
    rep = &g->reps[t];
    if (rep->sum.failed > 0) {
      printf("%s: %zu failed:", g->labels[t], rep->sum.failed);
      cJSON_ArrayForEach(fail, rep->failures) {
        printf(" %s %.0f", fail->string, fail->valuedouble);
      }
      printf("\n");
    }
    if (rep->model_ok)
      printf("%s: model error: mean JCT %+.3f%%, per job |JCT - model| mean "
             "%.3f ms, p95 %.3f ms, %.1f%% within 0.5 ms\n",
             g->labels[t], rep->err_mean_pct, rep->diff_mean_ms,
             rep->diff_p95_ms, rep->within_half_ms * 100);
    else if (rep->replicas > 1)
      printf("%s: model error: not computed: the server is a router over %u "
             "replicas, and the model replays one scheduler\n",
             g->labels[t], rep->replicas);
    else if (rep->model_why[0] != '\0')
      printf("%s: model error: not computed: %s\n", g->labels[t],
             rep->model_why);
    if (rep->late > 0)
      printf("%s: WARNING: the server fell behind the model for %zu of %zu "
             "requests (at worst %.3f ms late): their wall-clock times are "
             "not the model's\n",
             g->labels[t], rep->late, g->w.n, (double)rep->late_max_ns / 1e6);
    if (!g->go.quiet)
      printf("%s: send time error p50 %.1f us, p99 %.1f us, max %.1f us\n",
             g->labels[t], (double)rep->send_p50 / 1e3,
             (double)rep->send_p99 / 1e3, (double)rep->send_max / 1e3);
  }
}

/* Runs the workload against every server, one after another, and reports
 * them. Returns the exit status. */
static int compare(lg_t *g) {
  size_t t;
  int rc;

  g->oc = calloc(g->w.n, sizeof(*g->oc));
  g->names = calloc(g->w.n, sizeof(*g->names));
  g->doc = mlfq_compare_doc("loadgen", g->w.n, NULL, g->lo.seed, &g->runs);
  if (g->oc == NULL || g->names == NULL || g->doc == NULL) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 1;
  }
  mlfq_endings_json(g->doc, &g->w, g->lo.max_tokens);
  if (!g->go.quiet)
    printf("loadgen %s: %zu requests%s%s, %u connection%s per server\n",
           MLFQ_VERSION, g->w.n, g->lo.workload ? " from " : "",
           g->lo.workload ? g->lo.workload : "", g->go.connections,
           g->go.connections == 1 ? "" : "s");
  if (!g->go.quiet && g->lo.max_tokens > 0)
    printf("max_tokens %u: %zu requests end on their own (stop), %zu at "
           "max_tokens (length)\n",
           g->lo.max_tokens,
           g->w.n - mlfq_endings_at_cap(&g->w, g->lo.max_tokens),
           mlfq_endings_at_cap(&g->w, g->lo.max_tokens));
  for (t = 0; t < g->ntargets; t++) {
    rc = run_target(g, t);
    if (rc < 0)
      return g->status;
    if (rc > 0)
      break;
  }
  print_reports(g);
  if (g->oo.json != NULL && mlfq_report_write_json(g->oo.json, g->doc) != 0) {
    fprintf(stderr, "loadgen: cannot write %s\n", g->oo.json);
    g->status = 1;
  }
  return g->status;
}

int main(int argc, char **argv) {
  static lg_t g;
  char err[512];
  size_t t;
  int status;

  signal(SIGPIPE, SIG_IGN);
  mlfq_load_opts_init(&g.lo);
  g.go.connections = 1;
  status = parse(&g, argc, argv, err, sizeof(err));
  if (status == 2)
    fprintf(stderr, "loadgen: %s\n", err);
  if (status < 0)
    status = compare(&g);
  cJSON_Delete(g.doc);
  for (t = 0; t < MLFQ_CLI_LIST_MAX; t++)
    cJSON_Delete(g.reps[t].failures);
  free(g.oc);
  free(g.names);
  mlfq_workload_free(&g.w);
  fflush(stdout);
  return status;
}
