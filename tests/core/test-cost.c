/* The cost model (common/core/cost.h, docs/MODEL.md, "Cost model"). */
#include <errno.h>

#include "core/cost.h"
#include "task.h"

#define HEADER "input_length,prefill_ms,decode_ms\n"

static int parse(mlfq_cost_t *c, const char *text, char *err, size_t errlen) {
  return mlfq_cost_parse_profile(c, "p.csv", text, strlen(text), err, errlen);
}

/* Asserts that text fails to parse with code, with a message that contains
 * want, and leaves the model empty. */
static void expect_bad(const char *text, int code, const char *want) {
  mlfq_cost_t c;
  char err[256] = "";

  ASSERT_EQ(parse(&c, text, err, sizeof(err)), code);
  ASSERT_CONTAINS(err, want);
  ASSERT(c.rows == NULL);
  ASSERT_EQ(c.nrows, 0);
}

TEST(cost, linear_values) {
  mlfq_cost_t c;

  ASSERT_OK(mlfq_cost_linear(&c, 2, 0.01, 5));
  ASSERT_EQ(c.kind, MLFQ_COST_LINEAR);
  ASSERT_STR_EQ(c.source, "linear");
  ASSERT(c.batch_decode_ms_per_seq == 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 0), 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1), 2010000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 100), 3000000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1000), 12000000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 1), 5000000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 4000), 5000000);
  ASSERT_EQ_U64(mlfq_cost_min_decode_ns(&c), 5000000);
  /* Sub-nanosecond parts round to nearest. */
  ASSERT_OK(mlfq_cost_linear(&c, 0, 0.0000004, 0.0000006));
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1), 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 2), 1);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 1), 1);
  /* Saturates instead of wrapping. */
  ASSERT_OK(mlfq_cost_linear(&c, 0, 1e12, 1));
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, UINT64_MAX), UINT64_MAX);
  mlfq_cost_free(&c);
}

TEST(cost, linear_rejects_bad_values) {
  mlfq_cost_t c;

  ASSERT_EQ(mlfq_cost_linear(&c, -1, 0, 5), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_cost_linear(&c, 1, -0.5, 5), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_cost_linear(&c, 1, 0, -5), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_cost_linear(&c, NAN, 0, 5), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_cost_linear(&c, 1, INFINITY, 5), MLFQ_EINVAL);
  ASSERT_EQ(mlfq_cost_linear(&c, 1, 0, INFINITY), MLFQ_EINVAL);
  ASSERT_OK(mlfq_cost_linear(&c, 0, 0, 0));
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 10), 0);
}

TEST(cost, default_profile) {
  mlfq_cost_t c;

  ASSERT_OK(mlfq_cost_default(&c));
  ASSERT_EQ(c.kind, MLFQ_COST_PROFILE);
  ASSERT_EQ(c.nrows, 7);
  ASSERT_STR_EQ(c.source, "profile_opt-1.3b.csv");
  ASSERT(c.batch_decode_ms_per_seq == 0);
  ASSERT_EQ(c.rows[0].input_len, 1);
  ASSERT(c.rows[0].prefill_ms == 5.88);
  ASSERT(c.rows[0].decode_ms == 5.13);
  ASSERT_EQ(c.rows[6].input_len, 1024);
  ASSERT(c.rows[6].prefill_ms == 98.5);
  ASSERT(c.rows[6].decode_ms == 5.82);
  /* The smallest decode time is row 2's (L=4), not row 1's. */
  ASSERT_EQ_U64(mlfq_cost_min_decode_ns(&c), 5110000);
  mlfq_cost_free(&c);
  ASSERT(c.rows == NULL);
  ASSERT_EQ(c.nrows, 0);
}

