/* SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash of short inputs. Without the 128-bit key its
 * outputs cannot be predicted, so a peer that chooses the keys of a hash
 * table cannot choose where they land. SipHash-2-4 is the paper's
 * function; SipHash-1-3 (one compression round, three finalisation rounds)
 * is the one hash tables use (Rust's std, CPython), at about 5/8 of the
 * cost for one word. Pure functions, any thread.
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

/* SipHash-2-4 and SipHash-1-3 of the len bytes at data (data may be NULL
 * when len is 0). */
uint64_t mlfq_siphash24(const mlfq_siphash_key_t *k, const void *data,
                        size_t len);
uint64_t mlfq_siphash13(const mlfq_siphash_key_t *k, const void *data,
                        size_t len);

/* SipHash-1-3 of the 8 bytes of w in little-endian order: equal to
 * mlfq_siphash13 over those bytes, without the loop. */
uint64_t mlfq_siphash13_u64(const mlfq_siphash_key_t *k, uint64_t w);

#endif
