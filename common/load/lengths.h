/* Length distributions for synthetic workloads (--input-len, --output-len).
 *
 * Spec syntax:
 *   fixed:N        every request has length N
 *   uniform:A:B    integers uniform in [A, B]
 *   zipf:S:MAX     P(k) proportional to k^-S for k in [1, MAX], S > 0
 *   file           the column of the workload file
 * Lengths are integers in [1, 4294967295].
 */
#ifndef MLFQ_LENGTHS_H
#define MLFQ_LENGTHS_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

typedef enum {
  MLFQ_LEN_FIXED = 0,
  MLFQ_LEN_UNIFORM = 1,
  MLFQ_LEN_ZIPF = 2,
  MLFQ_LEN_FILE = 3
} mlfq_len_kind_t;

/* Largest zipf MAX accepted (its table holds MAX doubles). */
#define MLFQ_ZIPF_MAX_N 10000000u

typedef struct {
  mlfq_len_kind_t kind;
  uint32_t a;   /* fixed: N; uniform: A */
  uint32_t b;   /* uniform: B; zipf: MAX */
  double s;     /* zipf exponent */
  double *_cdf; /* zipf: cumulative probabilities, b entries */
} mlfq_lengths_t;

/* Parses spec into l. Returns 0, or MLFQ_EINVAL with a message naming the
 * spec in err. Free with mlfq_lengths_free. */
int mlfq_lengths_parse(mlfq_lengths_t *l, const char *spec, char *err,
                       size_t errlen);

/* Draws one length; l->kind must not be MLFQ_LEN_FILE. */
uint32_t mlfq_lengths_sample(const mlfq_lengths_t *l, mlfq_rng_t *r);

/* Writes the canonical spec ("uniform:1:512") to buf; returns its length as
 * snprintf does. */
int mlfq_lengths_format(const mlfq_lengths_t *l, char *buf, size_t len);

void mlfq_lengths_free(mlfq_lengths_t *l);

#endif
