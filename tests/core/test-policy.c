/* The policy table as the programs show it (mlfq_policy_names). */
#include <string.h>

#include "core/policy.h"
#include "load/options.h"

#include "task.h"

TEST(policy, names_list_the_table_in_order) {
  const mlfq_policy_t *const *all = mlfq_policy_all();
  char buf[MLFQ_POLICY_NAMES_BUFSIZE];
  size_t i;

  ASSERT_STR_EQ(mlfq_policy_names(buf, sizeof(buf), NULL),
                "fcfs, naive-mlfq, mlfq or srpt");
  ASSERT_STR_EQ(mlfq_policy_names(buf, sizeof(buf), "all"),
                "fcfs, naive-mlfq, mlfq, srpt or all");
  for (i = 0; all[i] != NULL; i++) {
    ASSERT_CONTAINS(buf, all[i]->name);
    ASSERT(mlfq_policy_find(all[i]->name) == all[i]);
  }
  /* Truncated, never overrun. */
  ASSERT_STR_EQ(mlfq_policy_names(buf, 8, NULL), "fcfs, n");
  ASSERT_STR_EQ(mlfq_policy_names(buf, 1, NULL), "");
}

TEST(policy, help_of_policy_option_comes_from_the_table) {
  mlfq_model_opts_t mo;
  const mlfq_cli_opt_t *o;

  mlfq_model_opts_init(&mo);
  for (o = mlfq_model_options; o->name != NULL; o++)
    if (strcmp(o->name, "policy") == 0)
      break;
  ASSERT(o->name != NULL);
  ASSERT_STR_EQ(o->help, "fcfs, naive-mlfq, mlfq or srpt (default mlfq)");
}
