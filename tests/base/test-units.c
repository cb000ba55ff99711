/* Exact millisecond conversions and strict number parsing
 * (common/base/units.h). */
#include "base/units.h"
#include "task.h"

/* Parses the NUL-terminated s with no upper bound but UINT64_MAX. */
static int ms_parse(const char *s, uint64_t *ns) {
  return mlfq_ms_parse(s, strlen(s), UINT64_MAX, ns);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  return mlfq_parse_u64(s, strlen(s), max, out);
}

TEST(units, ms_parse_exact) {
  uint64_t ns = 42;

  ASSERT_OK(ms_parse("0.1", &ns));
  ASSERT_EQ_U64(ns, 100000);
  ASSERT_OK(ms_parse("6", &ns));
  ASSERT_EQ_U64(ns, 6000000);
  ASSERT_OK(ms_parse("5.5", &ns));
  ASSERT_EQ_U64(ns, 5500000);
  ASSERT_OK(ms_parse("0.000001", &ns));
  ASSERT_EQ_U64(ns, 1);
  ASSERT_OK(ms_parse("0", &ns));
  ASSERT_EQ_U64(ns, 0);
  ASSERT_OK(ms_parse(".5", &ns));
  ASSERT_EQ_U64(ns, 500000);
  ASSERT_OK(ms_parse("5.", &ns));
  ASSERT_EQ_U64(ns, 5000000);
  ASSERT_OK(ms_parse("007.250", &ns));
  ASSERT_EQ_U64(ns, 7250000);
  ASSERT_OK(ms_parse("123456.789012", &ns));
  ASSERT_EQ_U64(ns, UINT64_C(123456789012));
  /* Only s[0..len) is read. */
  ASSERT_OK(mlfq_ms_parse("1.5xyz", 3, UINT64_MAX, &ns));
  ASSERT_EQ_U64(ns, 1500000);
}

TEST(units, ms_parse_rounds_past_the_ns) {
  uint64_t ns = 42;

  ASSERT_OK(ms_parse("0.0000005", &ns));
  ASSERT_EQ_U64(ns, 1);
  ASSERT_OK(ms_parse("0.0000004999999999", &ns));
  ASSERT_EQ_U64(ns, 0);
  ASSERT_OK(ms_parse("1.2345674", &ns));
  ASSERT_EQ_U64(ns, 1234567);
  ASSERT_OK(ms_parse("1.2345675", &ns));
  ASSERT_EQ_U64(ns, 1234568);
  ASSERT_OK(ms_parse("1.23456749999999999999", &ns));
  ASSERT_EQ_U64(ns, 1234567);
  ASSERT_OK(ms_parse("0.9999995", &ns));
  ASSERT_EQ_U64(ns, 1000000);
  ASSERT_OK(ms_parse("9.99999999", &ns));
  ASSERT_EQ_U64(ns, 10000000);
}

TEST(units, ms_parse_rejects_malformed) {
  static const char *const bad[] = {
      "",      ".",   "-1",  "+1",  " 1",   "1 ",  "1e3",  "0x10",
      "1.2.3", "inf", "nan", "1,5", "1..2", "\t1", "1.-2", "--1"};
  uint64_t ns = 42;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (ms_parse(bad[i], &ns) != MLFQ_EPARSE)
      MLFQ_TEST_FAIL("\"%s\" was not refused as malformed", bad[i]);
  }
  ASSERT_EQ_U64(ns, 42);
  /* Overflowing digits followed by junk are malformed, not out of range. */
  ASSERT_EQ(ms_parse("99999999999999999999999x", &ns), MLFQ_EPARSE);
}

