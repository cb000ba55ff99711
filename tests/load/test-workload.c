/* Workload files and synthetic workloads (common/load/workload.h,
 * docs/MLFQSIM.md, "Workload files"). */
#include <errno.h>

#include "base/csv.h"
#include "load/workload.h"
#include "task.h"

#define FIG6 MLFQ_DATA_DIR "/figure6.csv"

static int parse(mlfq_workload_t *w, const char *text, char *err,
                 size_t errlen) {
  return mlfq_workload_parse(w, "w.csv", text, strlen(text), err, errlen);
}

/* Asserts that text fails with code and a message containing want, and that
 * nothing is left loaded. */
static void expect_bad(const char *text, int code, const char *want) {
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_EQ(parse(&w, text, err, sizeof(err)), code);
  ASSERT_CONTAINS(err, want);
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);
}

/* A spec reading path with both lengths from the file, arrivals all at
 * time 0 unless the file has them. */
static mlfq_workload_spec_t file_spec(const char *path) {
  mlfq_workload_spec_t s;

  memset(&s, 0, sizeof(s));
  s.path = path;
  s.input.kind = MLFQ_LEN_FILE;
  s.output.kind = MLFQ_LEN_FILE;
  s.arrival.dist = MLFQ_DIST_POISSON;
  s.arrival.rate = 0;
  s.arrival.cv = 1;
  s.arrival.seed = 1;
  return s;
}

/* A synthetic spec: input uniform:1:512, output uniform:1:64, poisson 5/s. */
static mlfq_workload_spec_t synthetic_spec(uint64_t seed) {
  mlfq_workload_spec_t s;

  memset(&s, 0, sizeof(s));
  s.input.kind = MLFQ_LEN_UNIFORM;
  s.input.a = 1;
  s.input.b = 512;
  s.output.kind = MLFQ_LEN_UNIFORM;
  s.output.a = 1;
  s.output.b = 64;
  s.arrival.dist = MLFQ_DIST_POISSON;
  s.arrival.rate = 5;
  s.arrival.cv = 1;
  s.arrival.seed = seed;
  return s;
}

TEST(workload, figure6_values) {
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_OK(mlfq_workload_load(&w, FIG6, err, sizeof(err)));
  ASSERT_EQ(w.n, 3);
  ASSERT_EQ(w.has_arrivals, 0);
  ASSERT_EQ(w.reqs[0].input_len, 5);
  ASSERT_EQ(w.reqs[0].output_len, 2);
  ASSERT_EQ(w.reqs[1].input_len, 1);
  ASSERT_EQ(w.reqs[1].output_len, 2);
  ASSERT_EQ(w.reqs[2].input_len, 2);
  ASSERT_EQ(w.reqs[2].output_len, 2);
  ASSERT_EQ_U64(
      w.reqs[0].arrival_ns + w.reqs[1].arrival_ns + w.reqs[2].arrival_ns, 0);
  mlfq_workload_free(&w);
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);
}

TEST(workload, appendix_b_raw_equals_clean) {
  mlfq_workload_t clean, raw;
  char err[256] = "";
  size_t i;

  ASSERT_OK(mlfq_workload_load(&clean, MLFQ_DATA_DIR "/appendix_b.csv", err,
                               sizeof(err)));
  ASSERT_OK(mlfq_workload_load(&raw, MLFQ_DATA_DIR "/appendix_b_raw.csv", err,
                               sizeof(err)));
  ASSERT_EQ(clean.n, 99);
  ASSERT_EQ(raw.n, 99);
  for (i = 0; i < 99; i++) {
    ASSERT_EQ(raw.reqs[i].input_len, clean.reqs[i].input_len);
    ASSERT_EQ(raw.reqs[i].output_len, clean.reqs[i].output_len);
    ASSERT_EQ_U64(raw.reqs[i].arrival_ns, clean.reqs[i].arrival_ns);
  }
  ASSERT_EQ(clean.reqs[0].input_len, 157);
  ASSERT_EQ(clean.reqs[0].output_len, 48);
  ASSERT_EQ(clean.reqs[48].input_len, 167);
  ASSERT_EQ(clean.reqs[48].output_len, 377);
  ASSERT_EQ(clean.reqs[98].input_len, 313);
  ASSERT_EQ(clean.reqs[98].output_len, 3);
  mlfq_workload_free(&clean);
  mlfq_workload_free(&raw);
}

