/* DESIGN: xoshiro256** (Blackman and Vigna) with its state filled by
 * splitmix64. A (seed, stream) pair is first folded into one 64-bit word by
 * two rounds of the splitmix64 finaliser, a bijection: for a fixed stream
 * every seed gives a different starting word, and for a fixed seed every
 * stream does, and nearby pairs land far apart. The four state words are
 * then the next four splitmix64 outputs from that word, as the xoshiro
 * authors recommend.
 *
 * Every result depends only on the generator's state: the normal and gamma
 * samplers keep no cached second value anywhere, so two generators with one
 * state give one sequence whatever else has been drawn in the process.
 */
#include <math.h>
#include <stdint.h>

#include "base/rng.h"

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) {
  *x += UINT64_C(0x9e3779b97f4a7c15);
  return mix64(*x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mlfq_rng_seed(mlfq_rng_t *r, uint64_t seed, uint64_t stream) {
  uint64_t x;
  int i;

  x = mix64(seed ^ mix64(stream + UINT64_C(0x6a09e667f3bcc909)));
  for (i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
  /* xoshiro's one forbidden state; splitmix64 never yields it in practice. */
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
    r->s[0] = 1;
}

uint64_t mlfq_rng_next(mlfq_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double mlfq_rng_uniform(mlfq_rng_t *r) {
  return (double)(mlfq_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Rejection: accept only draws at or above 2^64 mod n, so that the accepted
 * range holds a whole number of copies of [0, n). At most half the draws are
 * rejected (for n just above 2^63); for small n almost none are. */
uint64_t mlfq_rng_below(mlfq_rng_t *r, uint64_t n) {
  uint64_t threshold;
  uint64_t x;

  if (n <= 1)
    return 0;
  threshold = (0 - n) % n;
  for (;;) {
    x = mlfq_rng_next(r);
    if (x >= threshold)
      return x % n;
  }
}

double mlfq_rng_exp(mlfq_rng_t *r, double mean) {
  /* u in [0, 1), so log1p(-u) is finite and the result is >= 0. */
  return -mean * log1p(-mlfq_rng_uniform(r));
}

/* Marsaglia's polar method; the second value of each pair is discarded. */
double mlfq_rng_normal(mlfq_rng_t *r) {
  double u, v, s;

  do {
    u = 2.0 * mlfq_rng_uniform(r) - 1.0;
    v = 2.0 * mlfq_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return u * sqrt(-2.0 * log(s) / s);
}

/* Marsaglia and Tsang, "A simple method for generating gamma variables"
 * (2000), for shape >= 1. */
static double gamma_ge1(mlfq_rng_t *r, double k) {
  double d = k - 1.0 / 3.0;
  double c = 1.0 / sqrt(9.0 * d);
  double x, v, u;

  for (;;) {
    do {
      x = mlfq_rng_normal(r);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    u = mlfq_rng_uniform(r);
    if (u < 1.0 - 0.0331 * (x * x) * (x * x))
      return d * v;
    if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
      return d * v;
  }
}

double mlfq_rng_gamma(mlfq_rng_t *r, double k, double theta) {
  double g, u;

  if (k >= 1.0)
    return gamma_ge1(r, k) * theta;
  /* Boost: if G ~ Gamma(k + 1) and U ~ U(0, 1], G * U^(1/k) ~ Gamma(k).
   * U excludes 0 so that log(U) is finite. */
  g = gamma_ge1(r, k + 1.0);
  u = 1.0 - mlfq_rng_uniform(r);
  return g * exp(log(u) / k) * theta;
}
