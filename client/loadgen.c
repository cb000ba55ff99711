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
#include "base/hist.h"
#include "base/units.h"
#include "base/version.h"
#include "load/options.h"
#include "load/report.h"
#include "load/sim.h"
#include "load/summary.h"
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

typedef struct {
  mlfq_summary_t sum;
  double err_mean_pct; /* model error of the mean JCT, % */
  double diff_mean_ms; /* per-job |measured - model| JCT */
  double diff_p95_ms;
  double within_half_ms; /* fraction of jobs within 0.5 ms */
  int model_ok;
  unsigned replicas; /* > 1: a router; the model error is not computed */
  uint64_t send_p50, send_p99, send_max; /* actual - intended, ns */
  double sent_per_s;   /* requests sent per wall second, first to last send */
  cJSON *failures;     /* each failed request's status name and its count */
  char model_why[320]; /* why the model error was not computed, or "" */
} lg_report_t;

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

/* Model ns since the run's time 0 of a uv_hrtime() reading, at most the
 * largest time (a run of hours at a tiny time_scale could pass it). */
static uint64_t model_ns(const lg_result_t *r, uint64_t wall) {
  double m = (double)(wall - r->t0_wall) / r->time_scale;

  return m < 9.2e18 ? (uint64_t)m : MLFQ_TIME_MAX;
}

/* Fills o[0..r->n) from r; a status name that is not a constant (a code
 * this build does not know) goes into names[i]. */
static void outcomes(const lg_result_t *r, mlfq_outcome_t *o,
                     char (*names)[LG_STATUS_NAME_MAX]) {
  size_t i;

  for (i = 0; i < r->n; i++) {
    const lg_req_t *q = &r->reqs[i];
    o[i].arrival_ns =
        model_ns(r, q->sent_wall ? q->sent_wall : q->intended_wall);
    o[i].first_token_ns =
        q->tokens > 0 ? model_ns(r, q->first_wall) : MLFQ_TIME_NONE;
    o[i].finish_ns =
        q->state == LG_DONE ? model_ns(r, q->last_wall) : MLFQ_TIME_NONE;
    o[i].input_len = q->input_len;
    o[i].output_len = q->output_len;
    o[i].preemptions = q->preemptions;
    o[i].swapped_tokens = q->swapped_tokens;
    o[i].replica = q->replica;
    o[i].status = q->state == LG_DONE
                      ? NULL
                      : lg_status_name(q->status, names[i], sizeof(names[i]));
  }
}

/* Counts the failed requests of o[0..n) by status in rep->failures, in
 * the order each status first occurs (on out of memory, some are not
 * counted). */
