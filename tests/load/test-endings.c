/* common/load/endings.c: the natural lengths the daemon draws are the
 * output lengths mlfqsim and loadgen make from the same --output-len,
 * --workload and --seed; the bounds of min_tokens, ignore_eos and
 * max_tokens; the cap and its counts; the errors name the option. */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "load/endings.h"
#include "load/options.h"

#include "task.h"

/* n draws of e against the workload the same options make. */
static void expect_same_as_workload(const char *spec, const char *path,
                                    uint64_t seed, size_t n) {
  mlfq_load_opts_t lo;
  mlfq_endings_t e;
  mlfq_workload_t w;
  char err[256];
  size_t i;

  mlfq_load_opts_init(&lo);
  lo.output_len = spec;
  lo.workload = path;
  lo.seed = seed;
  lo.num_requests = n;
  ASSERT_OK(mlfq_load_opts_make(&lo, &w, err, sizeof(err)));
  ASSERT_OK(mlfq_endings_init(&e, spec, path, seed, err, sizeof(err)));
  ASSERT(e.on);
  for (i = 0; i < n; i++)
    ASSERT_EQ(mlfq_endings_draw(&e), w.reqs[i].output_len);
  mlfq_endings_free(&e);
  mlfq_workload_free(&w);
}

TEST(endings, draws_are_the_workloads_lengths) {
  expect_same_as_workload("uniform:1:512", NULL, 7, 1000);
  expect_same_as_workload("zipf:1.2:4000", NULL, 3, 1000);
  expect_same_as_workload("fixed:9", NULL, 1, 10);
  /* A file's rows in order, cycled: 3 rows to 10 requests. */
  expect_same_as_workload("file", MLFQ_DATA_DIR "/figure6.csv", 1, 10);
  expect_same_as_workload(NULL, MLFQ_DATA_DIR "/appendix_b.csv", 1, 250);
}

TEST(endings, seed_decides_the_draws) {
  mlfq_endings_t a, b, c;
  char err[256];
  size_t i, differ = 0;
  uint32_t x;

  ASSERT_OK(mlfq_endings_init(&a, "uniform:1:512", NULL, 7, err, 256));
  ASSERT_OK(mlfq_endings_init(&b, "uniform:1:512", NULL, 7, err, 256));
  ASSERT_OK(mlfq_endings_init(&c, "uniform:1:512", NULL, 8, err, 256));
  for (i = 0; i < 100; i++) {
    x = mlfq_endings_draw(&a);
    ASSERT(x >= 1 && x <= 512);
    ASSERT_EQ(x, mlfq_endings_draw(&b));
    differ += x != mlfq_endings_draw(&c);
  }
  ASSERT_GT(differ, 90);
  mlfq_endings_free(&a);
  mlfq_endings_free(&b);
  mlfq_endings_free(&c);
}

TEST(endings, off_without_a_spec) {
  mlfq_endings_t e;
  char err[256];

  ASSERT_OK(mlfq_endings_init(&e, NULL, NULL, 1, err, sizeof(err)));
  ASSERT(!e.on);
  mlfq_endings_free(&e);
}

TEST(endings, length_is_bounded) {
  /* natural, max_tokens, min_tokens, ignore_eos */
  ASSERT_EQ(mlfq_endings_length(3, 5, 0, 0), 3); /* stop */
  ASSERT_EQ(mlfq_endings_length(9, 5, 0, 0), 5); /* length */
  ASSERT_EQ(mlfq_endings_length(5, 5, 0, 0), 5); /* length */
  ASSERT_EQ(mlfq_endings_length(3, 5, 4, 0), 4); /* min_tokens */
  ASSERT_EQ(mlfq_endings_length(3, 5, 5, 0), 5); /* min_tokens = max */
  ASSERT_EQ(mlfq_endings_length(3, 5, 0, 1), 5); /* ignore_eos */
  ASSERT_EQ(mlfq_endings_length(9, 5, 2, 1), 5); /* ignore_eos */
  ASSERT_EQ(mlfq_endings_length(0, 5, 0, 0), 1); /* at least 1 */
  ASSERT_EQ(mlfq_endings_length(1, 1, 0, 0), 1);
}

TEST(endings, cap_and_counts) {
  mlfq_req_t r[5] = {{0, 1, 1}, {0, 1, 4}, {0, 1, 5}, {0, 1, 6}, {0, 1, 100}};
  mlfq_workload_t w = {r, 5, 0};
  cJSON *doc = cJSON_CreateObject();
  char *s;

  ASSERT_EQ(mlfq_endings_at_cap(&w, 0), 0);
  mlfq_endings_cap(&w, 0); /* no cap */
  ASSERT_EQ(r[4].output_len, 100);
  mlfq_endings_cap(&w, 5);
  ASSERT_EQ(r[0].output_len, 1);
  ASSERT_EQ(r[1].output_len, 4);
  ASSERT_EQ(r[2].output_len, 5);
  ASSERT_EQ(r[3].output_len, 5);
  ASSERT_EQ(r[4].output_len, 5);
  ASSERT_EQ(mlfq_endings_at_cap(&w, 5), 3);
  mlfq_endings_json(doc, &w, 5);
  s = cJSON_PrintUnformatted(doc);
  ASSERT_STR_EQ(s, "{\"max_tokens\":5,\"finish_reasons\":{\"stop\":2,"
                   "\"length\":3}}");
  cJSON_free(s);
  cJSON_Delete(doc);
}

static void expect_error(const char *spec, const char *path, int rc,
                         const char *msg) {
  mlfq_endings_t e;
  char err[256];

  ASSERT_EQ(mlfq_endings_init(&e, spec, path, 1, err, sizeof(err)), rc);
  ASSERT(!e.on);
  ASSERT_CONTAINS(err, msg);
  mlfq_endings_free(&e);
}

TEST(endings, errors_name_the_option) {
  expect_error("file", NULL, MLFQ_EINVAL, "--output-len file needs --workload");
  expect_error("fixed:3", MLFQ_DATA_DIR "/figure6.csv", MLFQ_EINVAL,
               "--workload: only --output-len file reads it");
  expect_error("uniform:5", NULL, MLFQ_EINVAL, "--output-len: bad length spec");
  expect_error("fixed:0", NULL, MLFQ_EINVAL, "--output-len:");
  expect_error(NULL, "/nonexistent/w.csv", -ENOENT, "/nonexistent/w.csv");
}
