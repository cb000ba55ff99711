/* bench-sched: scheduled iterations per second of the scheduler core.
 *
 * Drives mlfq_sched_submit / _dispatch / _complete directly, with no
 * simulator: one engine, a linear cost model (the options' defaults:
 * prefill 0 + 0.09 ms/token, decode 5.5 ms), --jobs jobs submitted at time
 * 0 with prompts of 1..512 tokens and output lengths so large that none
 * finishes, so all of them stay in the scheduler. Each iteration is one
 * dispatch and one complete, with a virtual clock advanced by the returned
 * duration. After --warmup untimed iterations, --iterations are timed with
 * CLOCK_MONOTONIC. A job that does finish anyway (a small --output-len) is
 * submitted again at once, so the population never shrinks; the count is
 * printed as resubmitted=.
 *
 * Output: one line per policy, space-separated key=value pairs:
 *   bench=sched policy=P max_batch=B jobs=N warmup=W iterations=I
 *   job_iterations=J seconds=S iter_per_s=X job_iter_per_s=Y
 *   resubmitted=R waiting=Q model_ns=T
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cli.h"
#include "base/error.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"

typedef struct {
  const char *policy;
  size_t jobs;
  uint64_t iterations;
  uint64_t warmup;
  unsigned max_batch;
  unsigned output_len;
  int quick;
} opts_t;

#define O(f) offsetof(opts_t, f), 0

/* The help of --policy, written from the policy table in main. */
static char policy_help[MLFQ_POLICY_NAMES_BUFSIZE + 32];

