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