TEST(workload, arrival_ms_is_exact_and_kept_in_file_order) {
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_OK(parse(&w,
                  "input_length,output_length,arrival_ms\n"
                  "1,1,0.1\n"
                  "2,3,0\n"
                  "4,5,1234.5678905\n"
                  "6,7,50\n"
                  "8,9,1000000000000\n",
                  err, sizeof(err)));
  ASSERT_EQ(w.has_arrivals, 1);
  ASSERT_EQ(w.n, 5);
  ASSERT_EQ_U64(w.reqs[0].arrival_ns, 100000);
  ASSERT_EQ_U64(w.reqs[1].arrival_ns, 0);
  ASSERT_EQ_U64(w.reqs[2].arrival_ns, UINT64_C(1234567891));
  ASSERT_EQ_U64(w.reqs[3].arrival_ns, UINT64_C(50000000));
  ASSERT_EQ_U64(w.reqs[4].arrival_ns, MLFQ_ARRIVAL_MAX_NS);
  ASSERT_EQ(w.reqs[2].input_len, 4);
  ASSERT_EQ(w.reqs[2].output_len, 5);
  mlfq_workload_free(&w);
}

TEST(workload, other_columns_are_ignored) {
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_OK(parse(&w,
                  "id,output_length,note,input_length\n"
                  "7,20,x y,10\n"
                  "8,4294967295,,4294967295\n",
                  err, sizeof(err)));
  ASSERT_EQ(w.n, 2);
  ASSERT_EQ(w.has_arrivals, 0);
  ASSERT_EQ(w.reqs[0].input_len, 10);
  ASSERT_EQ(w.reqs[0].output_len, 20);
  ASSERT_EQ(w.reqs[1].input_len, UINT32_MAX);
  ASSERT_EQ(w.reqs[1].output_len, UINT32_MAX);
  mlfq_workload_free(&w);
}

TEST(workload, accepts_bom_crlf_blanks_and_no_final_newline) {
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_OK(parse(&w,
                  "\xEF\xBB\xBF input_length\t, output_length \r\n"
                  "\r\n"
                  "  \t \n"
                  " 1 ,\t2\t\r\n"
                  "\n"
                  "03 , 4",
                  err, sizeof(err)));
  ASSERT_EQ(w.n, 2);
  ASSERT_EQ(w.reqs[0].input_len, 1);
  ASSERT_EQ(w.reqs[0].output_len, 2);
  ASSERT_EQ(w.reqs[1].input_len, 3);
  ASSERT_EQ(w.reqs[1].output_len, 4);
  mlfq_workload_free(&w);
}

TEST(workload, line_numbers_count_blank_lines_and_crlf) {
  expect_bad("input_length,output_length\r\n"
             "\r\n"
             "1,2\r\n"
             "  \t\r\n"
             "3,abc\r\n",
             MLFQ_EPARSE,
             "w.csv:5: output_length: 'abc' is not a whole number");
  expect_bad("\n\ninput_length,output_length\n\n\n1,0", MLFQ_EPARSE,
             "w.csv:6: output_length: 0 is below 1");
  expect_bad("\xEF\xBB\xBFinput_length,output_length\r\n1,2\r\n\r\n\r\n0,1",
             MLFQ_EPARSE, "w.csv:5: input_length: 0 is below 1");
}

TEST(workload, empty_file_is_error) {
  expect_bad("", MLFQ_EPARSE, "w.csv: empty file");
  expect_bad("\xEF\xBB\xBF", MLFQ_EPARSE, "w.csv: empty file");
  expect_bad("\r\n \n\t\n", MLFQ_EPARSE, "w.csv: empty file");
}

TEST(workload, header_only_is_error) {
  expect_bad("input_length,output_length\n", MLFQ_EPARSE,
             "w.csv: no requests after the header");
  expect_bad("input_length,output_length", MLFQ_EPARSE,
             "w.csv: no requests after the header");
  expect_bad("input_length,output_length\r\n\r\n", MLFQ_EPARSE,
             "w.csv: no requests after the header");
}

TEST(workload, missing_column_is_error) {
  expect_bad("input_length\n1\n", MLFQ_EPARSE,
             "w.csv:1: missing column 'output_length'");
  expect_bad("\noutput_length,arrival_ms\n1,0\n", MLFQ_EPARSE,
             "w.csv:2: missing column 'input_length'");
  expect_bad("input_len,output_length\n1,2\n", MLFQ_EPARSE,
             "w.csv:1: missing column 'input_length'");
}

