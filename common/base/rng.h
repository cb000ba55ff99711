/* Seeded pseudo-random numbers: xoshiro256** seeded through splitmix64.
 *
 * Each consumer takes its own stream (seed, stream), so that, for example,
 * changing the output-length distribution does not change the arrival
 * times drawn from the same seed. Not thread-safe: one generator per user.
 */
#ifndef MLFQ_RNG_H
#define MLFQ_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} mlfq_rng_t;

/* Well-known stream numbers. */
enum {
  MLFQ_STREAM_ARRIVAL = 1,
  MLFQ_STREAM_INPUT_LEN = 2,
  MLFQ_STREAM_OUTPUT_LEN = 3,
  MLFQ_STREAM_FAULTS = 8 /* mlfqd's failure injection (server/faults.c) */
};

void mlfq_rng_seed(mlfq_rng_t *r, uint64_t seed, uint64_t stream);
uint64_t mlfq_rng_next(mlfq_rng_t *r);
/* Uniform in [0, 1) with 53 random bits. */
double mlfq_rng_uniform(mlfq_rng_t *r);
/* Uniform integer in [0, n), unbiased; n >= 1. */
uint64_t mlfq_rng_below(mlfq_rng_t *r, uint64_t n);
/* Exponential with the given mean (> 0). */
double mlfq_rng_exp(mlfq_rng_t *r, double mean);
/* Standard normal. */
double mlfq_rng_normal(mlfq_rng_t *r);
/* Gamma with shape k > 0 and scale theta > 0 (mean k * theta). */
double mlfq_rng_gamma(mlfq_rng_t *r, double k, double theta);

#endif
