/* Failure injection for the HTTP completions (docs/HTTP.md, "Failure
 * injection"): which fault, if any, a request gets, drawn from a seeded
 * generator of its own, and how many of each kind were injected. Only
 * decisions and counters, no I/O: completion.c carries the faults out.
 * Loop thread.
 */
#ifndef MLFQ_SERVER_FAULTS_H
#define MLFQ_SERVER_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rng.h"

typedef enum {
  FAULT_NONE = 0,
  FAULT_RATE_LIMIT,       /* 429 with Retry-After */
  FAULT_SERVER_ERROR,     /* 500 */
  FAULT_DROP,             /* the connection closes after some tokens */
  FAULT_SLOW_FIRST_TOKEN, /* the request waits slow_ms before it enters */
  FAULT_KINDS
} fault_kind_t;

/* Every kind but FAULT_NONE, as a set of (1u << kind). */
#define FAULTS_ALL                                                             \
  ((1u << FAULT_RATE_LIMIT) | (1u << FAULT_SERVER_ERROR) |                     \
   (1u << FAULT_DROP) | (1u << FAULT_SLOW_FIRST_TOKEN))

/* The options (--fault-rate, --fault-kinds, --fault-slow-ms, --seed). */
typedef struct {
  double rate;    /* probability that a request gets a fault, 0 to 1 */
  unsigned kinds; /* a non-empty subset of FAULTS_ALL */
  double slow_ms; /* FAULT_SLOW_FIRST_TOKEN's delay, wall milliseconds */
  uint64_t seed;  /* of the generator's stream MLFQ_STREAM_FAULTS */
} faults_opts_t;

/* The defaults: rate 0 (off), every kind, 1000 ms, seed 1. */
void faults_opts_init(faults_opts_t *o);

/* Parses a --fault-kinds value, names separated by commas
 * ("rate-limit,drop"), into a set. Returns 0, or MLFQ_EINVAL with err
 * naming the word that is not a kind. */
int faults_parse_kinds(const char *s, unsigned *kinds, char *err,
                       size_t errlen);

/* A kind's name, as --fault-kinds and /metrics write it. */
const char *faults_name(fault_kind_t k);

/* One request's fault. */
typedef struct {
  fault_kind_t kind;
  double at; /* FAULT_DROP: where in the output, uniform in [0, 1) */
} fault_t;

typedef struct {
  faults_opts_t o;
  mlfq_rng_t rng;
  fault_kind_t list[FAULT_KINDS]; /* the kinds chosen, in enum order */
  unsigned nlist;
  uint64_t drawn;                 /* requests decided */
  uint64_t injected[FAULT_KINDS]; /* [FAULT_NONE] unused */
} faults_t;

void faults_init(faults_t *f, const faults_opts_t *o);

/* Decides the next request's fault and counts it: with probability rate a
 * kind drawn uniformly among the chosen ones, else FAULT_NONE. The same
 * seed and options give the same sequence. */
fault_t faults_draw(faults_t *f);

/* FAULT_DROP: after how many of output tokens (output >= 1) the
 * connection closes: uniform in [1, output - 1], or 0 (before the first)
 * when output is 1. */
uint64_t faults_drop_after(const fault_t *ft, uint64_t output);

/* Appends mlfqd_faults_injected_total{kind="..."}, one sample per kind,
 * in Prometheus' text format. Returns 0, or MLFQ_ERANGE / MLFQ_ENOMEM. */
int faults_metrics_write(const faults_t *f, mlfq_buf_t *b);

#endif