TEST(cost, default_profile_matches_data_file) {
  mlfq_cost_t d, f;
  char err[256] = "";
  size_t i;

  ASSERT_OK(mlfq_cost_default(&d));
  ASSERT_OK(mlfq_cost_load_profile(&f, MLFQ_DATA_DIR "/profile_opt-1.3b.csv",
                                   err, sizeof(err)));
  ASSERT_STR_EQ(f.source, "profile_opt-1.3b.csv");
  ASSERT_EQ(f.nrows, d.nrows);
  for (i = 0; i < d.nrows; i++) {
    ASSERT_EQ(f.rows[i].input_len, d.rows[i].input_len);
    ASSERT(f.rows[i].prefill_ms == d.rows[i].prefill_ms);
    ASSERT(f.rows[i].decode_ms == d.rows[i].decode_ms);
  }
  mlfq_cost_free(&d);
  mlfq_cost_free(&f);
}

TEST(cost, profile_at_rows) {
  mlfq_cost_t c;

  ASSERT_OK(mlfq_cost_default(&c));
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 0), 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1), 5880000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 4), 5930000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 16), 6570000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 64), 8040000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 256), 23800000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 512), 43900000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1024), 98500000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 1), 5130000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 4), 5110000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 16), 5160000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 512), 5720000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 1024), 5820000);
  mlfq_cost_free(&c);
}

TEST(cost, profile_interpolates_between_rows) {
  mlfq_cost_t c;

  ASSERT_OK(mlfq_cost_default(&c));
  /* L=40 is midway between 16 (6.57, 5.16) and 64 (8.04, 5.22). */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 40), 7305000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 40), 5190000);
  /* A quarter of the way from 64 (8.04) to 256 (23.8): 8.04 + 3.94. */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 112), 11980000);
  /* Midway between 512 and 1024. */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 768), 71200000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 768), 5770000);
  /* One token past a row. */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 2), 5896667);
  mlfq_cost_free(&c);
}

TEST(cost, profile_extrapolates_from_the_nearest_rows) {
  mlfq_cost_t c;
  char err[256] = "";

  ASSERT_OK(mlfq_cost_default(&c));
  /* Beyond 1024 along the line through 512 and 1024. */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 2048), 207700000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 2048), 6020000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1536), 153100000);
  /* Below 1 along the line through 1 and 4. */
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 0), 5136667);
  mlfq_cost_free(&c);

  /* Clamped at 0 when the line falls below it. */
  ASSERT_OK(parse(&c, HEADER "1,10,5\n2,1,4\n", err, sizeof(err)));
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 2), 1000000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 3), 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 100), 0);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 6), 0);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 5), 1000000);
  mlfq_cost_free(&c);
}

TEST(cost, one_row_profile_is_constant) {
  mlfq_cost_t c;
  char err[256] = "";

  ASSERT_OK(parse(&c, HEADER "8,3.5,2\n", err, sizeof(err)));
  ASSERT_EQ(c.nrows, 1);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 0), 0);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 1), 3500000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 8), 3500000);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 100000), 3500000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 1), 2000000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, UINT32_MAX), 2000000);
  ASSERT_EQ_U64(mlfq_cost_min_decode_ns(&c), 2000000);
  mlfq_cost_free(&c);
}

TEST(cost, profile_columns_in_any_order) {
  mlfq_cost_t c;
  char err[256] = "";

  ASSERT_OK(parse(&c,
                  "\xEF\xBB\xBF decode_ms ,input_length,note,prefill_ms\r\n"
                  "\r\n"
                  "5, 1 ,a,10\r\n"
                  "7,3,b,20",
                  err, sizeof(err)));
  ASSERT_STR_EQ(c.source, "p.csv");
  ASSERT_EQ(c.nrows, 2);
  ASSERT_EQ(c.rows[1].input_len, 3);
  ASSERT(c.rows[1].prefill_ms == 20);
  ASSERT(c.rows[1].decode_ms == 7);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 2), 15000000);
  ASSERT_EQ_U64(mlfq_cost_decode_ns(&c, 2), 6000000);
  mlfq_cost_free(&c);
}

