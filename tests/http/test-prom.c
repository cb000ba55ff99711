/* common/http/prom.c: label values escaped whole (every escape, no cut however
 * long), lines with no length limit but the buffer's, a histogram's lines
 * and its inclusive bounds, vLLM's 1-2-5 bounds, and a full buffer
 * reported, not written in part. */
#include <stdlib.h>
#include <string.h>

#include "http/prom.h"
#include "task.h"

/* b's bytes as a string (freed by the caller). */
static char *text(const mlfq_buf_t *b) {
  char *s = malloc(b->len + 1);

  ASSERT(s != NULL);
  memcpy(s, b->data, b->len);
  s[b->len] = '\0';
  return s;
}

TEST(prom, escape_every_special) {
  mlfq_buf_t b;
  char *s;

  mlfq_buf_init(&b, 1024);
  ASSERT_OK(mlfq_prom_escape(&b, "a\"b\\c\nd"));
  s = text(&b);
  ASSERT_STR_EQ(s, "a\\\"b\\\\c\\nd");
  free(s);
  b.len = 0;
  ASSERT_OK(mlfq_prom_escape(&b, "\"\\\n"));
  s = text(&b);
  ASSERT_STR_EQ(s, "\\\"\\\\\\n");
  free(s);
  b.len = 0;
  ASSERT_OK(mlfq_prom_escape(&b, ""));
  ASSERT_EQ(b.len, 0);
  mlfq_buf_free(&b);
}

/* A label value of 10,000 bytes, half of them to escape, comes out whole
 * in one line of 20,000 bytes and more (the writer had 512). */
TEST(prom, long_label_whole) {
  enum { N = 10000 };
  char *v = malloc(N + 1), *want, *s;
  mlfq_buf_t lab, b;
  size_t i, k = 0;

  ASSERT(v != NULL);
  want = malloc(2 * N + 64);
  ASSERT(want != NULL);
  k += (size_t)sprintf(want, "m{model_name=\"");
  for (i = 0; i < N; i++) {
    v[i] = i % 2 ? '"' : 'x';
    if (v[i] == '"')
      want[k++] = '\\';
    want[k++] = v[i];
  }
  v[N] = '\0';
  sprintf(want + k, "\",level=\"2\"} 1.5\n");

  mlfq_buf_init(&lab, 1 << 20);
  mlfq_buf_init(&b, 1 << 20);
  ASSERT_OK(mlfq_prom_label(&lab, "model_name", v));
  ASSERT_OK(mlfq_prom_label(&lab, "level", "2"));
  ASSERT_EQ(strlen((const char *)lab.data), lab.len);
  ASSERT_OK(mlfq_prom_value(&b, "m", (const char *)lab.data, 1.5));
  s = text(&b);
  ASSERT_STR_EQ(s, want);
  free(s);
  free(want);
  free(v);
  mlfq_buf_free(&lab);
  mlfq_buf_free(&b);
}

/* A histogram with a long label: its _sum and _count lines carry it twice
 * on one call (the case that failed /metrics with a 200-byte model). */
TEST(prom, hist_long_label) {
  static const double bounds[2] = {0.5, 1};
  mlfq_prom_hist_t h;
  mlfq_buf_t lab, b;
  char v[1001], *s, *want;

  memset(v, 'm', sizeof(v) - 1);
  v[sizeof(v) - 1] = '\0';
  mlfq_prom_hist_init(&h, bounds, 2);
  mlfq_prom_hist_add(&h, 0.25);
  mlfq_prom_hist_add(&h, 2);
  mlfq_buf_init(&lab, 1 << 16);
  mlfq_buf_init(&b, 1 << 16);
  ASSERT_OK(mlfq_prom_label(&lab, "model_name", v));
  ASSERT_OK(mlfq_prom_hist_write(&b, "t", (const char *)lab.data, &h));
  want = malloc(8 * sizeof(v) + 256);
  ASSERT(want != NULL);
  sprintf(want,
          "t_bucket{model_name=\"%s\",le=\"0.5\"} 1\n"
          "t_bucket{model_name=\"%s\",le=\"1\"} 1\n"
          "t_bucket{model_name=\"%s\",le=\"+Inf\"} 2\n"
          "t_sum{model_name=\"%s\"} 2.25\n"
          "t_count{model_name=\"%s\"} 2\n",
          v, v, v, v, v);
  s = text(&b);
  ASSERT_STR_EQ(s, want);
  free(s);
  free(want);
  mlfq_buf_free(&lab);
  mlfq_buf_free(&b);
}

