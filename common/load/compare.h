/* A comparison, as loadgen and mlfqsim print and write it: one workload
 * run several times, each run labelled (a server, a policy) and side by
 * side. The JSON document of docs/MLFQSIM.md, "Output files", with its
 * "runs", and the name of each run's own output file.
 */
#ifndef MLFQ_COMPARE_H
#define MLFQ_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* A new JSON document: "tool", "version", "requests", "workload" (only
 * when workload is not NULL), "seed" and an empty "runs" array, into which
 * *runs points. Returns NULL on ENOMEM. The caller owns the document. */
cJSON *mlfq_compare_doc(const char *tool, size_t requests, const char *workload,
                        uint64_t seed, cJSON **runs);

/* The output file of the run label: path itself when the comparison has
 * one run (labelled 0), else mlfq_report_label_path's name in buf.
 * Returns NULL if that does not fit in len bytes. */
const char *mlfq_compare_path(const char *path, const char *label, int labelled,
                              char *buf, size_t len);

#endif