TEST(workload, duplicate_column_is_error) {
  expect_bad("input_length,output_length,input_length\n1,2,3\n", MLFQ_EPARSE,
             "w.csv:1: duplicate column 'input_length'");
  expect_bad("input_length,output_length,arrival_ms,arrival_ms\n1,2,3,4\n",
             MLFQ_EPARSE, "w.csv:1: duplicate column 'arrival_ms'");
  expect_bad("input_length,output_length,\n1,2,\n", MLFQ_EPARSE,
             "w.csv:1: column 3 has no name");
}

TEST(workload, non_number_is_error) {
  expect_bad("input_length,output_length\n1,2\nabc,3\n", MLFQ_EPARSE,
             "w.csv:3: input_length: 'abc' is not a whole number");
  expect_bad("input_length,output_length\n1,2.5\n", MLFQ_EPARSE,
             "w.csv:2: output_length: '2.5' is not a whole number");
  expect_bad("input_length,output_length\n1e3,2\n", MLFQ_EPARSE,
             "w.csv:2: input_length: '1e3' is not a whole number");
  expect_bad("input_length,output_length\n+1,2\n", MLFQ_EPARSE,
             "w.csv:2: input_length: '+1' is not a whole number");
  expect_bad("input_length,output_length\n1 2,2\n", MLFQ_EPARSE,
             "w.csv:2: input_length: '1 2' is not a whole number");
  expect_bad("input_length,output_length\n1,\n", MLFQ_EPARSE,
             "w.csv:2: output_length: empty field");
}

TEST(workload, zero_is_error) {
  expect_bad("input_length,output_length\n1,2\n3,4\n0,5\n", MLFQ_EPARSE,
             "w.csv:4: input_length: 0 is below 1");
  expect_bad("input_length,output_length\n1,000\n", MLFQ_EPARSE,
             "w.csv:2: output_length: 000 is below 1");
}

TEST(workload, negative_is_error) {
  expect_bad("input_length,output_length\n1,2\n5,-3\n", MLFQ_EPARSE,
             "w.csv:3: output_length: -3 is below 1");
  expect_bad("input_length,output_length\n-0,2\n", MLFQ_EPARSE,
             "w.csv:2: input_length: -0 is below 1");
}

TEST(workload, overflow_is_error) {
  expect_bad("input_length,output_length\n1,2\n3,4\n5,6\n7,99999999999\n",
             MLFQ_ERANGE,
             "w.csv:5: output_length: 99999999999 overflows (max 4294967295)");
  expect_bad("input_length,output_length\n4294967296,1\n", MLFQ_ERANGE,
             "w.csv:2: input_length: 4294967296 overflows (max 4294967295)");
  expect_bad("input_length,output_length\n"
             "1,123456789012345678901234567890\n",
             MLFQ_ERANGE, "w.csv:2: output_length: 1234567890");
}

TEST(workload, too_many_fields_is_error) {
  expect_bad("input_length,output_length\n1,2\n3,4\n5,6,7\n", MLFQ_EPARSE,
             "w.csv:4: 3 fields, the header has 2");
  expect_bad("input_length,output_length\n1,2,\n", MLFQ_EPARSE,
             "w.csv:2: 3 fields, the header has 2");
}

TEST(workload, too_few_fields_is_error) {
  expect_bad("input_length,output_length,arrival_ms\n1,2,3\n4,5\n", MLFQ_EPARSE,
             "w.csv:3: 2 fields, the header has 3");
  expect_bad("input_length,output_length\n1\n", MLFQ_EPARSE,
             "w.csv:2: 1 field, the header has 2");
}

TEST(workload, bad_arrival_ms_is_error) {
  expect_bad("input_length,output_length,arrival_ms\n1,2,x\n", MLFQ_EPARSE,
             "w.csv:2: arrival_ms: 'x' is not a decimal number");
  expect_bad("input_length,output_length,arrival_ms\n1,2,1e3\n", MLFQ_EPARSE,
             "w.csv:2: arrival_ms: '1e3' is not a decimal number");
  expect_bad("input_length,output_length,arrival_ms\n1,2,0\n1,2,-5\n",
             MLFQ_EPARSE, "w.csv:3: arrival_ms: -5 is negative");
  expect_bad(
      "input_length,output_length,arrival_ms\n1,2,1000000000000.000001\n",
      MLFQ_ERANGE,
      "w.csv:2: arrival_ms: 1000000000000.000001 is above the maximum "
      "1000000000000");
  expect_bad("input_length,output_length,arrival_ms\n1,2,\n", MLFQ_EPARSE,
             "w.csv:2: arrival_ms: empty field");
}

