/* Load balancing over replicas: the routing policies of mlfq-router as a
 * plain data structure, with no I/O and no clock (docs/ROUTER.md).
 *
 * Each replica has a state (up or not) and a load: the requests sent to it
 * that have not ended, and their outstanding work in tokens. A request
 * sent with input_length I and output_length O adds I + O tokens and one
 * request when it is dispatched; its first Token takes away I + 1 (the
 * prefill and the first token), every later Token 1, and its end (Done,
 * an Error, a cancel, the loss of the replica) whatever is left. Loads
 * change at dispatch, so a burst of picks with no reply in between spreads
 * out instead of herding onto one replica on stale numbers.
 *
 * Policies pick among the replicas that are up:
 *   round-robin     the next up replica after the previous pick
 *   random          uniformly at random
 *   least-requests  fewest outstanding requests (ties: lowest index)
 *   least-tokens    fewest outstanding tokens (ties: lowest index)
 *   power-of-two    two distinct up replicas at random, the one with fewer
 *                   outstanding tokens (ties: the first drawn)
 * random and power-of-two draw from the project's xoshiro256** (rng.h),
 * seeded, so a seed gives the same picks.
 *
 * Not thread-safe: one owner (the router's loop thread).
 */
#ifndef MLFQ_BALANCE_H
#define MLFQ_BALANCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

typedef enum {
  MLFQ_BALANCE_ROUND_ROBIN = 0,
  MLFQ_BALANCE_RANDOM,
  MLFQ_BALANCE_LEAST_REQUESTS,
  MLFQ_BALANCE_LEAST_TOKENS,
  MLFQ_BALANCE_POWER_OF_TWO
} mlfq_balance_policy_t;

/* One replica's state and load. */
typedef struct {
  int up;
  uint64_t requests; /* sent to it and not yet ended */
  uint64_t tokens;   /* their remaining prefill and decode tokens */
} mlfq_balance_replica_t;

/* What one request adds to its replica's load, kept by its owner. */
typedef struct {
  uint32_t input_len;
  uint32_t output_len;
  uint32_t tokens; /* Tokens seen */
  uint64_t left;   /* tokens still counted in the replica's load */
} mlfq_balance_load_t;

typedef struct {
  mlfq_balance_policy_t policy;
  mlfq_balance_replica_t *replicas;
  size_t n;
  size_t next; /* round-robin: where the next search starts */
  mlfq_rng_t rng;
} mlfq_balance_t;

/* Sets up n replicas (n >= 1), all down and idle, picked by policy; seed
 * seeds the random policies. Returns 0 or MLFQ_ENOMEM. Free with
 * mlfq_balance_free. */
int mlfq_balance_init(mlfq_balance_t *b, mlfq_balance_policy_t policy, size_t n,
                      uint64_t seed);
void mlfq_balance_free(mlfq_balance_t *b);

/* The policy named s ("least-tokens") into *p. Returns 0 or MLFQ_EINVAL. */
int mlfq_balance_parse(const char *s, mlfq_balance_policy_t *p);

/* The name of p. */
const char *mlfq_balance_name(mlfq_balance_policy_t p);

/* Marks replica i up (it may be picked) or down. Its load is unchanged. */
void mlfq_balance_set_up(mlfq_balance_t *b, size_t i, int up);

/* The index of the replica the next request should go to, or -1 when no
 * replica is up. Changes only the policy's own state (the round-robin
 * position, the random stream): call mlfq_balance_dispatch to send. */
int mlfq_balance_pick(mlfq_balance_t *b);

/* A request of input_len and output_len tokens is sent to replica i: adds
 * it to the replica's load and fills *l, which the caller keeps until the
 * request ends. */
void mlfq_balance_dispatch(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l,
                           uint32_t input_len, uint32_t output_len);

/* A Token of the request *l on replica i arrived. */
void mlfq_balance_token(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l);

/* The request *l on replica i has ended, however: takes what is left of it
 * off the replica's load. */
void mlfq_balance_end(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l);

#endif
