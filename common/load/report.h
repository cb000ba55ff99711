/* The output formats of docs/MLFQSIM.md, "Output files", shared by the
 * simulator and the load generator: the per-job CSV, the per-token trace CSV,
 * the summary table and the JSON summary.
 */
#ifndef MLFQ_REPORT_H
#define MLFQ_REPORT_H

#include <stdio.h>

#include <cJSON.h>

#include "core/cost.h"
#include "core/sched.h"
#include "load/summary.h"

/* Columns of the per-job CSV beyond docs/MLFQSIM.md's. */
#define MLFQ_REPORT_STATUS 1  /* status */
#define MLFQ_REPORT_KV 2      /* preemptions,swapped_tokens */
#define MLFQ_REPORT_REPLICA 4 /* replica (last) */

/* Writes the per-job CSV (header
 * id,arrival_ms,input_length,output_length,first_token_ms,finish_ms,jct_ms
 * then ,status, ,preemptions,swapped_tokens and ,replica as flags asks) of
 * o[0..n), id = index. Times a request never reached, the memory counts of
 * a request that failed and an unknown replica are left empty. Returns 0 or a
 * negated errno. */
int mlfq_report_jobs_csv(FILE *f, const mlfq_outcome_t *o, size_t n, int flags);

/* The per-token trace CSV: t_ms,job,token. */
void mlfq_report_trace_header(FILE *f);
void mlfq_report_trace_line(FILE *f, uint64_t t_ns, size_t job, uint32_t token);

/* Prints the summaries side by side, one column per label, times in ms;
 * when any has a KV capacity, rows of preemptions, swapped tokens and KV
 * use follow; with more than one, a last row gives each mean JCT as a
 * ratio to the first column's. */
void mlfq_report_table(FILE *f, const char *const *labels,
                       const mlfq_summary_t *sums, size_t n);

/* Formats a value with at most two decimals and no trailing zeros
 * ("8.33", "10", "6.67") into buf (>= 32 bytes); returns buf. */
char *mlfq_report_num(double v, char *buf);

/* JSON objects for a summary and for a configuration (policy, levels and
 * quanta, batching, workers, the cost model, and the KV cache when it has a
 * capacity). NULL on ENOMEM. The caller owns the result. */
cJSON *mlfq_report_summary_json(const mlfq_summary_t *s);
cJSON *mlfq_report_config_json(const mlfq_sched_config_t *cfg,
                               const mlfq_sched_params_t *p,
                               const mlfq_cost_t *cost);

/* Writes a JSON document to path (pretty, with a final newline). Returns 0
 * or a negated errno. */
int mlfq_report_write_json(const char *path, const cJSON *doc);

/* The file name for one labelled run: "dir/jobs.csv" and "mlfq" give
 * "dir/jobs-mlfq.csv" (the label goes before the extension, or at the end
 * when there is none). Returns buf, or NULL if it does not fit. */
char *mlfq_report_label_path(const char *path, const char *label, char *buf,
                             size_t len);

#endif