/* No labels, and the head lines. */
TEST(prom, plain_lines) {
  mlfq_buf_t b;
  char *s;

  mlfq_buf_init(&b, 4096);
  ASSERT_OK(mlfq_prom_head(&b, "up", "gauge", "Whether it is up."));
  ASSERT_OK(mlfq_prom_value(&b, "up", NULL, 1));
  ASSERT_OK(mlfq_prom_value(&b, "up", "", 0.1));
  s = text(&b);
  ASSERT_STR_EQ(s, "# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n"
                   "up 0.1\n");
  free(s);
  mlfq_buf_free(&b);
}

/* A line that does not fit the buffer's maximum is refused whole, and one
 * that fits it to the byte is written. */
TEST(prom, full_buffer) {
  mlfq_buf_t b;
  char *s;

  mlfq_buf_init(&b, 6); /* "up 1\n" is 5 bytes */
  ASSERT_OK(mlfq_prom_value(&b, "up", NULL, 1));
  ASSERT_EQ(mlfq_prom_value(&b, "up", NULL, 1), MLFQ_ERANGE);
  ASSERT_EQ(b.len, 5);
  mlfq_buf_free(&b);
  mlfq_buf_init(&b, 5);
  ASSERT_OK(mlfq_prom_value(&b, "up", NULL, 1));
  s = text(&b);
  ASSERT_STR_EQ(s, "up 1\n");
  free(s);
  mlfq_buf_free(&b);
  mlfq_buf_init(&b, 4);
  ASSERT_EQ(mlfq_prom_value(&b, "up", NULL, 1), MLFQ_ERANGE);
  ASSERT_EQ(b.len, 0);
  mlfq_buf_free(&b);
}

/* vLLM's 1-2-5 bounds for lengths: up to top inclusive, at most max of
 * them, exact decimal values however large, none below 1. */
TEST(prom, buckets_125) {
  static const double want[7] = {1, 2, 5, 10, 20, 50, 100};
  double b[MLFQ_PROM_MAX_BUCKETS];
  size_t i, n;

  n = mlfq_prom_buckets_125(b, MLFQ_PROM_MAX_BUCKETS, 100);
  ASSERT_EQ(n, 7);
  for (i = 0; i < n; i++)
    ASSERT(b[i] == want[i]);
  ASSERT_EQ(mlfq_prom_buckets_125(b, MLFQ_PROM_MAX_BUCKETS, 99), 6);
  ASSERT_EQ(mlfq_prom_buckets_125(b, MLFQ_PROM_MAX_BUCKETS, 0.5), 0);
  ASSERT_EQ(mlfq_prom_buckets_125(b, 4, 100), 4);
  ASSERT(b[3] == 10);
  /* 2^32 + 2^32, the longest request of the largest limits: 5e9 is the
   * last, 30 bounds in all, within the histograms' 32. */
  n = mlfq_prom_buckets_125(b, MLFQ_PROM_MAX_BUCKETS, 8589934590.0);
  ASSERT_EQ(n, 30);
  ASSERT(b[27] == 1e9 && b[28] == 2e9 && b[29] == 5e9);
}

/* An observation equal to a bound counts in that bound's bucket (le is
 * "less or equal"); above the last, only in +Inf. */
TEST(prom, hist_bound_inclusive) {
  double bounds[MLFQ_PROM_MAX_BUCKETS];
  mlfq_prom_hist_t h;
  mlfq_buf_t b;
  char *s;

  mlfq_prom_hist_init(&h, bounds,
                      mlfq_prom_buckets_125(bounds, MLFQ_PROM_MAX_BUCKETS, 5));
  mlfq_prom_hist_add(&h, 2);
  mlfq_prom_hist_add(&h, 2.5);
  mlfq_prom_hist_add(&h, 6);
  mlfq_buf_init(&b, 4096);
  ASSERT_OK(mlfq_prom_hist_write(&b, "x", NULL, &h));
  s = text(&b);
  ASSERT_STR_EQ(s, "x_bucket{le=\"1\"} 0\nx_bucket{le=\"2\"} 1\n"
                   "x_bucket{le=\"5\"} 2\nx_bucket{le=\"+Inf\"} 3\n"
                   "x_sum 10.5\nx_count 3\n");
  free(s);
  mlfq_buf_free(&b);
}
