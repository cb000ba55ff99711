/* DESIGN: SipHash-c-d written from the paper's definition (section 2):
 * four 64-bit words of state initialised from the key and four constants;
 * c SipRounds per 8-byte message word; a last word holding the length mod
 * 256 in its top byte and the 0-7 leftover bytes below it; then 0xff into
 * v2 and d SipRounds. Message words are read little-endian byte by byte,
 * so the result is the same on every host. The one-word form is the same
 * computation for c = 1, d = 3 with the loops unrolled; the unit tests
 * check every form against the reference vectors. */
#include <stddef.h>
#include <stdint.h>

#include "base/siphash.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

#define INIT(k, v0, v1, v2, v3)                                                \
  do {                                                                         \
    v0 = (k)->k0 ^ UINT64_C(0x736f6d6570736575);                               \
    v1 = (k)->k1 ^ UINT64_C(0x646f72616e646f6d);                               \
    v2 = (k)->k0 ^ UINT64_C(0x6c7967656e657261);                               \
    v3 = (k)->k1 ^ UINT64_C(0x7465646279746573);                               \
  } while (0)

static uint64_t load_le(const unsigned char *p, size_t n) {
  uint64_t w = 0;
  size_t i;

  for (i = 0; i < n; i++)
    w |= (uint64_t)p[i] << (8 * i);
  return w;
}

static uint64_t siphash(const mlfq_siphash_key_t *k, int c, int d,
                        const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t v0, v1, v2, v3, m;
  size_t left = len;
  int i, last = 0;

  INIT(k, v0, v1, v2, v3);
  while (!last) {
    if (left >= 8) {
      m = load_le(p, 8);
      p += 8;
      left -= 8;
    } else {
      m = (uint64_t)(len & 0xff) << 56;
      if (left > 0)
        m |= load_le(p, left);
      last = 1;
    }
    v3 ^= m;
    for (i = 0; i < c; i++)
      SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (i = 0; i < d; i++)
    SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t mlfq_siphash24(const mlfq_siphash_key_t *k, const void *data,
                        size_t len) {
  return siphash(k, 2, 4, data, len);
}

uint64_t mlfq_siphash13(const mlfq_siphash_key_t *k, const void *data,
                        size_t len) {
  return siphash(k, 1, 3, data, len);
}

uint64_t mlfq_siphash13_u64(const mlfq_siphash_key_t *k, uint64_t w) {
  const uint64_t b = UINT64_C(8) << 56; /* the length word of 8 bytes */
  uint64_t v0, v1, v2, v3;

  INIT(k, v0, v1, v2, v3);
  v3 ^= w;
  SIPROUND(v0, v1, v2, v3);
  v0 ^= w;
  v3 ^= b;
  SIPROUND(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND(v0, v1, v2, v3);
  SIPROUND(v0, v1, v2, v3);
  SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}
