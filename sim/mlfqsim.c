/* mlfqsim: runs the scheduler core in virtual time over a workload and
 * reports what users would feel (docs/MLFQSIM.md, "Output files"). Several
 * policies run on the very same workload and print side by side. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/units.h"
#include "base/version.h"
#include "core/balance.h"
#include "core/policy.h"
#include "load/compare.h"
#include "load/endings.h"
#include "load/options.h"
#include "load/report.h"
#include "load/sim.h"
#include "load/summary.h"

#define MAX_RUNS 16

static const char usage[] =
    "Usage: mlfqsim [OPTIONS]\n"
    "\n"
    "Simulates an LLM serving engine's scheduler in virtual time: the same\n"
    "scheduler code as mlfqd, with no clock and no network. Prints, for each\n"
    "policy, requests, makespan, throughput and the mean and percentiles of\n"
    "JCT, TTFT and TPOT. Times are model milliseconds. --policy also takes\n"
    "'all' or a comma-separated list: those policies run on the identical\n"
    "workload and print side by side.\n";

static const char examples[] =
    "\nExamples:\n"
    "  mlfqsim --workload data/figure6.csv --policy all \\\n"
    "          --prefill-ms-per-token 1 --decode-ms 1 --quantum-ms 1\n"
    "  mlfqsim --workload data/appendix_b.csv --rate 20 --policy fcfs,mlfq\n"
    "  mlfqsim --workload data/appendix_b.csv --rate 20 --max-batch 8 \\\n"
    "          --kv-capacity-tokens 4096 --on-full recompute\n"
    "  mlfqsim --workload data/appendix_b.csv --rate 80 --replicas 4 \\\n"
    "          --route least-tokens --policy fcfs,mlfq\n"
    "\nExit status: 0 on success, 1 if an output file cannot be written,\n"
    "2 for bad options or input.\n";

/* The shared output options plus mlfqsim's own; the shared struct comes
 * first so the shared table's offsets hold for it. */
typedef struct {
  mlfq_output_opts_t common;
  const char *iterations_csv;
} sim_output_opts_t;

/* Replicas behind a router (mlfqsim only). */
typedef struct {
  unsigned replicas;
  mlfq_balance_policy_t route;
  uint64_t route_seed;
} sim_cluster_opts_t;

static int set_route(const mlfq_cli_opt_t *o, void *field, const char *val,
                     char *err, size_t errlen) {
  (void)o;
  if (mlfq_balance_parse(val, field) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "'%s' is not round-robin, random, least-requests, "
                     "least-tokens or power-of-two",
                     val);
  return 0;
}