TEST(workload, nul_byte_is_error) {
  static const char text[] = "input_length,output_length\n1,2\n3\0,4\n";
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_EQ(mlfq_workload_parse(&w, "w.csv", text, sizeof(text) - 1, err,
                                sizeof(err)),
            MLFQ_EPARSE);
  ASSERT_CONTAINS(err, "w.csv:3: NUL byte");
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);
}

TEST(workload, csv_reader_rows_and_limits) {
  static const char text[] = "\xEF\xBB\xBF a ,b\r\n\r\n,\n x\t\n1,2,3,4";
  mlfq_csv_t c;
  mlfq_field_t f[3];
  char err[128] = "";

  mlfq_csv_init(&c, "t.csv", text, sizeof(text) - 1);
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), 2);
  ASSERT_EQ(c.line, 1);
  ASSERT_EQ(f[0].len, 1);
  ASSERT(f[0].s[0] == 'a');
  ASSERT_EQ(f[1].len, 1);
  ASSERT(f[1].s[0] == 'b');
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), 2);
  ASSERT_EQ(c.line, 3);
  ASSERT_EQ(f[0].len, 0);
  ASSERT_EQ(f[1].len, 0);
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), 1);
  ASSERT_EQ(c.line, 4);
  ASSERT_EQ(f[0].len, 1);
  ASSERT(f[0].s[0] == 'x');
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), MLFQ_EPARSE);
  ASSERT_EQ(c.line, 5);
  ASSERT_STR_EQ(err, "t.csv:5: 4 fields, at most 3 allowed");
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), 0);
  ASSERT_EQ(mlfq_csv_next(&c, f, 3, err, sizeof(err)), 0);
}

TEST(workload, read_file_limits_and_errors) {
  const char *p = mlfq_test_tmpfile(".csv", "0123456789");
  char err[256] = "";
  char *buf = (char *)1;
  size_t len = 99;

  ASSERT_OK(mlfq_read_file(p, 10, &buf, &len, err, sizeof(err)));
  ASSERT_EQ(len, 10);
  ASSERT_STR_EQ(buf, "0123456789");
  free(buf);
  ASSERT_EQ(mlfq_read_file(p, 9, &buf, &len, err, sizeof(err)), MLFQ_ERANGE);
  ASSERT_CONTAINS(err, p);
  ASSERT_CONTAINS(err, "larger than 9 bytes");
  ASSERT(buf == NULL);
  remove(p);

  ASSERT_EQ(
      mlfq_read_file("/nonexistent/w.csv", 100, &buf, &len, err, sizeof(err)),
      -ENOENT);
  ASSERT_STR_EQ(err, "/nonexistent/w.csv: No such file or directory");
  ASSERT_EQ(mlfq_read_file("/", 100, &buf, &len, err, sizeof(err)), -EISDIR);
  ASSERT_STR_EQ(err, "/: Is a directory");
}

TEST(workload, load_errors_name_the_path) {
  mlfq_workload_t w;
  char err[256] = "";
  char want[300];
  const char *p;

  p = mlfq_test_tmpfile(".csv", "input_length,output_length\n1,2\n3,x\n");
  ASSERT_EQ(mlfq_workload_load(&w, p, err, sizeof(err)), MLFQ_EPARSE);
  snprintf(want, sizeof(want), "%s:3: output_length: 'x' is not a whole number",
           p);
  ASSERT_STR_EQ(err, want);
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);
  remove(p);
  ASSERT_EQ(mlfq_workload_load(&w, "/nonexistent/w.csv", err, sizeof(err)),
            -ENOENT);
  ASSERT_CONTAINS(err, "/nonexistent/w.csv: ");
}