TEST(cost, batch_ns) {
  mlfq_cost_t c;
  uint32_t lens[] = {1, 16, 40, 100, 1024, 3000};
  size_t i;

  ASSERT_OK(mlfq_cost_default(&c));
  /* With max_batch 1 a batch is one job: prefill alone or one decode. */
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, lens[i], 0, 0),
                  mlfq_cost_prefill_ns(&c, lens[i]));
    ASSERT_EQ_U64(
        mlfq_cost_batch_ns(&c, 0, mlfq_cost_decode_ns(&c, lens[i]), 1),
        mlfq_cost_decode_ns(&c, lens[i]));
  }
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, 0, 0), 0);
  /* Without a per-sequence cost only the slowest decode counts. */
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, 5820000, 8), 5820000);
  /* prefill(100) = 8.04 + 15.76 * 36 / 192 = 10.995 ms. */
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&c, 100), 10995000);
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 100, 5820000, 1), 16815000);
  c.batch_decode_ms_per_seq = 0.5;
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 100, 5820000, 3), 17815000);
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, 5820000, 3), 6820000);
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 100, 0, 0), 10995000);
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, 5000000, 1), 5000000);
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, UINT64_MAX - 1, 3), UINT64_MAX);
  c.batch_decode_ms_per_seq = 1e12;
  ASSERT_EQ_U64(mlfq_cost_batch_ns(&c, 0, 1, UINT32_MAX), UINT64_MAX);
  mlfq_cost_free(&c);
}

TEST(cost, copy_is_deep) {
  mlfq_cost_t a, b;

  ASSERT_OK(mlfq_cost_default(&a));
  a.batch_decode_ms_per_seq = 0.25;
  ASSERT_OK(mlfq_cost_copy(&b, &a));
  ASSERT(b.rows != a.rows);
  ASSERT_EQ(b.nrows, 7);
  ASSERT(b.batch_decode_ms_per_seq == 0.25);
  ASSERT_STR_EQ(b.source, "profile_opt-1.3b.csv");
  a.rows[2].prefill_ms = 1000;
  mlfq_cost_free(&a);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&b, 16), 6570000);
  mlfq_cost_free(&b);

  ASSERT_OK(mlfq_cost_linear(&a, 1, 2, 3));
  ASSERT_OK(mlfq_cost_copy(&b, &a));
  ASSERT(b.rows == NULL);
  ASSERT_EQ_U64(mlfq_cost_prefill_ns(&b, 1), 3000000);
  ASSERT_STR_EQ(b.source, "linear");
}

