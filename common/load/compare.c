#include "load/compare.h"

#include "base/version.h"
#include "load/report.h"

cJSON *mlfq_compare_doc(const char *tool, size_t requests, const char *workload,
                        uint64_t seed, cJSON **runs) {
  cJSON *doc = cJSON_CreateObject();

  *runs = NULL;
  if (doc == NULL)
    return NULL;
  cJSON_AddStringToObject(doc, "tool", tool);
  cJSON_AddStringToObject(doc, "version", MLFQ_VERSION);
  cJSON_AddNumberToObject(doc, "requests", (double)requests);
  if (workload != NULL)
    cJSON_AddStringToObject(doc, "workload", workload);
  cJSON_AddNumberToObject(doc, "seed", (double)seed);
  *runs = cJSON_AddArrayToObject(doc, "runs");
  return doc;
}

const char *mlfq_compare_path(const char *path, const char *label, int labelled,
                              char *buf, size_t len) {
  if (!labelled)
    return path;
  return mlfq_report_label_path(path, label, buf, len);
}