TEST(workload, make_takes_file_rows) {
  mlfq_workload_spec_t s = file_spec(FIG6);
  mlfq_workload_t w;
  char err[256] = "";

  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 3);
  ASSERT_EQ(w.has_arrivals, 0);
  ASSERT_EQ(w.reqs[0].input_len, 5);
  ASSERT_EQ(w.reqs[1].input_len, 1);
  ASSERT_EQ(w.reqs[2].input_len, 2);
  ASSERT_EQ(w.reqs[2].output_len, 2);
  /* Rate 0: everything at time 0. */
  ASSERT_EQ_U64(w.reqs[2].arrival_ns, 0);
  mlfq_workload_free(&w);
}

TEST(workload, make_truncates_and_cycles) {
  mlfq_workload_spec_t s = file_spec(MLFQ_DATA_DIR "/appendix_b.csv");
  mlfq_workload_t w, all;
  char err[256] = "";
  size_t i;

  ASSERT_OK(mlfq_workload_load(&all, s.path, err, sizeof(err)));
  s.num_requests = 10;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 10);
  for (i = 0; i < 10; i++) {
    ASSERT_EQ(w.reqs[i].input_len, all.reqs[i].input_len);
    ASSERT_EQ(w.reqs[i].output_len, all.reqs[i].output_len);
  }
  mlfq_workload_free(&w);

  s.num_requests = 250;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 250);
  for (i = 0; i < 250; i++) {
    ASSERT_EQ(w.reqs[i].input_len, all.reqs[i % 99].input_len);
    ASSERT_EQ(w.reqs[i].output_len, all.reqs[i % 99].output_len);
  }
  ASSERT_EQ(w.reqs[99].input_len, 157);
  ASSERT_EQ(w.reqs[249].input_len, all.reqs[51].input_len);
  mlfq_workload_free(&w);
  mlfq_workload_free(&all);
}

TEST(workload, make_uses_file_arrivals) {
  const char *p =
      mlfq_test_tmpfile(".csv", "input_length,output_length,arrival_ms\n"
                                "1,2,30\n3,4,0.1\n5,6,10\n");
  mlfq_workload_spec_t s = file_spec(p);
  mlfq_workload_t w;
  char err[256] = "";

  s.arrival.rate = 10;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 3);
  ASSERT_EQ(w.has_arrivals, 1);
  ASSERT_EQ_U64(w.reqs[0].arrival_ns, 30000000);
  ASSERT_EQ_U64(w.reqs[1].arrival_ns, 100000);
  ASSERT_EQ_U64(w.reqs[2].arrival_ns, 10000000);
  mlfq_workload_free(&w);

  /* Truncating keeps file arrivals; cycling them is an error. */
  s.num_requests = 2;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 2);
  ASSERT_EQ_U64(w.reqs[1].arrival_ns, 100000);
  mlfq_workload_free(&w);
  s.num_requests = 4;
  ASSERT_EQ(mlfq_workload_make(&w, &s, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_CONTAINS(err, p);
  ASSERT_CONTAINS(err, "cannot cycle 3 rows with arrival_ms to 4 requests");
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);
  remove(p);
}

TEST(workload, make_rate_given_overrides_file_arrivals) {
  const char *p =
      mlfq_test_tmpfile(".csv", "input_length,output_length,arrival_ms\n"
                                "1,2,30\n3,4,0.1\n5,6,10\n");
  mlfq_workload_spec_t s = file_spec(p);
  mlfq_workload_t w;
  char err[256] = "";
  size_t i;

  s.arrival.dist = MLFQ_DIST_UNIFORM;
  s.arrival.rate = 10;
  s.rate_given = 1;
  s.num_requests = 7;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 7);
  ASSERT_EQ(w.has_arrivals, 0);
  for (i = 0; i < 7; i++) {
    ASSERT_EQ_U64(w.reqs[i].arrival_ns, i * UINT64_C(100000000));
    ASSERT_EQ(w.reqs[i].input_len, 1 + 2 * (i % 3));
    ASSERT_EQ(w.reqs[i].output_len, 2 + 2 * (i % 3));
  }
  mlfq_workload_free(&w);
  remove(p);
}