TEST(units, ms_parse_range) {
  uint64_t ns = 42;

  ASSERT_OK(ms_parse("18446744073709.551615", &ns));
  ASSERT_EQ_U64(ns, UINT64_MAX);
  ASSERT_EQ(ms_parse("18446744073709.551616", &ns), MLFQ_ERANGE);
  /* Rounding up past UINT64_MAX. */
  ASSERT_EQ(ms_parse("18446744073709.5516155", &ns), MLFQ_ERANGE);
  ASSERT_OK(ms_parse("18446744073709.5516154", &ns));
  ASSERT_EQ_U64(ns, UINT64_MAX);
  ASSERT_EQ(ms_parse("18446744073710", &ns), MLFQ_ERANGE);
  ASSERT_EQ(ms_parse("99999999999999999999999", &ns), MLFQ_ERANGE);
  ASSERT_EQ(ms_parse("18446744073709551616", &ns), MLFQ_ERANGE);
  ASSERT_OK(mlfq_ms_parse("1", 1, 1000000, &ns));
  ASSERT_EQ_U64(ns, 1000000);
  ASSERT_EQ(mlfq_ms_parse("1.000001", 8, 1000000, &ns), MLFQ_ERANGE);
  ASSERT_EQ(mlfq_ms_parse("0.9999995", 9, 999999, &ns), MLFQ_ERANGE);
  ASSERT_EQ_U64(ns, 1000000);
}

TEST(units, ms_format_exact) {
  char buf[MLFQ_MS_BUFSIZE];

  ASSERT_EQ(mlfq_ms_format(6000000, buf), 1);
  ASSERT_STR_EQ(buf, "6");
  ASSERT_EQ(mlfq_ms_format(5500000, buf), 3);
  ASSERT_STR_EQ(buf, "5.5");
  ASSERT_EQ(mlfq_ms_format(1, buf), 8);
  ASSERT_STR_EQ(buf, "0.000001");
  ASSERT_EQ(mlfq_ms_format(0, buf), 1);
  ASSERT_STR_EQ(buf, "0");
  ASSERT_EQ(mlfq_ms_format(100000, buf), 3);
  ASSERT_STR_EQ(buf, "0.1");
  ASSERT_EQ(mlfq_ms_format(UINT64_C(7305000), buf), 5);
  ASSERT_STR_EQ(buf, "7.305");
  ASSERT_EQ(mlfq_ms_format(UINT64_C(10000000000), buf), 5);
  ASSERT_STR_EQ(buf, "10000");
  ASSERT_EQ(mlfq_ms_format(UINT64_MAX, buf), 21);
  ASSERT_STR_EQ(buf, "18446744073709.551615");
}

TEST(units, ms_round_trips) {
  static const char *const canon[] = {"0",    "1",
                                      "0.1",  "0.000001",
                                      "0.5",  "5.11",
                                      "98.5", "7.305",
                                      "1000", "123456.789012",
                                      "0.01", "3.14159",
                                      "42",   "18446744073709.551615"};
  char buf[MLFQ_MS_BUFSIZE];
  uint64_t ns, back, x;
  size_t i, len;

  for (i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
    ASSERT_OK(ms_parse(canon[i], &ns));
    mlfq_ms_format(ns, buf);
    ASSERT_STR_EQ(buf, canon[i]);
  }
  /* ns -> text -> ns over many magnitudes and digit patterns. */
  x = 1;
  for (i = 0; i < 200000; i++) {
    ns = i < 100000 ? i * 7919 + (i % 13) : x;
    x = x * 6364136223846793005u + 1442695040888963407u;
    len = mlfq_ms_format(ns, buf);
    ASSERT_EQ(len, strlen(buf));
    ASSERT(len < MLFQ_MS_BUFSIZE);
    ASSERT_OK(ms_parse(buf, &back));
    if (back != ns)
      MLFQ_TEST_FAIL("%" PRIu64 " -> \"%s\" -> %" PRIu64, ns, buf, back);
    /* No trailing zeros after a '.', no bare '.'. */
    if (strchr(buf, '.') != NULL)
      ASSERT(buf[len - 1] != '0' && buf[len - 1] != '.');
  }
}

