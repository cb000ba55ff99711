#include <stdio.h>
#include <string.h>

#include "core/policy.h"

static const mlfq_policy_t *const policies[] = {
    &mlfq_policy_fcfs, &mlfq_policy_naive_mlfq, &mlfq_policy_mlfq,
    &mlfq_policy_srpt, NULL};

const mlfq_policy_t *mlfq_policy_find(const char *name) {
  size_t i;

  if (name == NULL)
    return NULL;
  for (i = 0; policies[i] != NULL; i++)
    if (strcmp(policies[i]->name, name) == 0)
      return policies[i];
  return NULL;
}

const mlfq_policy_t *const *mlfq_policy_all(void) { return policies; }

const char *mlfq_policy_names(char *buf, size_t len, const char *extra) {
  const char *name[sizeof(policies) / sizeof(policies[0]) + 1];
  size_t i, n = 0, at = 0;
  int w;

  for (i = 0; policies[i] != NULL; i++)
    name[n++] = policies[i]->name;
  if (extra != NULL)
    name[n++] = extra;
  if (len > 0)
    buf[0] = '\0';
  for (i = 0; i < n && at < len; i++) {
    w = snprintf(buf + at, len - at, "%s%s",
                 i == 0      ? ""
                 : i + 1 < n ? ", "
                             : " or ",
                 name[i]);
    if (w < 0)
      break;
    at += (size_t)w;
  }
  return buf;
}