TEST(workload, make_synthetic_is_deterministic_per_seed) {
  mlfq_workload_spec_t s = synthetic_spec(7);
  mlfq_workload_t a, b, c;
  mlfq_rng_t rin, rout;
  uint64_t *times;
  char err[256] = "";
  size_t i, same;

  ASSERT_OK(mlfq_workload_make(&a, &s, err, sizeof(err)));
  ASSERT_OK(mlfq_workload_make(&b, &s, err, sizeof(err)));
  ASSERT_EQ(a.n, MLFQ_WORKLOAD_DEFAULT_N);
  ASSERT_EQ(a.has_arrivals, 0);
  ASSERT_EQ(b.n, a.n);
  ASSERT(memcmp(a.reqs, b.reqs, a.n * sizeof(*a.reqs)) == 0);

  /* Exactly the draws of the seed's length streams and arrival process. */
  times = malloc(a.n * sizeof(*times));
  ASSERT(times != NULL);
  mlfq_arrival_schedule(&s.arrival, times, a.n);
  mlfq_rng_seed(&rin, 7, MLFQ_STREAM_INPUT_LEN);
  mlfq_rng_seed(&rout, 7, MLFQ_STREAM_OUTPUT_LEN);
  for (i = 0; i < a.n; i++) {
    ASSERT_EQ(a.reqs[i].input_len, mlfq_lengths_sample(&s.input, &rin));
    ASSERT_EQ(a.reqs[i].output_len, mlfq_lengths_sample(&s.output, &rout));
    ASSERT_EQ_U64(a.reqs[i].arrival_ns, times[i]);
    ASSERT(a.reqs[i].input_len >= 1 && a.reqs[i].input_len <= 512);
    ASSERT(a.reqs[i].output_len >= 1 && a.reqs[i].output_len <= 64);
  }
  ASSERT_EQ_U64(a.reqs[0].arrival_ns, 0);
  ASSERT(a.reqs[a.n - 1].arrival_ns > 0);
  free(times);

  /* Another seed gives other draws. */
  s.arrival.seed = 8;
  ASSERT_OK(mlfq_workload_make(&c, &s, err, sizeof(err)));
  same = 0;
  for (i = 0; i < a.n; i++)
    same += a.reqs[i].input_len == c.reqs[i].input_len;
  ASSERT_LT(same, a.n / 10);
  mlfq_workload_free(&a);
  mlfq_workload_free(&b);
  mlfq_workload_free(&c);

  s.num_requests = 5;
  ASSERT_OK(mlfq_workload_make(&a, &s, err, sizeof(err)));
  ASSERT_EQ(a.n, 5);
  mlfq_workload_free(&a);
}

TEST(workload, make_mixes_file_and_drawn_lengths) {
  mlfq_workload_spec_t s = file_spec(FIG6);
  mlfq_workload_t w;
  char err[256] = "";

  s.output.kind = MLFQ_LEN_FIXED;
  s.output.a = 7;
  s.num_requests = 4;
  ASSERT_OK(mlfq_workload_make(&w, &s, err, sizeof(err)));
  ASSERT_EQ(w.n, 4);
  ASSERT_EQ(w.reqs[0].input_len, 5);
  ASSERT_EQ(w.reqs[3].input_len, 5);
  ASSERT_EQ(w.reqs[2].input_len, 2);
  ASSERT_EQ(w.reqs[0].output_len, 7);
  ASSERT_EQ(w.reqs[3].output_len, 7);
  mlfq_workload_free(&w);
}

TEST(workload, make_errors) {
  mlfq_workload_spec_t s = synthetic_spec(1);
  mlfq_workload_t w;
  char err[256] = "";

  s.input.kind = MLFQ_LEN_FILE;
  ASSERT_EQ(mlfq_workload_make(&w, &s, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "--input-len file needs --workload");
  ASSERT(w.reqs == NULL);

  s = synthetic_spec(1);
  s.output.kind = MLFQ_LEN_FILE;
  ASSERT_EQ(mlfq_workload_make(&w, &s, err, sizeof(err)), MLFQ_EINVAL);
  ASSERT_STR_EQ(err, "--output-len file needs --workload");

  s = synthetic_spec(1);
  s.arrival.rate = -1;
  ASSERT_NE(mlfq_workload_make(&w, &s, err, sizeof(err)), 0);
  ASSERT(w.reqs == NULL);
  ASSERT_EQ(w.n, 0);

  s = file_spec("/nonexistent/w.csv");
  ASSERT_EQ(mlfq_workload_make(&w, &s, err, sizeof(err)), -ENOENT);
  ASSERT_CONTAINS(err, "/nonexistent/w.csv");
  ASSERT(w.reqs == NULL);
}
