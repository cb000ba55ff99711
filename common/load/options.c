#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "core/policy.h"
#include "load/endings.h"
#include "load/options.h"

static int set_preempt(const mlfq_cli_opt_t *o, void *field, const char *val,
                       char *err, size_t errlen) {
  (void)o;
  if (strcmp(val, "iteration") == 0)
    *(mlfq_preempt_t *)field = MLFQ_PREEMPT_ITERATION;
  else if (strcmp(val, "quantum") == 0)
    *(mlfq_preempt_t *)field = MLFQ_PREEMPT_QUANTUM;
  else
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "'%s' is not iteration or quantum", val);
  return 0;
}

static int set_on_full(const mlfq_cli_opt_t *o, void *field, const char *val,
                       char *err, size_t errlen) {
  (void)o;
  if (mlfq_on_full_parse(val, (mlfq_on_full_t *)field) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "'%s' is not defer, recompute or swap", val);
  return 0;
}

#define M(field) offsetof(mlfq_model_opts_t, field)
#define MS(field) offsetof(mlfq_model_opts_t, sched.field)
#define MG MLFQ_CLI_GIVEN(mlfq_model_opts_t, linear)

/* The help of --policy, written from the policy table by
 * mlfq_model_opts_init. */
static char policy_help[MLFQ_POLICY_NAMES_BUFSIZE + 32];