static const mlfq_cli_opt_t options[] = {
    {"policy", "NAME", policy_help, mlfq_cli_set_str, O(policy), 0, 0},
    {"jobs", "N", "jobs submitted and kept waiting (default 10000)",
     mlfq_cli_set_size, O(jobs), 1, 1e8},
    {"iterations", "N", "timed iterations per policy (default 20000000)",
     mlfq_cli_set_u64, O(iterations), 1, 1e12},
    {"warmup", "N", "untimed iterations first (default 1000000)",
     mlfq_cli_set_u64, O(warmup), 0, 1e12},
    {"max-batch", "N", "jobs per iteration (default 1)", mlfq_cli_set_uint,
     O(max_batch), 1, MLFQ_MAX_BATCH},
    {"output-len", "N", "tokens per job (default 4294967295: none finishes)",
     mlfq_cli_set_uint, O(output_len), 1, 4294967295.0},
    {"quick", NULL, "tiny sizes (100 jobs, 100000 iterations) for CI",
     mlfq_cli_set_flag, O(quick), 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs n iterations on engine 0, resubmitting jobs that finish. Adds the
 * jobs run to *jobits and the resubmissions to *resub. Returns 0, or -1
 * if the engine found nothing to run or a resubmission failed. */
static int run_iterations(mlfq_sched_t *s, uint64_t n, uint64_t *model_ns,
                          mlfq_job_t **out, uint64_t *jobits, uint64_t *resub) {
  uint64_t i, dur, t = *model_ns;
  unsigned nb, k;

  for (i = 0; i < n; i++) {
    nb = mlfq_sched_dispatch(s, 0, t, &dur);
    if (nb == 0)
      return -1;
    t += dur;
    nb = mlfq_sched_complete(s, 0, t, out);
    *jobits += nb;
    for (k = 0; k < nb; k++) {
      if (out[k]->tokens != out[k]->output_len)
        continue;
      if (mlfq_sched_submit(s, out[k], t) != 0)
        return -1;
      (*resub)++;
    }
  }
  *model_ns = t;
  return 0;
}

static int bench_policy(const opts_t *o, const char *policy,
                        const mlfq_cost_t *cost) {
  mlfq_sched_config_t cfg;
  mlfq_sched_stats_t st;
  mlfq_sched_t *s = NULL;
  mlfq_job_t *jobs = NULL, **out = NULL;
  uint64_t model_ns = 0, jobits = 0, resub = 0, rng = 88172645463325252u;
  double t0, t1;
  char err[256];
  size_t i;
  int rc = -1;

  mlfq_sched_config_init(&cfg);
  cfg.policy = policy;
  cfg.max_batch = o->max_batch;
  cfg.workers = 1;
  s = mlfq_sched_new(&cfg, cost, err, sizeof(err));
  if (s == NULL) {
    fprintf(stderr, "bench-sched: %s\n", err);
    return -1;
  }
  jobs = calloc(o->jobs, sizeof(*jobs));
  out = calloc(o->max_batch, sizeof(*out));
  if (jobs == NULL || out == NULL) {
    fprintf(stderr, "bench-sched: out of memory\n");
    goto done;
  }
  for (i = 0; i < o->jobs; i++) {
    rng ^= rng << 13; /* xorshift64: prompt lengths 1..512 */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    jobs[i].id = i;
    jobs[i].arrival_ns = 0;
    jobs[i].input_len = (uint32_t)(1 + rng % 512);
    jobs[i].output_len = o->output_len;
    if (mlfq_sched_submit(s, &jobs[i], 0) != 0) {
      fprintf(stderr, "bench-sched: submit failed\n");
      goto done;
    }
  }

  if (run_iterations(s, o->warmup, &model_ns, out, &jobits, &resub))
    goto stalled;
  jobits = 0;
  resub = 0;
  t0 = now_s();
  if (run_iterations(s, o->iterations, &model_ns, out, &jobits, &resub))
    goto stalled;
  t1 = now_s();

  mlfq_sched_stats(s, &st);
  printf("bench=sched policy=%s max_batch=%u jobs=%zu warmup=%" PRIu64
         " iterations=%" PRIu64 " job_iterations=%" PRIu64
         " seconds=%.6f iter_per_s=%.0f job_iter_per_s=%.0f"
         " resubmitted=%" PRIu64 " waiting=%zu model_ns=%" PRIu64 "\n",
         policy, o->max_batch, o->jobs, o->warmup, o->iterations, jobits,
         t1 - t0, (double)o->iterations / (t1 - t0), (double)jobits / (t1 - t0),
         resub, st.waiting, model_ns);
  fflush(stdout);
  rc = 0;
  goto done;

stalled:
  fprintf(stderr, "bench-sched: %s: the engine found no job to run\n", policy);
done:
  mlfq_sched_free(s);
  free(jobs);
  free(out);
  return rc;
}

int main(int argc, char **argv) {
  const mlfq_policy_t *const *all = mlfq_policy_all();
  mlfq_cli_group_t group;
  mlfq_cost_t cost;
  opts_t o;
  char err[256], names[MLFQ_POLICY_NAMES_BUFSIZE];
  size_t i;
  int rc;

  snprintf(policy_help, sizeof(policy_help), "%s (default all)",
           mlfq_policy_names(names, sizeof(names), "all"));
  memset(&o, 0, sizeof(o));
  o.policy = "all";
  o.jobs = 10000;
  o.iterations = 20000000;
  o.warmup = 1000000;
  o.max_batch = 1;
  o.output_len = UINT32_MAX;
  group = (mlfq_cli_group_t){"Options", options, &o};
  rc = mlfq_cli_parse(argc, argv, &group, 1, NULL, 0, NULL, err, sizeof(err));
  if (rc == MLFQ_CLI_HELP) {
    printf("Usage: bench-sched [OPTIONS]\n\n"
           "Scheduled iterations per second of the scheduler core.\n");
    mlfq_cli_help(stdout, &group, 1);
    return 0;
  }
  if (rc == MLFQ_CLI_VERSION)
    return 0;
  if (rc < 0) {
    fprintf(stderr, "bench-sched: %s\n", err);
    return 2;
  }
  if (o.quick) {
    o.jobs = 100;
    o.iterations = 100000;
    o.warmup = 1000;
  }
  if (strcmp(o.policy, "all") != 0 && mlfq_policy_find(o.policy) == NULL) {
    fprintf(stderr, "bench-sched: --policy: unknown '%s'\n", o.policy);
    return 2;
  }
  if (mlfq_cost_linear(&cost, 0, 0.09, 5.5) != 0) {
    fprintf(stderr, "bench-sched: cost model\n");
    return 1;
  }

  rc = 0;
  for (i = 0; all[i] != NULL; i++) {
    if (strcmp(o.policy, "all") != 0 && strcmp(o.policy, all[i]->name) != 0)
      continue;
    if (bench_policy(&o, all[i]->name, &cost) != 0)
      rc = 1;
  }
  mlfq_cost_free(&cost);
  return rc;
}
