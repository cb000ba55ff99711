/* bench-mem: memory per waiting job.
 *
 * Creates a scheduler for one policy (one engine, max_batch 1, the linear
 * cost model of the options' defaults), then allocates --jobs job structs
 * in one array, as the simulator does, fills them (prompts 1..512 tokens,
 * 100 output tokens) and submits them all at time 0 without dispatching,
 * so every job is waiting. Resident memory is read from /proc/self/statm
 * before the array is touched, after it is filled, and after the submits;
 * the growth over the whole, divided by the number of jobs, is the memory
 * per waiting job: the caller's mlfq_job_t plus whatever the policy keeps
 * per job (srpt's heap of pointers). The process's peak (getrusage
 * ru_maxrss) is printed too. Run one policy per process so that one
 * policy's freed memory does not hide the next one's growth.
 *
 * Output: one line, space-separated key=value pairs:
 *   bench=mem policy=P jobs=N sizeof_job=152 rss_before_kb=A
 *   job_array_bytes_per_job=B sched_bytes_per_job=C bytes_per_job=D
 *   maxrss_kb=M waiting=Q
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cli.h"
#include "core/cost.h"
#include "core/policy.h"
#include "core/sched.h"

typedef struct {
  const char *policy;
  size_t jobs;
  int quick;
} opts_t;

#define O(f) offsetof(opts_t, f), 0

/* The help of --policy, written from the policy table in main. */
static char policy_help[MLFQ_POLICY_NAMES_BUFSIZE + 32];

static const mlfq_cli_opt_t options[] = {
    {"policy", "NAME", policy_help, mlfq_cli_set_str, O(policy), 0, 0},
    {"jobs", "N", "jobs submitted and left waiting (default 1000000)",
     mlfq_cli_set_size, O(jobs), 1, 1e9},
    {"quick", NULL, "tiny size (10000 jobs) for CI", mlfq_cli_set_flag,
     O(quick), 0, 0},
    {NULL, NULL, NULL, NULL, 0, 0, 0, 0}};

/* Resident set size in bytes (statm's second field), or -1. */
static long long rss_bytes(void) {
  long long size, resident;
  FILE *f = fopen("/proc/self/statm", "r");
  int n;

  if (f == NULL)
    return -1;
  n = fscanf(f, "%lld %lld", &size, &resident);
  fclose(f);
  if (n != 2)
    return -1;
  return resident * (long long)sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
  mlfq_cli_group_t group;
  mlfq_sched_config_t cfg;
  mlfq_sched_stats_t st;
  mlfq_cost_t cost;
  mlfq_sched_t *s = NULL;
  mlfq_job_t *jobs = NULL;
  struct rusage ru;
  long long r0, r1, r2;
  uint64_t rng = 88172645463325252u;
  char err[256], names[MLFQ_POLICY_NAMES_BUFSIZE];
  opts_t o;
  size_t i;
  int rc, status = 1;

  snprintf(policy_help, sizeof(policy_help), "%s (default mlfq)",
           mlfq_policy_names(names, sizeof(names), NULL));
  memset(&o, 0, sizeof(o));
  o.policy = "mlfq";
  o.jobs = 1000000;
  group = (mlfq_cli_group_t){"Options", options, &o};
  rc = mlfq_cli_parse(argc, argv, &group, 1, NULL, 0, NULL, err, sizeof(err));
  if (rc == MLFQ_CLI_HELP) {
    printf("Usage: bench-mem [OPTIONS]\n\n"
           "Resident memory per waiting job of one policy.\n");
    mlfq_cli_help(stdout, &group, 1);
    return 0;
  }
  if (rc == MLFQ_CLI_VERSION)
    return 0;
  if (rc < 0) {
    fprintf(stderr, "bench-mem: %s\n", err);
    return 2;
  }
  if (o.quick)
    o.jobs = 10000;
  if (mlfq_cost_linear(&cost, 0, 0.09, 5.5) != 0) {
    fprintf(stderr, "bench-mem: cost model\n");
    return 1;
  }
  mlfq_sched_config_init(&cfg);
  cfg.policy = o.policy;
  s = mlfq_sched_new(&cfg, &cost, err, sizeof(err));
  if (s == NULL) {
    fprintf(stderr, "bench-mem: %s\n", err);
    goto done;
  }

  r0 = rss_bytes();
  jobs = calloc(o.jobs, sizeof(*jobs));
  if (jobs == NULL) {
    fprintf(stderr, "bench-mem: out of memory\n");
    goto done;
  }
  for (i = 0; i < o.jobs; i++) {
    rng ^= rng << 13; /* xorshift64: prompt lengths 1..512 */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    jobs[i].id = i;
    jobs[i].input_len = (uint32_t)(1 + rng % 512);
    jobs[i].output_len = 100;
  }
  r1 = rss_bytes();
  for (i = 0; i < o.jobs; i++) {
    if (mlfq_sched_submit(s, &jobs[i], 0) != 0) {
      fprintf(stderr, "bench-mem: submit %zu failed\n", i);
      goto done;
    }
  }
  r2 = rss_bytes();
  if (r0 < 0 || r1 < 0 || r2 < 0 || getrusage(RUSAGE_SELF, &ru) != 0) {
    fprintf(stderr, "bench-mem: cannot read memory use\n");
    goto done;
  }
  mlfq_sched_stats(s, &st);

  printf("bench=mem policy=%s jobs=%zu sizeof_job=%zu rss_before_kb=%lld"
         " job_array_bytes_per_job=%.1f sched_bytes_per_job=%.1f"
         " bytes_per_job=%.1f maxrss_kb=%ld waiting=%zu\n",
         cfg.policy, o.jobs, sizeof(mlfq_job_t), r0 / 1024,
         (double)(r1 - r0) / (double)o.jobs, (double)(r2 - r1) / (double)o.jobs,
         (double)(r2 - r0) / (double)o.jobs, ru.ru_maxrss, st.waiting);
  status = 0;

done:
  mlfq_sched_free(s);
  free(jobs);
  mlfq_cost_free(&cost);
  return status;
}
