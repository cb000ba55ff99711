/* The options the simulator, the daemon and the load generator share
 * (docs/MLFQSIM.md, "Output files"), as mlfq_cli tables, and what they build: a
 * scheduler configuration, a cost model, a workload.
 */
#ifndef MLFQ_OPTIONS_H
#define MLFQ_OPTIONS_H

#include <stdint.h>

#include "base/cli.h"
#include "core/cost.h"
#include "core/sched.h"
#include "load/workload.h"

/* Scheduler and cost model. */
typedef struct {
  mlfq_sched_config_t sched; /* sched.policy points into argv */
  const char *profile;       /* NULL: the built-in OPT-1.3B profile */
  double prefill_base_ms;
  double prefill_ms_per_token;
  double decode_ms;
  int linear; /* one of the three above was given */
  double batch_decode_ms_per_seq;
} mlfq_model_opts_t;

/* Workload and arrivals. */
typedef struct {
  const char *workload;  /* file, or NULL */
  const char *input_len; /* length spec, NULL: the default */
  const char *output_len;
  unsigned max_tokens; /* 0: output lengths are not capped (endings.h) */
  size_t num_requests; /* 0: the file's rows, or the default */
  double rate;         /* requests per model second; 0/inf: at once */
  int rate_given;
  const char *dist;
  double cv;
  uint64_t seed;
} mlfq_load_opts_t;

/* Output files. */
typedef struct {
  const char *jobs_csv;
  const char *trace_csv;
  const char *json;
} mlfq_output_opts_t;

extern const mlfq_cli_opt_t mlfq_model_options[];
extern const mlfq_cli_opt_t mlfq_load_options[];
extern const mlfq_cli_opt_t mlfq_output_options[];

/* Length specs used when there is no workload file. */
#define MLFQ_DEFAULT_INPUT_LEN "uniform:1:512"
#define MLFQ_DEFAULT_OUTPUT_LEN "uniform:1:512"

/* Fills o with the defaults. Also writes the help of --policy in
 * mlfq_model_options from the policy table (core/policy.h): call it before
 * printing that table's help. Not thread-safe: call it at start-up. */
void mlfq_model_opts_init(mlfq_model_opts_t *o);
void mlfq_load_opts_init(mlfq_load_opts_t *o);

/* Builds the cost model the options describe (the profile file, the linear
 * model, or the built-in profile) and sets its batch_decode_ms_per_seq.
 * Returns 0 or a negative code with err set. */
int mlfq_model_opts_cost(const mlfq_model_opts_t *o, mlfq_cost_t *cost,
                         char *err, size_t errlen);

/* Makes the workload the options describe. Returns 0 or a negative code
 * with err set (messages name the option or the file and line). */
int mlfq_load_opts_make(const mlfq_load_opts_t *o, mlfq_workload_t *w,
                        char *err, size_t errlen);

#endif
