/* DESIGN: a replica array scanned at every pick. Routers have a handful
 * of replicas (at most 16 on the command line), so a scan is a few
 * cache lines and beats keeping a heap in step with every Token. Loads
 * are counted per request in mlfq_balance_load_t, so that a request's
 * end takes exactly what it added, and a replica's load returns to 0
 * when its last request ends, however it ended. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "core/balance.h"

static const char *const names[] = {"round-robin", "random", "least-requests",
                                    "least-tokens", "power-of-two"};

#define NPOLICIES (sizeof(names) / sizeof(names[0]))

int mlfq_balance_init(mlfq_balance_t *b, mlfq_balance_policy_t policy, size_t n,
                      uint64_t seed) {
  assert(n >= 1 && (size_t)policy < NPOLICIES);
  memset(b, 0, sizeof(*b));
  b->replicas = calloc(n, sizeof(*b->replicas));
  if (b->replicas == NULL)
    return MLFQ_ENOMEM;
  b->n = n;
  b->policy = policy;
  mlfq_rng_seed(&b->rng, seed, 0);
  return 0;
}

void mlfq_balance_free(mlfq_balance_t *b) {
  free(b->replicas);
  b->replicas = NULL;
  b->n = 0;
}

int mlfq_balance_parse(const char *s, mlfq_balance_policy_t *p) {
  size_t i;

  for (i = 0; i < NPOLICIES; i++) {
    if (strcmp(s, names[i]) == 0) {
      *p = (mlfq_balance_policy_t)i;
      return 0;
    }
  }
  return MLFQ_EINVAL;
}

const char *mlfq_balance_name(mlfq_balance_policy_t p) {
  return (size_t)p < NPOLICIES ? names[p] : "unknown";
}

void mlfq_balance_set_up(mlfq_balance_t *b, size_t i, int up) {
  assert(i < b->n);
  b->replicas[i].up = up != 0;
}

/* The k-th (0-based) up replica; k < the number up. */
static size_t nth_up(const mlfq_balance_t *b, uint64_t k) {
  size_t i;

  for (i = 0; i < b->n; i++)
    if (b->replicas[i].up && k-- == 0)
      return i;
  assert(0);
  return 0;
}

/* The up replica with the least of requests (by_tokens 0) or tokens. */
static int least(const mlfq_balance_t *b, int by_tokens) {
  uint64_t v, best = 0;
  int pick = -1;
  size_t i;

  for (i = 0; i < b->n; i++) {
    if (!b->replicas[i].up)
      continue;
    v = by_tokens ? b->replicas[i].tokens : b->replicas[i].requests;
    if (pick < 0 || v < best) {
      best = v;
      pick = (int)i;
    }
  }
  return pick;
}

int mlfq_balance_pick(mlfq_balance_t *b) {
  uint64_t up = 0, x, y;
  size_t i, j;

  for (i = 0; i < b->n; i++)
    up += b->replicas[i].up != 0;
  if (up == 0)
    return -1;
  switch (b->policy) {
  case MLFQ_BALANCE_ROUND_ROBIN:
    for (i = 0; i < b->n; i++) {
      j = (b->next + i) % b->n;
      if (b->replicas[j].up) {
        b->next = (j + 1) % b->n;
        return (int)j;
      }
    }
    break;
  case MLFQ_BALANCE_RANDOM:
    return (int)nth_up(b, mlfq_rng_below(&b->rng, up));
  case MLFQ_BALANCE_LEAST_REQUESTS:
    return least(b, 0);
  case MLFQ_BALANCE_LEAST_TOKENS:
    return least(b, 1);
  case MLFQ_BALANCE_POWER_OF_TWO:
    if (up == 1)
      return (int)nth_up(b, 0);
    /* Two distinct draws: the second skips over the first. */
    x = mlfq_rng_below(&b->rng, up);
    y = mlfq_rng_below(&b->rng, up - 1);
    if (y >= x)
      y++;
    i = nth_up(b, x);
    j = nth_up(b, y);
    return (int)(b->replicas[j].tokens < b->replicas[i].tokens ? j : i);
  }
  return -1;
}

void mlfq_balance_dispatch(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l,
                           uint32_t input_len, uint32_t output_len) {
  assert(i < b->n);
  l->input_len = input_len;
  l->output_len = output_len;
  l->tokens = 0;
  l->left = (uint64_t)input_len + output_len;
  b->replicas[i].requests++;
  b->replicas[i].tokens += l->left;
}

void mlfq_balance_token(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l) {
  uint64_t d = l->tokens == 0 ? (uint64_t)l->input_len + 1 : 1;

  assert(i < b->n);
  if (d > l->left) /* more Tokens than asked for: never below 0 */
    d = l->left;
  l->tokens++;
  l->left -= d;
  b->replicas[i].tokens -= d;
}

void mlfq_balance_end(mlfq_balance_t *b, size_t i, mlfq_balance_load_t *l) {
  assert(i < b->n && b->replicas[i].requests > 0);
  b->replicas[i].tokens -= l->left;
  b->replicas[i].requests--;
  l->left = 0;
}
