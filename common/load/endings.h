/* Natural endings (docs/MODEL.md, "Natural endings"): how many tokens a
 * request generates when its client only bounds it (max_tokens), as a
 * real model ends most answers on its own.
 *
 * A request's natural length L comes from a length distribution
 * (lengths.h: fixed:N, uniform:A:B, zipf:S:MAX), drawn from the
 * MLFQ_STREAM_OUTPUT_LEN stream of a seed, or from the output_length
 * column of a workload file, row after row. Either way the k-th draw is
 * the k-th request's output length in mlfqsim and loadgen with the same
 * --output-len, --workload and --seed. Not thread-safe: one user.
 */
#ifndef MLFQ_ENDINGS_H
#define MLFQ_ENDINGS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "base/rng.h"
#include "load/lengths.h"
#include "load/workload.h"

typedef struct {
  int on;              /* a distribution or a file was given */
  mlfq_lengths_t dist; /* MLFQ_LEN_FILE: the file's column */
  mlfq_workload_t file;
  size_t next; /* the file's next row */
  mlfq_rng_t rng;
} mlfq_endings_t;

/* Makes e from --output-len spec and --workload path (either may be NULL:
 * no spec with a path means "file"; neither leaves e off). Returns 0, or
 * MLFQ_EINVAL (MLFQ_ENOMEM, a file's error) with err naming the option. */
int mlfq_endings_init(mlfq_endings_t *e, const char *spec, const char *path,
                      uint64_t seed, char *err, size_t errlen);

/* The next natural length, at least 1; e must be on. */
uint32_t mlfq_endings_draw(mlfq_endings_t *e);

/* The tokens a request generates: max_tokens when ignore_eos, else its
 * natural length raised to min_tokens and capped at max_tokens. It ends
 * "stop" when that is below max_tokens, "length" otherwise. */
uint32_t mlfq_endings_length(uint32_t natural, uint32_t max_tokens,
                             uint32_t min_tokens, int ignore_eos);

/* Caps the output lengths of w's requests at max_tokens (0: no cap), as a
 * client's max_tokens would. */
void mlfq_endings_cap(mlfq_workload_t *w, uint32_t max_tokens);

/* How many of w's requests end "length" under max_tokens (their output
 * length reaches it); the others end "stop". 0 when max_tokens is 0. */
size_t mlfq_endings_at_cap(const mlfq_workload_t *w, uint32_t max_tokens);

/* Adds "max_tokens" and "finish_reasons": {"stop", "length"} of w to the
 * JSON document doc of mlfqsim or loadgen (compare.h), when max_tokens is
 * not 0. */
void mlfq_endings_json(cJSON *doc, const mlfq_workload_t *w,
                       uint32_t max_tokens);

void mlfq_endings_free(mlfq_endings_t *e);

#endif