TEST(units, parse_u64_strict) {
  uint64_t v = 42;

  ASSERT_OK(parse_u64("0", UINT32_MAX, &v));
  ASSERT_EQ_U64(v, 0);
  ASSERT_OK(parse_u64("007", UINT32_MAX, &v));
  ASSERT_EQ_U64(v, 7);
  ASSERT_OK(parse_u64("4294967295", UINT32_MAX, &v));
  ASSERT_EQ_U64(v, UINT32_MAX);
  ASSERT_EQ(parse_u64("4294967296", UINT32_MAX, &v), MLFQ_ERANGE);
  ASSERT_OK(parse_u64("18446744073709551615", UINT64_MAX, &v));
  ASSERT_EQ_U64(v, UINT64_MAX);
  ASSERT_EQ(parse_u64("18446744073709551616", UINT64_MAX, &v), MLFQ_ERANGE);
  ASSERT_EQ(parse_u64("99999999999999999999999", UINT64_MAX, &v), MLFQ_ERANGE);
  ASSERT_EQ(parse_u64("", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("-1", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("+1", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64(" 1", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("1 ", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("1.0", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("1e3", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("0x1", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ(parse_u64("99999999999999999999999x", UINT64_MAX, &v), MLFQ_EPARSE);
  ASSERT_EQ_U64(v, UINT64_MAX);
}

TEST(units, parse_double_strict) {
  static const char *const bad[] = {
      "",         " 1",   "1 ",    "\t1", "inf",   "-inf",   "nan", "NaN",
      "infinity", "0x10", "0X1p3", "1e",  "1e+",   "e5",     "abc", "1.2.3",
      "--1",      "+-1",  ".",     "-",   "1e999", "-1e999", "1,5", "1f"};
  double v = 42;
  size_t i;

  ASSERT_OK(mlfq_parse_double("1", &v));
  ASSERT(v == 1.0);
  ASSERT_OK(mlfq_parse_double("-2.5", &v));
  ASSERT(v == -2.5);
  ASSERT_OK(mlfq_parse_double("+3", &v));
  ASSERT(v == 3.0);
  ASSERT_OK(mlfq_parse_double("1e3", &v));
  ASSERT(v == 1000.0);
  ASSERT_OK(mlfq_parse_double("1.5E-2", &v));
  ASSERT(v == 0.015);
  ASSERT_OK(mlfq_parse_double(".5", &v));
  ASSERT(v == 0.5);
  ASSERT_OK(mlfq_parse_double("5.", &v));
  ASSERT(v == 5.0);
  ASSERT_OK(mlfq_parse_double("6.57", &v));
  ASSERT(v == 6.57);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 42;
    if (mlfq_parse_double(bad[i], &v) != MLFQ_EPARSE)
      MLFQ_TEST_FAIL("\"%s\" was not refused", bad[i]);
    ASSERT(v == 42);
  }
}

TEST(units, ms_to_ns_rounds_and_saturates) {
  ASSERT_EQ_U64(mlfq_ms_to_ns(0.1), 100000);
  ASSERT_EQ_U64(mlfq_ms_to_ns(6.57), 6570000);
  ASSERT_EQ_U64(mlfq_ms_to_ns(5.11), 5110000);
  ASSERT_EQ_U64(mlfq_ms_to_ns(0), 0);
  /* 2^-15 ms is 30.517578125 ns exactly; 2^-16 ms is 15.2587890625 ns. */
  ASSERT_EQ_U64(mlfq_ms_to_ns(1.0 / 32768), 31);
  ASSERT_EQ_U64(mlfq_ms_to_ns(1.0 / 65536), 15);
  ASSERT_EQ_U64(mlfq_ms_to_ns(1e13), UINT64_C(10000000000000000000));
  ASSERT_EQ_U64(mlfq_ms_to_ns(-1), 0);
  ASSERT_EQ_U64(mlfq_ms_to_ns(-0.0), 0);
  ASSERT_EQ_U64(mlfq_ms_to_ns(-INFINITY), 0);
  ASSERT_EQ_U64(mlfq_ms_to_ns(NAN), 0);
  ASSERT_EQ_U64(mlfq_ms_to_ns(1e30), UINT64_MAX);
  ASSERT_EQ_U64(mlfq_ms_to_ns(18446744073709.551616), UINT64_MAX);
  ASSERT_EQ_U64(mlfq_ms_to_ns(INFINITY), UINT64_MAX);
}
