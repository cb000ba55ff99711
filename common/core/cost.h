/* The cost model: how long a prefill, a decode and a batch iteration take
 * (docs/MODEL.md, "Cost model").
 *
 * Either linear (prefill_base_ms + prefill_ms_per_token * L, constant
 * decode_ms) or a measured profile table (input_length, prefill_ms,
 * decode_ms), linearly interpolated between rows and extrapolated from the
 * nearest two rows outside them (clamped at 0). Results are integer
 * nanoseconds, rounded to nearest. A model is immutable once built and may be
 * read from any thread.
 */
#ifndef MLFQ_COST_H
#define MLFQ_COST_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MLFQ_COST_LINEAR = 0, MLFQ_COST_PROFILE = 1 } mlfq_cost_kind_t;

typedef struct {
  uint32_t input_len;
  double prefill_ms;
  double decode_ms;
} mlfq_cost_row_t;

typedef struct {
  mlfq_cost_kind_t kind;
  /* linear */
  double prefill_base_ms;
  double prefill_ms_per_token;
  double decode_ms;
  /* both: added per decoding sequence beyond the first in a batch */
  double batch_decode_ms_per_seq;
  /* profile: rows sorted by strictly increasing input_len, n >= 1 */
  mlfq_cost_row_t *rows;
  size_t nrows;
  char source[256]; /* "linear" or the profile's file name */
} mlfq_cost_t;

/* The most rows a profile file may have. mlfqd sends every row to every
 * client (Welcome, StatsReply; a router once more per replica), 23 bytes
 * each: 4,096 rows make a StatsReply of 94 kB, and the Stats of a router
 * over 16 such replicas (1.6 MB) fits half of the default
 * --max-queued-bytes. A
 * profile that measures a prompt length every 8 tokens of a 32k context
 * has 4,096 rows; the OPT-1.3B one has 7, and rows between two measured
 * lengths add little to a linear interpolation. Shared by every program
 * that reads a profile, and by clients that read one from a Config. */
#define MLFQ_COST_MAX_ROWS 4096

/* The built-in profile (data/profile_opt-1.3b.csv, compiled in). */
extern const char mlfq_cost_default_profile_name[];
extern const char mlfq_cost_default_profile_csv[];

/* Makes a linear model. Returns 0, or MLFQ_EINVAL if a value is negative
 * or not finite. */
int mlfq_cost_linear(mlfq_cost_t *c, double prefill_base_ms,
                     double prefill_ms_per_token, double decode_ms);

/* Makes a profile model from CSV text with the header
 * input_length,prefill_ms,decode_ms (columns in any order) and 1 to
 * MLFQ_COST_MAX_ROWS rows. name is used in messages and as the source.
 * Errors name the file and line. */
int mlfq_cost_parse_profile(mlfq_cost_t *c, const char *name, const char *buf,
                            size_t len, char *err, size_t errlen);

/* Makes a profile model from rows[0..n) (copied), which must have strictly
 * increasing input_len >= 1 and finite values >= 0; source names it.
 * Returns 0, MLFQ_EINVAL or MLFQ_ENOMEM. */
int mlfq_cost_profile(mlfq_cost_t *c, const mlfq_cost_row_t *rows, size_t n,
                      const char *source);

/* As mlfq_cost_parse_profile, reading the file at path. */
int mlfq_cost_load_profile(mlfq_cost_t *c, const char *path, char *err,
                           size_t errlen);

/* The built-in OPT-1.3B profile. */
int mlfq_cost_default(mlfq_cost_t *c);

/* Releases what the model holds; c may be reused after. */
void mlfq_cost_free(mlfq_cost_t *c);

/* Copies src into dst (deep). Returns 0 or MLFQ_ENOMEM. */
int mlfq_cost_copy(mlfq_cost_t *dst, const mlfq_cost_t *src);

/* Prefill time of `tokens` prompt tokens in one iteration. 0 tokens: 0. */
uint64_t mlfq_cost_prefill_ns(const mlfq_cost_t *c, uint64_t tokens);

/* Decode time of one sequence whose prompt had input_len tokens. */
uint64_t mlfq_cost_decode_ns(const mlfq_cost_t *c, uint32_t input_len);

/* The smallest decode time of the model (the paper's minimum iteration
 * time): decode_ms for linear, the smallest decode_ms of any row for a
 * profile. */
uint64_t mlfq_cost_min_decode_ns(const mlfq_cost_t *c);

/* Duration of one batch iteration: prefill of prefill_tokens prompt tokens
 * (0: none) plus, when ndecode > 0, max_decode_ns (the largest decode time
 * among the decoding jobs) and batch_decode_ms_per_seq * (ndecode - 1). */
uint64_t mlfq_cost_batch_ns(const mlfq_cost_t *c, uint64_t prefill_tokens,
                            uint64_t max_decode_ns, uint32_t ndecode);

#endif