static void count_failures(lg_report_t *rep, const mlfq_outcome_t *o,
                           size_t n) {
  cJSON *item;
  size_t i;

  rep->failures = cJSON_CreateObject();
  if (rep->failures == NULL)
    return;
  for (i = 0; i < n; i++) {
    if (o[i].status == NULL)
      continue;
    item = cJSON_GetObjectItemCaseSensitive(rep->failures, o[i].status);
    if (item != NULL)
      cJSON_SetNumberValue(item, item->valuedouble + 1);
    else
      cJSON_AddNumberToObject(rep->failures, o[i].status, 1);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Replays the server's recorded arrivals through the scheduler core with
 * its configuration, and compares each job's measured JCT with the
 * model's. Needs every request done. */
static void model_error(const lg_result_t *r, lg_report_t *rep) {
  mlfq_sched_config_t cfg;
  mlfq_sim_result_t sim;
  mlfq_req_t *reqs;
  mlfq_cost_t cost;
  double *diff, measured = 0, model = 0, m, d;
  size_t i, within = 0;
  char err[256];

  if (r->welcome == NULL || rep->sum.failed > 0)
    return;
  if (r->welcome->welcome->replicas > 1) {
    rep->replicas = r->welcome->welcome->replicas;
    return;
  }
  if (mlfq_wire_config_parse(r->welcome->welcome->config, &cfg, &cost, NULL,
                             err, sizeof(err)) != 0) {
    snprintf(rep->model_why, sizeof(rep->model_why),
             "this loadgen cannot replay the server's configuration: %s", err);
    return;
  }
  reqs = calloc(r->n, sizeof(*reqs));
  diff = calloc(r->n, sizeof(*diff));
  if (reqs != NULL && diff != NULL) {
    for (i = 0; i < r->n; i++) {
      reqs[i].arrival_ns = r->reqs[i].srv_arrival_ns;
      reqs[i].input_len = r->reqs[i].input_len;
      reqs[i].output_len = r->reqs[i].output_len;
    }
    if (mlfq_sim_run(&cfg, &cost, reqs, r->n, NULL, &sim, err, sizeof(err)) ==
        0) {
      for (i = 0; i < r->n; i++) {
        m = (double)(sim.jobs[i].finish_ns - sim.jobs[i].arrival_ns) / 1e6;
        d = lg_model_ms(r, r->reqs[i].sent_wall, r->reqs[i].last_wall);
        measured += d;
        model += m;
        diff[i] = fabs(d - m);
        within += diff[i] <= 0.5;
        rep->diff_mean_ms += diff[i];
      }
      qsort(diff, r->n, sizeof(*diff), cmp_double);
      rep->diff_mean_ms /= (double)r->n;
      rep->diff_p95_ms = mlfq_percentile(diff, r->n, 95);
      rep->err_mean_pct = model > 0 ? (measured - model) / model * 100 : 0;
      rep->within_half_ms = (double)within / (double)r->n;
      rep->model_ok = 1;
      mlfq_sim_result_free(&sim);
    } else {
      snprintf(rep->model_why, sizeof(rep->model_why),
               "this loadgen cannot replay the server's configuration: %s",
               err);
    }
  }
  free(reqs);
  free(diff);
  mlfq_cost_free(&cost);
}

static void send_error(const lg_result_t *r, lg_report_t *rep) {
  mlfq_hist_t *h = malloc(sizeof(*h));
  uint64_t first, last;
  size_t i;

  if (h == NULL)
    return;
  mlfq_hist_init(h);
  for (i = 0; i < r->n; i++)
    if (r->reqs[i].sent_wall != 0)
      mlfq_hist_add(h, r->reqs[i].sent_wall > r->reqs[i].intended_wall
                           ? r->reqs[i].sent_wall - r->reqs[i].intended_wall
                           : 0);
  first = UINT64_MAX;
  last = 0;
  for (i = 0; i < r->n; i++) {
    if (r->reqs[i].sent_wall == 0)
      continue;
    if (r->reqs[i].sent_wall < first)
      first = r->reqs[i].sent_wall;
    if (r->reqs[i].sent_wall > last)
      last = r->reqs[i].sent_wall;
  }
  if (h->n > 1 && last > first)
    rep->sent_per_s = (double)(h->n - 1) / ((double)(last - first) / 1e9);
  rep->send_p50 = mlfq_hist_percentile(h, 50);
  rep->send_p99 = mlfq_hist_percentile(h, 99);
  rep->send_max = h->n ? h->max : 0;
  free(h);
}

/* The trace is a k-way merge of the requests' token times (each request's
 * are in order): a min-heap holds each request's next token, so writing it
 * needs memory for one entry per request, not one per token. */
typedef struct {
  uint64_t t;
  uint32_t job;
  uint32_t k; /* index of the token in the request */
} head_t;

static int head_before(const head_t *a, const head_t *b) {
  if (a->t != b->t)
    return a->t < b->t;
  return a->job < b->job;
}

static void sift_down(head_t *h, size_t n, size_t i) {
  head_t x = h[i];
  size_t c;

  for (;;) {
    c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && head_before(&h[c + 1], &h[c]))
      c++;
    if (!head_before(&h[c], &x))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static int write_trace(const char *path, const lg_result_t *r) {
  head_t *h = malloc((r->n ? r->n : 1) * sizeof(*h));
  const lg_req_t *q;
  size_t n = 0, i;
  FILE *f = fopen(path, "w");

  if (h == NULL || f == NULL) {
    free(h);
    if (f != NULL)
      fclose(f);
    fprintf(stderr, "loadgen: cannot write %s\n", path);
    return 1;
  }
  for (i = 0; i < r->n; i++) {
    q = &r->reqs[i];
    if (q->tok_wall != NULL && q->tokens > 0) {
      h[n].t = model_ns(r, q->tok_wall[0]);
      h[n].job = (uint32_t)i;
      h[n].k = 0;
      n++;
    }
  }
  for (i = n; i-- > 0;)
    sift_down(h, n, i);
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  mlfq_report_trace_header(f);
  while (n > 0) {
    q = &r->reqs[h[0].job];
    mlfq_report_trace_line(f, h[0].t, h[0].job, h[0].k + 1);
    if (++h[0].k < q->tokens && h[0].k < q->output_len)
      h[0].t = model_ns(r, q->tok_wall[h[0].k]);
    else
      h[0] = h[--n];
    sift_down(h, n, 0);
  }
  free(h);
  if (ferror(f) | fclose(f)) {
    fprintf(stderr, "loadgen: error writing %s\n", path);
    return 1;
  }
  return 0;
}

static const char *out_name(const char *path, const char *label, int many,
                            char *buf, size_t len) {
  if (!many)
    return path;
  return mlfq_report_label_path(path, label, buf, len);
}

int main(int argc, char **argv) {
  mlfq_load_opts_t lo;
  mlfq_output_opts_t oo;
  lg_opts_t go;
  mlfq_cli_group_t groups[3];
  target_t targets[MLFQ_CLI_LIST_MAX];
  lg_report_t reps[MLFQ_CLI_LIST_MAX];
  const char *labels[MLFQ_CLI_LIST_MAX];
  mlfq_summary_t sums[MLFQ_CLI_LIST_MAX];
  mlfq_workload_t w;
  mlfq_outcome_t *oc = NULL;
  char(*names)[LG_STATUS_NAME_MAX] = NULL;
  cJSON *doc = NULL, *runs;
  char err[512], name[4096];
  size_t ntargets, nruns = 0, t;
  int rc, status = 0;

  signal(SIGPIPE, SIG_IGN);
  mlfq_load_opts_init(&lo);
  memset(&oo, 0, sizeof(oo));
  memset(&go, 0, sizeof(go));
  memset(&w, 0, sizeof(w));
  memset(reps, 0, sizeof(reps));
  go.connections = 1;
  groups[0] = (mlfq_cli_group_t){"Servers and load", lg_options, &go};
  groups[1] = (mlfq_cli_group_t){"Workload", mlfq_load_options, &lo};
  groups[2] = (mlfq_cli_group_t){"Output", mlfq_output_options, &oo};
  rc = mlfq_cli_parse(argc, argv, groups, 3, NULL, 0, NULL, err, sizeof(err));
  if (rc == MLFQ_CLI_HELP) {
    fputs(usage, stdout);
    mlfq_cli_help(stdout, groups, 3);
    fputs(footer, stdout);
    return 0;
  }
  if (rc == MLFQ_CLI_VERSION) {
    printf("loadgen %s (protocol %d)\n", MLFQ_VERSION, MLFQ_PROTOCOL_VERSION);
    return 0;
  }
  if (rc < 0)
    goto bad;
  if (go.servers.n == 0)
    go.servers.v[go.servers.n++] = "127.0.0.1:7070";
  ntargets = go.servers.n;
  for (t = 0; t < ntargets; t++) {
    if (parse_target(go.servers.v[t], &targets[t], err, sizeof(err)))
      goto bad;
    labels[t] = targets[t].label;
  }
  if (go.duration_s > 0) {
    if (lo.rate == 0 || isinf(lo.rate)) {
      snprintf(err, sizeof(err), "--duration needs a finite --rate");
      goto bad;
    }
    if (lo.num_requests == 0) /* enough to fill the duration, then cut */
      lo.num_requests = (size_t)(lo.rate * go.duration_s * 1.5) + 100;
  }
  rc = mlfq_load_opts_make(&lo, &w, err, sizeof(err));
  if (rc)
    goto bad;
  if (go.duration_s > 0) {
    uint64_t end = (uint64_t)(go.duration_s * 1e9);
    while (w.n > 0 && w.reqs[w.n - 1].arrival_ns >= end)
      w.n--;
    if (w.n == 0) {
      snprintf(err, sizeof(err), "--duration: no request arrives in %g s",
               go.duration_s);
      goto bad;
    }
  }

  oc = calloc(w.n, sizeof(*oc));
  names = calloc(w.n, sizeof(*names));
  doc = cJSON_CreateObject();
  if (oc == NULL || names == NULL || doc == NULL) {
    fprintf(stderr, "loadgen: out of memory\n");
    status = 1;
    goto done;
  }
  cJSON_AddStringToObject(doc, "tool", "loadgen");
  cJSON_AddStringToObject(doc, "version", MLFQ_VERSION);
  cJSON_AddNumberToObject(doc, "requests", (double)w.n);
  cJSON_AddNumberToObject(doc, "seed", (double)lo.seed);
  runs = cJSON_AddArrayToObject(doc, "runs");
  if (!go.quiet)
    printf("loadgen %s: %zu requests%s%s, %u connection%s per server\n",
           MLFQ_VERSION, w.n, lo.workload ? " from " : "",
           lo.workload ? lo.workload : "", go.connections,
           go.connections == 1 ? "" : "s");

  for (t = 0; t < ntargets; t++) {
    lg_run_opts_t ro;
    lg_result_t res;
    lg_report_t *rep = &reps[t];
    cJSON *run;
    mlfq_sched_config_t cfg;
    mlfq_cost_t cost;
    mlfq_sched_params_t params;
    uint64_t kv_cap;

    memset(&ro, 0, sizeof(ro));
    ro.host = targets[t].host;
    ro.port = targets[t].port;
    ro.connections = go.connections;
    ro.max_concurrency = go.max_concurrency;
    ro.timeout_s = go.timeout_s;
    ro.trace = oo.trace_csv != NULL;
    ro.progress = !go.quiet && isatty(2);
    ro.label = targets[t].label;
    rc = lg_run(&ro, &w, &res, err, sizeof(err));
    if (rc) {
      fprintf(stderr, "loadgen: %s\n", err);
      status = 2;
      goto done;
    }
    if (res.bad_peer) /* the run ended there; its summary still prints */
      fprintf(stderr, "loadgen: %s\n", err);
    kv_cap = res.welcome ? res.welcome->welcome->config->kv_capacity_tokens : 0;
    if (!go.quiet) {
      Mlfq__Config *c = res.welcome ? res.welcome->welcome->config : NULL;
      printf("%s: %s, policy %s, max_batch %u, workers %u, time_scale %g",
             targets[t].label,
             res.welcome ? res.welcome->welcome->server_id : "?",
             c ? c->policy : "?", c ? c->max_batch : 0, c ? c->workers : 0,
             res.time_scale);
      if (kv_cap > 0)
        printf(", KV cache %llu tokens (on full: %s)",
               (unsigned long long)kv_cap, c->on_full);
      printf("\n");
    }
    outcomes(&res, oc, names);
    if (mlfq_summary_compute(&rep->sum, oc, w.n) != 0) {
      lg_result_free(&res);
      status = 1;
      goto done;
    }
    rep->sum.kv_capacity = kv_cap;
    rep->sum.kv_peak = res.kv_peak;
    sums[t] = rep->sum;
    model_error(&res, rep);
    send_error(&res, rep);
    count_failures(rep, oc, w.n);
    if (rep->sum.failed > 0 || res.lost || res.interrupted || res.bad_peer)
      status = 1;
    if (oo.jobs_csv != NULL) {
      const char *p = out_name(oo.jobs_csv, targets[t].label, ntargets > 1,
                               name, sizeof(name));
      FILE *f = p ? fopen(p, "w") : NULL;
      if (f == NULL ||
          mlfq_report_jobs_csv(
              f, oc, w.n,
              MLFQ_REPORT_STATUS | (kv_cap ? MLFQ_REPORT_KV : 0) |
                  (res.welcome && res.welcome->welcome->replicas > 0
                       ? MLFQ_REPORT_REPLICA
                       : 0)) != 0 ||
          fclose(f) != 0) {
        fprintf(stderr, "loadgen: cannot write %s\n", p ? p : oo.jobs_csv);
        status = 1;
      }
    }
    if (oo.trace_csv != NULL) {
      const char *p = out_name(oo.trace_csv, targets[t].label, ntargets > 1,
                               name, sizeof(name));
      if (p == NULL || write_trace(p, &res) != 0)
        status = 1;
    }
    run = cJSON_CreateObject();
    cJSON_AddStringToObject(run, "label", targets[t].label);
    cJSON_AddStringToObject(run, "server", go.servers.v[t]);
    if (res.welcome != NULL &&
        mlfq_wire_config_parse(res.welcome->welcome->config, &cfg, &cost, NULL,
                               err, sizeof(err)) == 0) {
      if (mlfq_sched_resolve(&params, &cfg, &cost, err, sizeof(err)) == 0)
        cJSON_AddItemToObject(run, "config",
                              mlfq_report_config_json(&cfg, &params, &cost));
      cJSON_AddNumberToObject(run, "time_scale", res.time_scale);
      mlfq_cost_free(&cost);
    }
    cJSON_AddItemToObject(run, "summary", mlfq_report_summary_json(&rep->sum));
    if (res.welcome != NULL && res.welcome->welcome->replicas > 0)
      cJSON_AddNumberToObject(run, "replicas", res.welcome->welcome->replicas);
    if (rep->failures != NULL)
      cJSON_AddItemReferenceToObject(run, "failures", rep->failures);
    if (rep->model_ok) {
      cJSON *me = cJSON_AddObjectToObject(run, "model_error");
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
    cJSON_AddItemToArray(runs, run);
    nruns = t + 1;
    if (res.interrupted) { /* SIGINT ends the whole comparison */
      lg_result_free(&res);
      break;
    }
    lg_result_free(&res);
  }

  printf("\n");
  mlfq_report_table(stdout, labels, sums, nruns);
  printf("\n");
  for (t = 0; t < nruns; t++) {
    lg_report_t *rep = &reps[t];
    const cJSON *fail;

    if (rep->sum.failed > 0) {
      printf("%s: %zu failed:", labels[t], rep->sum.failed);
      cJSON_ArrayForEach(fail, rep->failures) {
        printf(" %s %.0f", fail->string, fail->valuedouble);
      }
      printf("\n");
    }
    if (rep->model_ok)
      printf("%s: model error: mean JCT %+.3f%%, per job |JCT - model| mean "
             "%.3f ms, p95 %.3f ms, %.1f%% within 0.5 ms\n",
             labels[t], rep->err_mean_pct, rep->diff_mean_ms, rep->diff_p95_ms,
             rep->within_half_ms * 100);
    else if (rep->replicas > 1)
      printf("%s: model error: not computed: the server is a router over %u "
             "replicas, and the model replays one scheduler\n",
             labels[t], rep->replicas);
    else if (rep->model_why[0] != '\0')
      printf("%s: model error: not computed: %s\n", labels[t], rep->model_why);
    if (!go.quiet)
      printf("%s: send time error p50 %.1f us, p99 %.1f us, max %.1f us\n",
             labels[t], (double)rep->send_p50 / 1e3,
             (double)rep->send_p99 / 1e3, (double)rep->send_max / 1e3);
  }
  if (oo.json != NULL && mlfq_report_write_json(oo.json, doc) != 0) {
    fprintf(stderr, "loadgen: cannot write %s\n", oo.json);
    status = 1;
  }
  goto done;

bad:
  fprintf(stderr, "loadgen: %s\n", err);
  status = 2;
done:
  cJSON_Delete(doc);
  for (t = 0; t < MLFQ_CLI_LIST_MAX; t++)
    cJSON_Delete(reps[t].failures);
  free(oc);
  free(names);
  mlfq_workload_free(&w);
  fflush(stdout);
  return status;
}