static const mlfq_cli_opt_t cluster_options[] = {
    {"replicas", "N",
     "replicas, each with the scheduler and engines above, behind a router "
     "(default 1)",
     mlfq_cli_set_uint, offsetof(sim_cluster_opts_t, replicas), 0, 1,
     MLFQ_SIM_MAX_REPLICAS},
    {"route", "POLICY",
     "how the router spreads requests over replicas: round-robin, random, "
     "least-requests, least-tokens or power-of-two (default round-robin; "
     "docs/ROUTER.md)",
     set_route, offsetof(sim_cluster_opts_t, route), 0, 0, 0},
    {"route-seed", "N",
     "seed of the random routing policies (default 1, as mlfq-router's)",
     mlfq_cli_set_u64, offsetof(sim_cluster_opts_t, route_seed), 0, 0,
     1.8446744073709552e19},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

#define MAX_OUTPUT_OPTS 16
static mlfq_cli_opt_t output_options[MAX_OUTPUT_OPTS];

/* The Output group: the shared output options, then mlfqsim's. */
static const mlfq_cli_opt_t sim_output_extra[] = {
    {"iterations-csv", "FILE",
     "write one CSV line per iteration (engine,start_ms,end_ms,batch)",
     mlfq_cli_set_str, offsetof(sim_output_opts_t, iterations_csv), 0, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static void build_output_options(void) {
  size_t n = 0, i;

  for (i = 0; mlfq_output_options[i].name != NULL && n + 1 < MAX_OUTPUT_OPTS;
       i++)
    output_options[n++] = mlfq_output_options[i];
  for (i = 0; sim_output_extra[i].name != NULL && n + 1 < MAX_OUTPUT_OPTS; i++)
    output_options[n++] = sim_output_extra[i];
  memset(&output_options[n], 0, sizeof(output_options[n]));
}

typedef struct {
  FILE *trace;
  FILE *iters;
  char iname[4096];
} run_ctx_t;

static void on_token(void *ud, size_t id, uint32_t token, uint64_t t_ns) {
  run_ctx_t *c = ud;
  if (c->trace != NULL)
    mlfq_report_trace_line(c->trace, t_ns, id, token);
}

/* One line per iteration: the tokens it produces, "J<id+1>T<token>". */
static void on_iteration(void *ud, unsigned e, uint64_t start_ns,
                         uint64_t dur_ns, mlfq_job_t *const *batch,
                         unsigned n) {
  run_ctx_t *c = ud;
  char a[MLFQ_MS_BUFSIZE], b[MLFQ_MS_BUFSIZE];
  unsigned i;

  mlfq_ms_format(start_ns, a);
  mlfq_ms_format(start_ns + dur_ns, b);
  fprintf(c->iters, "%u,%s,%s,", e, a, b);
  for (i = 0; i < n; i++)
    fprintf(c->iters, "%sJ%lluT%lu", i ? " " : "",
            (unsigned long long)batch[i]->id + 1,
            (unsigned long)batch[i]->tokens + 1);
  fputc('\n', c->iters);
}

/* The end of --help: the policies, then the examples. */
static void help_footer(char *buf, size_t len) {
  const mlfq_policy_t *const *all = mlfq_policy_all();
  size_t n, i;

  n = (size_t)snprintf(buf, len, "\nPolicies:\n");
  for (i = 0; all[i] != NULL && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "  %-12s%s\n", all[i]->name,
                          all[i]->summary);
  if (n < len)
    snprintf(buf + n, len - n, "%s", examples);
}

static int split_policies(char *list, const char **names, size_t *n, char *err,
                          size_t errlen) {
  const mlfq_policy_t *const *all = mlfq_policy_all();
  char known[MLFQ_POLICY_NAMES_BUFSIZE], *tok, *save = NULL;
  size_t i;

  *n = 0;
  if (strcmp(list, "all") == 0) {
    for (i = 0; all[i] != NULL; i++)
      names[(*n)++] = all[i]->name;
    return 0;
  }
  for (tok = strtok_r(list, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (mlfq_policy_find(tok) == NULL)
      return mlfq_fail(err, errlen, MLFQ_EINVAL, "--policy: unknown '%s' (%s)",
                       tok, mlfq_policy_names(known, sizeof(known), "all"));
    if (*n == MAX_RUNS)
      return mlfq_fail(err, errlen, MLFQ_EINVAL, "--policy: too many");
    names[(*n)++] = tok;
  }
  if (*n == 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "--policy: empty list");
  return 0;
}

/* Opens run label's output file path, its name in name[0..len). NULL
 * after saying why on stderr. */
static FILE *open_out(const char *path, const char *label, int labelled,
                      char *name, size_t len) {
  const char *p = mlfq_compare_path(path, label, labelled, name, len);
  FILE *f;

  if (p == NULL) {
    fprintf(stderr, "mlfqsim: %s: name too long\n", path);
    return NULL;
  }
  if (p != name)
    snprintf(name, len, "%s", p);
  f = fopen(name, "w");
  if (f == NULL)
    fprintf(stderr, "mlfqsim: cannot write %s: %s\n", name, strerror(errno));
  return f;
}

static int close_out(FILE *f, const char *name) {
  if (ferror(f) | fclose(f)) {
    fprintf(stderr, "mlfqsim: error writing %s\n", name);
    return 1;
  }
  return 0;
}

/* The options that set the cost model's times, as given ("--decode-ms
 * 1e+12 ..."), for the message of a simulation that overflows. */
static void cost_options(const mlfq_model_opts_t *mo, char *buf, size_t len) {
  int n;

  if (mo->linear)
    n = snprintf(buf, len,
                 "--prefill-base-ms %g --prefill-ms-per-token %g "
                 "--decode-ms %g",
                 mo->prefill_base_ms, mo->prefill_ms_per_token, mo->decode_ms);
  else if (mo->profile != NULL)
    n = snprintf(buf, len, "--profile %s", mo->profile);
  else
    n = snprintf(buf, len, "the built-in profile");
  if (n < 0 || (size_t)n >= len)
    return;
  if (mo->batch_decode_ms_per_seq > 0)
    n += snprintf(buf + n, len - (size_t)n, " --batch-decode-ms-per-seq %g",
                  mo->batch_decode_ms_per_seq);
  if (n >= 0 && (size_t)n < len && mo->sched.swap_ms_per_token > 0 &&
      mo->sched.on_full == MLFQ_ON_FULL_SWAP)
    snprintf(buf + n, len - (size_t)n, " --swap-ms-per-token %g",
             mo->sched.swap_ms_per_token);
}

static void describe(const mlfq_load_opts_t *lo, const mlfq_workload_t *w,
                     const mlfq_cost_t *cost, const mlfq_sched_params_t *p,
                     const sim_cluster_opts_t *co, const char **names,
                     size_t nruns) {
  char buf[MLFQ_MS_BUFSIZE];
  unsigned i;
  size_t r, n;

  printf("mlfqsim %s: %zu requests", MLFQ_VERSION, w->n);
  if (lo->workload != NULL)
    printf(" from %s", lo->workload);
  if (w->has_arrivals && !lo->rate_given)
    printf(", arrivals from the file\n");
  else if (lo->rate == 0 || isinf(lo->rate))
    printf(", all arriving at time 0\n");
  else
    printf(", %s arrivals at %g/s (seed %llu)\n", lo->dist, lo->rate,
           (unsigned long long)lo->seed);
  if (lo->max_tokens > 0) {
    n = mlfq_endings_at_cap(w, lo->max_tokens);
    printf("max_tokens %u: %zu requests end on their own (stop), %zu at "
           "max_tokens (length)\n",
           lo->max_tokens, w->n - n, n);
  }
  printf("cost model: %s", cost->kind == MLFQ_COST_PROFILE ? "profile " : "");
  if (cost->kind == MLFQ_COST_PROFILE)
    printf("%s", cost->source);
  else
    printf("linear, prefill %g + %g ms/token, decode %g ms",
           cost->prefill_base_ms, cost->prefill_ms_per_token, cost->decode_ms);
  printf("; max_batch %u, workers %u, preempt %s\n", p->max_batch, p->workers,
         p->preempt == MLFQ_PREEMPT_QUANTUM ? "quantum" : "iteration");
  if (p->kv_capacity > 0) {
    printf("KV cache: %llu tokens, on full: %s",
           (unsigned long long)p->kv_capacity, mlfq_on_full_name(p->on_full));
    if (p->on_full == MLFQ_ON_FULL_SWAP) {
      mlfq_ms_format(p->swap_ns_per_token, buf);
      printf(", %s ms per token moved", buf);
    }
    printf("\n");
  }
  if (co->replicas > 1) {
    printf("replicas: %u, route %s", co->replicas,
           mlfq_balance_name(co->route));
    if (co->route == MLFQ_BALANCE_RANDOM ||
        co->route == MLFQ_BALANCE_POWER_OF_TWO)
      printf(" (seed %llu)", (unsigned long long)co->route_seed);
    printf("\n");
  }
  for (r = 0; r < nruns; r++)
    if (strstr(names[r], "mlfq") != NULL)
      break;
  if (r < nruns) {
    printf("mlfq levels: %u, quanta (ms):", p->queues);
    for (i = 0; i < p->queues; i++) {
      mlfq_ms_format(p->quantum_ns[i], buf);
      printf(" %s", buf);
    }
    if (p->starve_ns > 0) {
      mlfq_ms_format(p->starve_ns, buf);
      printf("; starvation limit %s ms", buf);
    }
    printf("\n");
  }
  printf("\n");
}

/* One mlfqsim invocation: its options, the workload and cost model they
 * make, and each policy's run. */
typedef struct {
  mlfq_model_opts_t mo;
  mlfq_load_opts_t lo;
  sim_output_opts_t soo;
  sim_cluster_opts_t co;
  const char *names[MAX_RUNS];
  size_t nruns;
  mlfq_summary_t sums[MAX_RUNS];
  mlfq_sched_params_t params;
  mlfq_workload_t w;
  mlfq_cost_t cost;
  mlfq_outcome_t *oc; /* one run's, reused */
  cJSON *doc, *runs;
  char policies[256];
} sim_t;

/* Parses the command line into s and makes the workload and the cost
 * model. Returns -1 to go on, 0 after --help or --version, or 2 with err
 * set. */
static int parse(sim_t *s, int argc, char **argv, char *err, size_t errlen) {
  mlfq_cli_group_t groups[4];
  char footer[4096] = "", version[64];
  int rc;

  groups[0] = (mlfq_cli_group_t){"Scheduler and cost model", mlfq_model_options,
                                 &s->mo};
  groups[1] = (mlfq_cli_group_t){"Workload", mlfq_load_options, &s->lo};
  groups[2] = (mlfq_cli_group_t){"Replicas", cluster_options, &s->co};
  groups[3] = (mlfq_cli_group_t){"Output", output_options, &s->soo};
  rc = mlfq_cli_parse(argc, argv, groups, 4, NULL, 0, NULL, err, errlen);
  if (rc == MLFQ_CLI_HELP)
    help_footer(footer, sizeof(footer));
  snprintf(version, sizeof(version), "mlfqsim %s", MLFQ_VERSION);
  if (mlfq_cli_info(rc, usage, groups, 4, footer, version))
    return 0;
  if (rc < 0)
    return 2;
  snprintf(s->policies, sizeof(s->policies), "%s", s->mo.sched.policy);
  rc = split_policies(s->policies, s->names, &s->nruns, err, errlen);
  if (rc == 0)
    rc = mlfq_model_opts_cost(&s->mo, &s->cost, err, errlen);
  if (rc == 0)
    rc = mlfq_sched_resolve(&s->params, &s->mo.sched, &s->cost, err, errlen);
  if (rc == 0)
    rc = mlfq_load_opts_make(&s->lo, &s->w, err, errlen);
  if (rc == 0)
    rc = mlfq_sim_check(&s->mo.sched, s->w.reqs, s->w.n, err, errlen);
  return rc ? 2 : -1;
}

/* Opens run r's --trace-csv and --iterations-csv and sets the hooks that
 * write them. Returns 0, or 1 (nothing left open). */
static int open_run_files(const sim_t *s, size_t r, run_ctx_t *ctx,
                          mlfq_sim_hooks_t *hooks, char *tname, size_t len) {
  int labelled = s->nruns > 1;

  if (s->soo.common.trace_csv != NULL) {
    ctx->trace =
        open_out(s->soo.common.trace_csv, s->names[r], labelled, tname, len);
    if (ctx->trace == NULL)
      return 1;
    setvbuf(ctx->trace, NULL, _IOFBF, 1 << 20);
    mlfq_report_trace_header(ctx->trace);
    hooks->on_token = on_token;
    hooks->ud = ctx;
  }
  if (s->soo.iterations_csv != NULL) {
    ctx->iters = open_out(s->soo.iterations_csv, s->names[r], labelled,
                          ctx->iname, sizeof(ctx->iname));
    if (ctx->iters == NULL) {
      if (ctx->trace != NULL)
        fclose(ctx->trace);
      return 1;
    }
    fputs("engine,start_ms,end_ms,batch\n", ctx->iters);
    hooks->on_iteration = on_iteration;
    hooks->ud = ctx;
  }
  return 0;
}

/* Run r's outcomes into s->oc and its summary; its --jobs-csv. Returns 0,
 * or 1 (out of memory, or the file could not be written: *fatal says
 * which). */
static int record_run(sim_t *s, size_t r, const mlfq_sim_result_t *res,
                      int *fatal) {
  const mlfq_workload_t *w = &s->w;
  int replicas = s->co.replicas > 1, labelled = s->nruns > 1;
  char fname[4096];
  FILE *f;
  size_t i;

  for (i = 0; i < w->n; i++) {
    s->oc[i].arrival_ns = res->jobs[i].arrival_ns;
    s->oc[i].first_token_ns = res->jobs[i].first_token_ns;
    s->oc[i].finish_ns = res->jobs[i].finish_ns;
    s->oc[i].input_len = res->jobs[i].input_len;
    s->oc[i].output_len = res->jobs[i].output_len;
    s->oc[i].preemptions = res->jobs[i].preemptions;
    s->oc[i].swapped_tokens = res->jobs[i].swapped_tokens;
    s->oc[i].replica = replicas ? res->replica[i] + 1 : 0;
    s->oc[i].status = NULL;
  }
  *fatal = mlfq_summary_compute(&s->sums[r], s->oc, w->n) != 0;
  if (*fatal) {
    fprintf(stderr, "mlfqsim: out of memory\n");
    return 1;
  }
  s->sums[r].kv_capacity = s->params.kv_capacity;
  s->sums[r].kv_peak = res->stats.kv_peak;
  if (s->soo.common.jobs_csv == NULL)
    return 0;
  f = open_out(s->soo.common.jobs_csv, s->names[r], labelled, fname,
               sizeof(fname));
  if (f == NULL ||
      mlfq_report_jobs_csv(f, s->oc, w->n,
                           (s->params.kv_capacity ? MLFQ_REPORT_KV : 0) |
                               (replicas ? MLFQ_REPORT_REPLICA : 0)) != 0 ||
      close_out(f, fname))
    return 1;
  return 0;
}

/* Run r's entry of the JSON document's "runs". */
static cJSON *run_json(const sim_t *s, size_t r, const mlfq_sched_config_t *cfg,
                       const mlfq_sim_result_t *res) {
  const sim_cluster_opts_t *co = &s->co;
  cJSON *run = cJSON_CreateObject();

  cJSON_AddStringToObject(run, "label", s->names[r]);
  cJSON_AddItemToObject(run, "config",
                        mlfq_report_config_json(cfg, &s->params, &s->cost));
  cJSON_AddItemToObject(run, "summary", mlfq_report_summary_json(&s->sums[r]));
  cJSON_AddNumberToObject(run, "iterations", (double)res->stats.iterations);
  cJSON_AddNumberToObject(run, "demotions", (double)res->stats.demotions);
  cJSON_AddNumberToObject(run, "promotions", (double)res->stats.promotions);
  if (co->replicas > 1) {
    cJSON_AddNumberToObject(run, "replicas", co->replicas);
    cJSON_AddStringToObject(run, "route", mlfq_balance_name(co->route));
    if (co->route == MLFQ_BALANCE_RANDOM ||
        co->route == MLFQ_BALANCE_POWER_OF_TWO)
      cJSON_AddNumberToObject(run, "route_seed", (double)co->route_seed);
  }
  return run;
}

/* Simulates policy r and reports it. Returns -1 to go on (*status may
 * become 1), or the exit status to stop with: 1, or 2 with err set
 * (already said when the model time overflowed: err is ""). */
static int run_policy(sim_t *s, size_t r, int *status, char *err,
                      size_t errlen) {
  const mlfq_sim_cluster_t cluster = {.replicas = s->co.replicas,
                                      .route = s->co.route,
                                      .seed = s->co.route_seed};
  mlfq_sched_config_t cfg = s->mo.sched;
  mlfq_sim_hooks_t hooks;
  mlfq_sim_result_t res;
  run_ctx_t ctx;
  char fname[4096], opts[512];
  int rc, fatal;

  cfg.policy = s->names[r];
  memset(&hooks, 0, sizeof(hooks));
  memset(&ctx, 0, sizeof(ctx));
  if (open_run_files(s, r, &ctx, &hooks, fname, sizeof(fname)) != 0)
    return 1;
  rc = mlfq_sim_run_cluster(&cfg, &s->cost, &cluster, s->w.reqs, s->w.n, &hooks,
                            &res, err, errlen);
  if (ctx.trace != NULL && close_out(ctx.trace, fname))
    *status = 1;
  if (ctx.iters != NULL && close_out(ctx.iters, ctx.iname))
    *status = 1;
  if (rc == MLFQ_ERANGE) { /* model time overflowed: name the inputs */
    cost_options(&s->mo, opts, sizeof(opts));
    fprintf(stderr,
            "mlfqsim: model time overflows with %s and this "
            "workload: %s\n",
            opts, err);
    err[0] = '\0';
    return 2;
  }
  if (rc)
    return 2;
  if (record_run(s, r, &res, &fatal) != 0) {
    *status = 1;
    if (fatal) {
      mlfq_sim_result_free(&res);
      return 1;
    }
  }
  cJSON_AddItemToArray(s->runs, run_json(s, r, &cfg, &res));
  mlfq_sim_result_free(&res);
  return -1;
}

/* Simulates every policy on the workload and reports them. Returns the
 * exit status. */
static int simulate(sim_t *s, char *err, size_t errlen) {
  size_t r;
  int rc, status = 0;

  s->oc = calloc(s->w.n ? s->w.n : 1, sizeof(*s->oc));
  s->doc =
      mlfq_compare_doc("mlfqsim", s->w.n, s->lo.workload ? s->lo.workload : "",
                       s->lo.seed, &s->runs);
  if (s->oc == NULL || s->doc == NULL) {
    fprintf(stderr, "mlfqsim: out of memory\n");
    return 1;
  }
  mlfq_endings_json(s->doc, &s->w, s->lo.max_tokens);
  describe(&s->lo, &s->w, &s->cost, &s->params, &s->co, s->names, s->nruns);
  for (r = 0; r < s->nruns; r++) {
    rc = run_policy(s, r, &status, err, errlen);
    if (rc >= 0)
      return rc;
  }
  mlfq_report_table(stdout, s->names, s->sums, s->nruns);
  if (s->soo.common.json != NULL) {
    rc = mlfq_report_write_json(s->soo.common.json, s->doc);
    if (rc) {
      fprintf(stderr, "mlfqsim: cannot write %s: %s\n", s->soo.common.json,
              mlfq_strerror(rc));
      status = 1;
    }
  }
  return status;
}

int main(int argc, char **argv) {
  static sim_t s;
  char err[512];
  int status;

  mlfq_model_opts_init(&s.mo);
  mlfq_load_opts_init(&s.lo);
  s.co.replicas = 1;
  s.co.route = MLFQ_BALANCE_ROUND_ROBIN;
  s.co.route_seed = 1;
  build_output_options();
  status = parse(&s, argc, argv, err, sizeof(err));
  if (status == 0)
    return 0; /* --help, --version */
  if (status < 0)
    status = simulate(&s, err, sizeof(err));
  if (status == 2 && err[0] != '\0')
    fprintf(stderr, "mlfqsim: %s\n", err);
  cJSON_Delete(s.doc);
  free(s.oc);
  mlfq_workload_free(&s.w);
  mlfq_cost_free(&s.cost);
  if (fflush(stdout) != 0 && status == 0)
    status = 1;
  return status;
}
