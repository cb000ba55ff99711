/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash of short inputs. Without the 128-bit key its
 * outputs cannot be predicted, so a peer that chooses the keys of a hash
 * table cannot choose where they land. Pure functions, any thread.
 */
#ifndef MLFQ_SIPHASH_H
#define MLFQ_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The key: its bytes 0-7 and 8-15, each read little-endian, as the
 * paper's k0 and k1. */
typedef struct {
  uint64_t k0, k1;
} mlfq_siphash_key_t;

/* SipHash-2-4 of the len bytes at data (data may be NULL when len is 0). */
uint64_t mlfq_siphash(const mlfq_siphash_key_t *k, const void *data,
                      size_t len);

/* SipHash-2-4 of the 8 bytes of w in little-endian order: equal to
 * mlfq_siphash over those bytes, in two compression rounds. */
uint64_t mlfq_siphash_u64(const mlfq_siphash_key_t *k, uint64_t w);

#endif
