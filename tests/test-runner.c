/* The runner's own helpers, which the other tests rely on. */
#include "task.h"

TEST(runner, run_captures_output_and_status) {
  char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
  char *out, *err;

  ASSERT_EQ(mlfq_test_run(argv, &out, &err, 10), 3);
  ASSERT_STR_EQ(out, "out\n");
  ASSERT_STR_EQ(err, "err\n");
  free(out);
  free(err);
}

TEST(runner, tmpfile_holds_text) {
  const char *p = mlfq_test_tmpfile(".csv", "a,b\n1,2\n");
  char buf[64] = {0};
  FILE *f = fopen(p, "rb");

  ASSERT(f != NULL);
  ASSERT_EQ(fread(buf, 1, sizeof(buf) - 1, f), 8);
  fclose(f);
  ASSERT_STR_EQ(buf, "a,b\n1,2\n");
  remove(p);
}