const mlfq_cli_opt_t mlfq_model_options[] = {
    {"policy", "NAME", policy_help, mlfq_cli_set_str, MS(policy), 0, 0, 0},
    {"queues", "K", "levels of mlfq and naive-mlfq, 1-64 (default 4)",
     mlfq_cli_set_uint, MS(queues), 0, 1, MLFQ_MAX_QUEUES},
    {"quantum-ms", "MS",
     "level-1 quantum in ms (default: the smallest decode time)",
     mlfq_cli_set_double, MS(quantum_ms), 0, 0, 1e12},
    {"quantum-rate", "R", "quantum of level i is quantum * R^(i-1) (default 2)",
     mlfq_cli_set_double, MS(quantum_rate), 0, 1, 1e6},
    {"starve-limit-ms", "MS",
     "promote jobs waiting longer in levels 2..K to level 1 (default 0: off)",
     mlfq_cli_set_double, MS(starve_limit_ms), 0, 0, 1e12},
    {"preempt", "MODE",
     "iteration: re-decide every iteration; quantum: keep the engine until "
     "the quantum is used (default iteration)",
     set_preempt, MS(preempt), 0, 0, 0},
    {"max-batch", "N", "jobs per iteration of an engine (default 1)",
     mlfq_cli_set_uint, MS(max_batch), 0, 1, MLFQ_MAX_BATCH},
    {"workers", "N", "engines running in parallel (default 1)",
     mlfq_cli_set_uint, MS(workers), 0, 1, MLFQ_MAX_WORKERS},
    {"kv-capacity-tokens", "N",
     "KV cache of the engines, in tokens; a job holds its prompt and the "
     "tokens generated so far (default 0: unlimited)",
     mlfq_cli_set_u64, MS(kv_capacity_tokens), 0, 0, 1.8446744073709552e19},
    {"on-full", "MODE",
     "when the KV cache is full: defer (new jobs wait), recompute or swap "
     "(evict the lowest-priority job's KV) (default defer)",
     set_on_full, MS(on_full), 0, 0, 0},
    {"swap-ms-per-token", "MS",
     "on-full swap: time to move one token's KV to or from host memory "
     "(default 0)",
     mlfq_cli_set_double, MS(swap_ms_per_token), 0, 0, 1e12},
    {"profile", "FILE",
     "cost profile CSV input_length,prefill_ms,decode_ms, at most 4096 rows "
     "(default: built-in OPT-1.3B)",
     mlfq_cli_set_str, M(profile), 0, 0, 0},
    {"prefill-base-ms", "MS",
     "linear model: fixed prefill time per iteration (default 0)",
     mlfq_cli_set_double, M(prefill_base_ms), MG, 0, 1e12},
    {"prefill-ms-per-token", "MS",
     "linear model: prefill time per prompt token (default 0.09)",
     mlfq_cli_set_double, M(prefill_ms_per_token), MG, 0, 1e12},
    {"decode-ms", "MS", "linear model: time of one decode (default 5.5)",
     mlfq_cli_set_double, M(decode_ms), MG, 0, 1e12},
    {"batch-decode-ms-per-seq", "MS",
     "added per decoding job beyond the first in a batch (default 0)",
     mlfq_cli_set_double, M(batch_decode_ms_per_seq), 0, 0, 1e12},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

#define L(field) offsetof(mlfq_load_opts_t, field)

const mlfq_cli_opt_t mlfq_load_options[] = {
    {"workload", "FILE",
     "CSV of input_length,output_length[,arrival_ms] (default: synthetic)",
     mlfq_cli_set_str, L(workload), 0, 0, 0},
    {"input-len", "SPEC",
     "prompt lengths: fixed:N, uniform:A:B, zipf:S:MAX or file (default: "
     "file with --workload, else " MLFQ_DEFAULT_INPUT_LEN ")",
     mlfq_cli_set_str, L(input_len), 0, 0, 0},
    {"output-len", "SPEC",
     "output lengths, same forms (default: file with --workload, "
     "else " MLFQ_DEFAULT_OUTPUT_LEN ")",
     mlfq_cli_set_str, L(output_len), 0, 0, 0},
    {"max-tokens", "N",
     "cap output lengths at N, as a client's max_tokens: a request drawn "
     "shorter ends on its own (\"stop\"), the others at N (\"length\") "
     "(default: no cap)",
     mlfq_cli_set_uint, L(max_tokens), 0, 1, 4294967295.0},
    {"num-requests", "N",
     "requests to send (default: every row of the workload, else 1000)",
     mlfq_cli_set_size, L(num_requests), 0, 1, 1e12},
    {"rate", "R",
     "requests per model second; 0 or inf: all at time 0 (default inf, or "
     "the file's arrival_ms)",
     mlfq_cli_set_double, L(rate), MLFQ_CLI_GIVEN(mlfq_load_opts_t, rate_given),
     0, INFINITY},
    {"dist", "NAME", "arrivals: poisson, uniform or gamma (default poisson)",
     mlfq_cli_set_str, L(dist), 0, 0, 0},
    {"cv", "CV", "gamma arrivals: coefficient of variation (default 1)",
     mlfq_cli_set_double, L(cv), 0, 1e-3, 1e3},
    {"seed", "N", "seed of arrivals and synthetic lengths (default 1)",
     mlfq_cli_set_u64, L(seed), 0, 0, 1.8446744073709552e19},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

#define O(field) offsetof(mlfq_output_opts_t, field)

const mlfq_cli_opt_t mlfq_output_options[] = {
    {"jobs-csv", "FILE", "write the per-job CSV", mlfq_cli_set_str, O(jobs_csv),
     0, 0, 0},
    {"trace-csv", "FILE", "write the per-token trace CSV (t_ms,job,token)",
     mlfq_cli_set_str, O(trace_csv), 0, 0, 0},
    {"json", "FILE", "write the summary and configuration as JSON",
     mlfq_cli_set_str, O(json), 0, 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

void mlfq_model_opts_init(mlfq_model_opts_t *o) {
  char names[MLFQ_POLICY_NAMES_BUFSIZE];

  memset(o, 0, sizeof(*o));
  mlfq_sched_config_init(&o->sched);
  o->prefill_base_ms = 0;
  o->prefill_ms_per_token = 0.09;
  o->decode_ms = 5.5;
  snprintf(policy_help, sizeof(policy_help), "%s (default %s)",
           mlfq_policy_names(names, sizeof(names), NULL), o->sched.policy);
}

void mlfq_load_opts_init(mlfq_load_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->rate = INFINITY;
  o->dist = "poisson";
  o->cv = 1;
  o->seed = 1;
}

int mlfq_model_opts_cost(const mlfq_model_opts_t *o, mlfq_cost_t *cost,
                         char *err, size_t errlen) {
  int rc;

  if (o->profile != NULL && o->linear)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--profile excludes --prefill-base-ms, "
                     "--prefill-ms-per-token and --decode-ms");
  if (o->linear)
    rc = mlfq_cost_linear(cost, o->prefill_base_ms, o->prefill_ms_per_token,
                          o->decode_ms);
  else if (o->profile != NULL)
    rc = mlfq_cost_load_profile(cost, o->profile, err, errlen);
  else
    rc = mlfq_cost_default(cost);
  if (rc) {
    if (o->linear || o->profile == NULL)
      mlfq_fail(err, errlen, rc, "cost model: %s", mlfq_strerror(rc));
    return rc;
  }
  cost->batch_decode_ms_per_seq = o->batch_decode_ms_per_seq;
  return 0;
}

static int lengths(mlfq_lengths_t *l, const char *spec, const char *dflt,
                   const char *opt, char *err, size_t errlen) {
  char msg[256];
  int rc = mlfq_lengths_parse(l, spec ? spec : dflt, msg, sizeof(msg));

  if (rc)
    return mlfq_fail(err, errlen, rc, "--%s: %s", opt, msg);
  return 0;
}

int mlfq_load_opts_make(const mlfq_load_opts_t *o, mlfq_workload_t *w,
                        char *err, size_t errlen) {
  mlfq_workload_spec_t spec;
  const char *din, *dout;
  int rc;

  memset(&spec, 0, sizeof(spec));
  if (mlfq_dist_parse(o->dist, &spec.arrival.dist))
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--dist: '%s' is not poisson, uniform or gamma", o->dist);
  spec.arrival.rate = o->rate;
  spec.arrival.cv = o->cv;
  spec.arrival.seed = o->seed;
  spec.path = o->workload;
  spec.num_requests = o->num_requests;
  spec.rate_given = o->rate_given;
  din = o->workload ? "file" : MLFQ_DEFAULT_INPUT_LEN;
  dout = o->workload ? "file" : MLFQ_DEFAULT_OUTPUT_LEN;
  rc = lengths(&spec.input, o->input_len, din, "input-len", err, errlen);
  if (rc)
    return rc;
  rc = lengths(&spec.output, o->output_len, dout, "output-len", err, errlen);
  if (rc == 0)
    rc = mlfq_workload_make(w, &spec, err, errlen);
  if (rc == 0)
    mlfq_endings_cap(w, o->max_tokens);
  mlfq_lengths_free(&spec.input);
  mlfq_lengths_free(&spec.output);
  return rc;
}