TEST(cost, bad_profiles_name_file_and_line) {
  expect_bad("", MLFQ_EPARSE, "p.csv: empty file");
  expect_bad("\n  \n", MLFQ_EPARSE, "p.csv: empty file");
  expect_bad(HEADER, MLFQ_EPARSE, "p.csv: no rows after the header");
  expect_bad("input_length,prefill_ms\n1,2\n", MLFQ_EPARSE,
             "p.csv:1: missing column 'decode_ms'");
  expect_bad("\ninput_length,decode_ms\n1,2\n", MLFQ_EPARSE,
             "p.csv:2: missing column 'prefill_ms'");
  expect_bad("input_length,prefill_ms,decode_ms,prefill_ms\n", MLFQ_EPARSE,
             "p.csv:1: duplicate column 'prefill_ms'");
  /* Unsorted: decreasing, and equal. */
  expect_bad(HEADER "1,5,5\n16,6,5\n4,7,5\n", MLFQ_EPARSE,
             "p.csv:4: input_length: 4 is not above the previous row's 16");
  expect_bad(HEADER "1,5,5\n\n1,6,5\n", MLFQ_EPARSE,
             "p.csv:4: input_length: 1 is not above the previous row's 1");
  expect_bad(HEADER "1,5,5\n2,-1,5\n", MLFQ_EPARSE,
             "p.csv:3: prefill_ms: -1 is negative");
  expect_bad(HEADER "1,5,-0.5\n", MLFQ_EPARSE,
             "p.csv:2: decode_ms: -0.5 is negative");
  expect_bad(HEADER "1,inf,5\n", MLFQ_EPARSE,
             "p.csv:2: prefill_ms: 'inf' is not a number");
  expect_bad(HEADER "1,5,nan\n", MLFQ_EPARSE,
             "p.csv:2: decode_ms: 'nan' is not a number");
  expect_bad(HEADER "1,1e999,5\n", MLFQ_EPARSE,
             "p.csv:2: prefill_ms: '1e999' is not a number");
  expect_bad(HEADER "1,5,\n", MLFQ_EPARSE, "p.csv:2: decode_ms: empty field");
  expect_bad(HEADER "0,5,5\n", MLFQ_EPARSE,
             "p.csv:2: input_length: 0 is below 1");
  expect_bad(HEADER "1.5,5,5\n", MLFQ_EPARSE,
             "p.csv:2: input_length: '1.5' is not a whole number");
  expect_bad(HEADER "4294967296,5,5\n", MLFQ_ERANGE,
             "p.csv:2: input_length: 4294967296 overflows (max 4294967295)");
  expect_bad(HEADER "1,5\n", MLFQ_EPARSE,
             "p.csv:2: 2 fields, the header has 3");
  expect_bad(HEADER "1,5,5,6\n", MLFQ_EPARSE,
             "p.csv:2: 4 fields, the header has 3");
}

TEST(cost, load_profile_errors_name_the_path) {
  mlfq_cost_t c;
  char err[256] = "";
  const char *p;

  ASSERT_EQ(
      mlfq_cost_load_profile(&c, "/nonexistent/prof.csv", err, sizeof(err)),
      -ENOENT);
  ASSERT_CONTAINS(err, "/nonexistent/prof.csv: ");
  ASSERT_CONTAINS(err, strerror(ENOENT));
  ASSERT(c.rows == NULL);

  p = mlfq_test_tmpfile(".csv", HEADER "1,5,5\n2,x,5\n");
  ASSERT_EQ(mlfq_cost_load_profile(&c, p, err, sizeof(err)), MLFQ_EPARSE);
  ASSERT_CONTAINS(err, p);
  ASSERT_CONTAINS(err, ":3: prefill_ms: 'x' is not a number");
  ASSERT(c.rows == NULL);
  remove(p);
}

/* A profile of n rows 1..n. */
static char *rows_text(size_t n) {
  char *t = malloc(sizeof(HEADER) + n * 32), *p;
  size_t i;

  ASSERT(t != NULL);
  p = t + sprintf(t, HEADER);
  for (i = 1; i <= n; i++)
    p += sprintf(p, "%zu,%zu.5,5\n", i, i);
  return t;
}

/* MLFQ_COST_MAX_ROWS rows are a profile; one more is refused, naming the
 * line and the bound (mlfqd accepted up to 64 MB of rows, then sent them
 * all to every client). */
TEST(cost, profile_row_bound) {
  mlfq_cost_t c;
  char err[256] = "", want[128], *t;

  t = rows_text(MLFQ_COST_MAX_ROWS);
  ASSERT_OK(parse(&c, t, err, sizeof(err)));
  ASSERT_EQ(c.nrows, MLFQ_COST_MAX_ROWS);
  ASSERT_EQ(mlfq_cost_prefill_ns(&c, MLFQ_COST_MAX_ROWS),
            (uint64_t)MLFQ_COST_MAX_ROWS * 1000000 + 500000);
  mlfq_cost_free(&c);
  free(t);
  t = rows_text(MLFQ_COST_MAX_ROWS + 1);
  snprintf(want, sizeof(want), "p.csv:%d: more than %d rows",
           MLFQ_COST_MAX_ROWS + 2, MLFQ_COST_MAX_ROWS);
  expect_bad(t, MLFQ_ERANGE, want);
  free(t);
}
