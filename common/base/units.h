/* Exact conversions between model milliseconds and integer nanoseconds, and
 * strict number parsing shared by every input path (files and options).
 *
 * Inside the project every time is an integer count of nanoseconds of model
 * time. Users speak milliseconds, so these functions convert at the edges
 * and do it exactly: "0.1" is 100000 ns, and 100000 ns prints as "0.1".
 */
#ifndef MLFQ_UNITS_H
#define MLFQ_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define MLFQ_NS_PER_MS UINT64_C(1000000)
#define MLFQ_NS_PER_S UINT64_C(1000000000)

/* The largest model time: 2^63 - 1 ns, about 292 years. Every time the
 * simulator or the daemon computes is at most this, so none can be
 * mistaken for MLFQ_TIME_NONE (UINT64_MAX, "never"); a computation that
 * would pass it is an error. */
#define MLFQ_TIME_MAX UINT64_C(9223372036854775807)
#define MLFQ_TIME_MAX_TEXT "about 292 years of model time"

/* Room for any formatted uint64 millisecond value plus the NUL. */
#define MLFQ_MS_BUFSIZE 32

/* Parses s[0..len) as a non-negative decimal number of milliseconds: digits,
 * optionally a '.' and more digits (at least one digit in all; no sign,
 * exponent, spaces or other characters). Fraction digits past the
 * nanosecond are rounded to the nearest nanosecond. Stores the result in
 * *ns. Returns 0, MLFQ_EPARSE if s is not such a number, or MLFQ_ERANGE if
 * it exceeds max_ns. */
int mlfq_ms_parse(const char *s, size_t len, uint64_t max_ns, uint64_t *ns);

/* Writes ns as milliseconds, exactly, with no trailing zeros and no '.' for
 * whole values ("6", "5.5", "0.000001") into buf, which must hold
 * MLFQ_MS_BUFSIZE bytes. Returns the length written (without the NUL). */
size_t mlfq_ms_format(uint64_t ns, char *buf);

/* Parses s[0..len) as a decimal unsigned integer (digits only). Returns 0,
 * MLFQ_EPARSE if it is not one, or MLFQ_ERANGE if it exceeds max. */
int mlfq_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

/* Parses the NUL-terminated s as a finite decimal number (optional sign,
 * digits, optional fraction and exponent; "inf"/"nan"/hex are refused).
 * Returns 0 or MLFQ_EPARSE. */
int mlfq_parse_double(const char *s, double *out);

/* Rounds ms to the nearest nanosecond; negative and NaN give 0, values past
 * UINT64_MAX ns saturate. */
uint64_t mlfq_ms_to_ns(double ms);

static inline double mlfq_ns_to_ms(uint64_t ns) { return (double)ns / 1e6; }

/* a + b and a * b, UINT64_MAX when they would overflow. */
static inline uint64_t mlfq_add_sat(uint64_t a, uint64_t b) {
  return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static inline uint64_t mlfq_mul_sat(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

#endif
