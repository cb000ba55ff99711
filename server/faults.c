/* DESIGN
 *
 * Which fault an HTTP completion gets (docs/HTTP.md, "Failure
 * injection"), as a mock LLM backend offers them: a seeded rate and a set
 * of kinds. The generator is a stream of its own (MLFQ_STREAM_FAULTS), so
 * that a fault sequence depends only on the seed, the options and the
 * order in which requests are decided, never on the scheduler or the
 * clock. Every request draws one number (the rate); a faulted one draws
 * its kind and a drop point too, whether or not its kind needs one, so
 * that adding a kind to the set does not shift the draws of requests that
 * get none. The counters are /metrics'. completion.c carries the faults
 * out (the 429 and 500, the close, the timer).
 */
#include "faults.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "http/prom.h"

static const char *const names[FAULT_KINDS] = {
    "none", "rate-limit", "server-error", "drop", "slow-first-token"};

void faults_opts_init(faults_opts_t *o) {
  o->rate = 0;
  o->kinds = FAULTS_ALL;
  o->slow_ms = 1000;
  o->seed = 1;
}

const char *faults_name(fault_kind_t k) {
  return (unsigned)k < FAULT_KINDS ? names[k] : "?";
}

/* The kind named by the n bytes at s, or FAULT_NONE. */
static fault_kind_t kind_of(const char *s, size_t n) {
  unsigned k;

  for (k = FAULT_NONE + 1; k < FAULT_KINDS; k++)
    if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
      return (fault_kind_t)k;
  return FAULT_NONE;
}

int faults_parse_kinds(const char *s, unsigned *kinds, char *err,
                       size_t errlen) {
  unsigned set = 0;
  const char *p = s;
  size_t n;
  fault_kind_t k;

  for (;;) {
    n = strcspn(p, ",");
    k = kind_of(p, n);
    if (k == FAULT_NONE)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "'%.*s' in '%s' is not rate-limit, server-error, drop "
                       "or slow-first-token",
                       (int)n, p, s);
    set |= 1u << k;
    if (p[n] == '\0')
      break;
    p += n + 1;
  }
  *kinds = set;
  return 0;
}

void faults_init(faults_t *f, const faults_opts_t *o) {
  unsigned k;

  memset(f, 0, sizeof(*f));
  f->o = *o;
  mlfq_rng_seed(&f->rng, o->seed, MLFQ_STREAM_FAULTS);
  for (k = FAULT_NONE + 1; k < FAULT_KINDS; k++)
    if (o->kinds & (1u << k))
      f->list[f->nlist++] = (fault_kind_t)k;
}

fault_t faults_draw(faults_t *f) {
  fault_t ft = {FAULT_NONE, 0};

  f->drawn++;
  /* u < rate: rate 0 never faults, rate 1 always does (u < 1). */
  if (f->nlist == 0 || !(mlfq_rng_uniform(&f->rng) < f->o.rate))
    return ft;
  ft.kind = f->list[mlfq_rng_below(&f->rng, f->nlist)];
  ft.at = mlfq_rng_uniform(&f->rng);
  f->injected[ft.kind]++;
  return ft;
}

uint64_t faults_drop_after(const fault_t *ft, uint64_t output) {
  uint64_t k;

  if (output < 2)
    return 0;
  /* at in [0, 1): 1 + floor(at * (output - 1)) is in [1, output - 1]
   * (the clamp is for outputs past 2^52, where the product rounds). */
  k = 1 + (uint64_t)(ft->at * (double)(output - 1));
  return k < output ? k : output - 1;
}

int faults_metrics_write(const faults_t *f, mlfq_buf_t *b) {
  static const char name[] = "mlfqd_faults_injected_total";
  char lab[64];
  unsigned k;
  int err;

  err = mlfq_prom_head(b, name, "counter",
                       "Faults injected into HTTP completions "
                       "(--fault-rate), by kind.");
  for (k = FAULT_NONE + 1; k < FAULT_KINDS && err == 0; k++) {
    snprintf(lab, sizeof(lab), "kind=\"%s\"", names[k]);
    err = mlfq_prom_value(b, name, lab, (double)f->injected[k]);
  }
  return err;
}
