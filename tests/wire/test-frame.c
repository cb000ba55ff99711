/* The frame decoder: truncation, splits, limits, byte order and garbage. */
#include "base/rng.h"
#include "task.h"
#include "wire/frame.h"

/* Writes a frame of n payload bytes (payload[i] = seed + i) at out and
 * returns its total size. */
static size_t make_frame(uint8_t *out, uint32_t n, uint8_t seed) {
  uint32_t i;

  mlfq_frame_header(out, n);
  for (i = 0; i < n; i++)
    out[MLFQ_FRAME_HEADER + i] = (uint8_t)(seed + i);
  return MLFQ_FRAME_HEADER + (size_t)n;
}

TEST(frame, truncated_header_needs_more) {
  /* Headers that would be valid, empty and oversized once complete. */
  static const uint8_t hdrs[][4] = {
      {0, 0, 0, 5}, {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}};
  const uint8_t *payload;
  size_t payload_len, i, k;

  for (i = 0; i < 3; i++) {
    for (k = 0; k < MLFQ_FRAME_HEADER; k++) {
      payload = (const uint8_t *)hdrs;
      payload_len = 99;
      ASSERT_EQ(mlfq_frame_decode(hdrs[i], k, 1024, &payload, &payload_len), 0);
      ASSERT(payload == NULL);
      ASSERT_EQ(payload_len, 0);
    }
  }
  ASSERT_EQ(mlfq_frame_decode(NULL, 0, 1024, &payload, &payload_len), 0);
}

TEST(frame, oversized_length) {
  uint8_t hdr[MLFQ_FRAME_HEADER];
  const uint8_t *payload;
  size_t payload_len;

  /* Refused from the 4 header bytes alone, no payload needed. */
  mlfq_frame_header(hdr, MLFQ_FRAME_DEFAULT_MAX + 1);
  ASSERT_EQ(mlfq_frame_decode(hdr, sizeof(hdr), MLFQ_FRAME_DEFAULT_MAX,
                              &payload, &payload_len),
            MLFQ_EFRAMESIZE);
  mlfq_frame_header(hdr, UINT32_MAX);
  ASSERT_EQ(mlfq_frame_decode(hdr, sizeof(hdr), MLFQ_FRAME_DEFAULT_MAX,
                              &payload, &payload_len),
            MLFQ_EFRAMESIZE);
  mlfq_frame_header(hdr, 1);
  ASSERT_EQ(mlfq_frame_decode(hdr, sizeof(hdr), 0, &payload, &payload_len),
            MLFQ_EFRAMESIZE);
}

TEST(frame, zero_length) {
  static const uint8_t buf[] = {0, 0, 0, 0, 1, 2, 3};
  const uint8_t *payload;
  size_t payload_len;

  ASSERT_EQ(mlfq_frame_decode(buf, 4, 1024, &payload, &payload_len),
            MLFQ_EFRAMEEMPTY);
  ASSERT_EQ(mlfq_frame_decode(buf, sizeof(buf), 1024, &payload, &payload_len),
            MLFQ_EFRAMEEMPTY);
}

TEST(frame, max_exactly_allowed) {
  enum { MAX = 1000 };
  static uint8_t buf[MLFQ_FRAME_HEADER + MAX];
  const uint8_t *payload;
  size_t payload_len, len;

  len = make_frame(buf, MAX, 7);
  ASSERT_EQ(mlfq_frame_decode(buf, len - 1, MAX, &payload, &payload_len), 0);
  ASSERT_EQ(mlfq_frame_decode(buf, len, MAX, &payload, &payload_len),
            (long)len);
  ASSERT(payload == buf + MLFQ_FRAME_HEADER);
  ASSERT_EQ(payload_len, MAX);
}

TEST(frame, max_plus_one_refused) {
  enum { MAX = 1000 };
  static uint8_t buf[MLFQ_FRAME_HEADER + MAX + 1];
  const uint8_t *payload;
  size_t payload_len, len;

  len = make_frame(buf, MAX + 1, 7);
  ASSERT_EQ(mlfq_frame_decode(buf, len, MAX, &payload, &payload_len),
            MLFQ_EFRAMESIZE);
  ASSERT_EQ(mlfq_frame_decode(buf, len, MAX + 1, &payload, &payload_len),
            (long)len);
}

TEST(frame, split_at_every_byte) {
  uint8_t buf[MLFQ_FRAME_HEADER + 300];
  const uint8_t *payload;
  size_t payload_len, len, k, i;

  len = make_frame(buf, 300, 3);
  for (k = 0; k < len; k++)
    ASSERT_EQ(mlfq_frame_decode(buf, k, 1024, &payload, &payload_len), 0);
  ASSERT_EQ(mlfq_frame_decode(buf, len, 1024, &payload, &payload_len),
            (long)len);
  ASSERT_EQ(payload_len, 300);
  for (i = 0; i < payload_len; i++)
    ASSERT_EQ(payload[i], (uint8_t)(3 + i));
}

TEST(frame, two_frames_in_one_read) {
  uint8_t buf[64];
  const uint8_t *payload;
  size_t payload_len, a, b;
  long r;

  a = make_frame(buf, 10, 100);
  b = make_frame(buf + a, 20, 200);
  r = mlfq_frame_decode(buf, a + b, 1024, &payload, &payload_len);
  ASSERT_EQ(r, (long)a);
  ASSERT(payload == buf + MLFQ_FRAME_HEADER);
  ASSERT_EQ(payload_len, 10);
  ASSERT_EQ(payload[9], 109);
  r = mlfq_frame_decode(buf + a, a + b - a, 1024, &payload, &payload_len);
  ASSERT_EQ(r, (long)b);
  ASSERT(payload == buf + a + MLFQ_FRAME_HEADER);
  ASSERT_EQ(payload_len, 20);
  ASSERT_EQ(payload[0], 200);
  ASSERT_EQ(payload[19], (uint8_t)219);
  ASSERT_EQ(mlfq_frame_decode(buf + a + b, 0, 1024, &payload, &payload_len), 0);
}

TEST(frame, big_endian_byte_order) {
  static const uint8_t buf[] = {0x00, 0x00, 0x01, 0x02};
  uint8_t hdr[MLFQ_FRAME_HEADER];
  const uint8_t *payload;
  size_t payload_len;

  mlfq_frame_header(hdr, UINT32_C(0x01020304));
  ASSERT_EQ(hdr[0], 0x01);
  ASSERT_EQ(hdr[1], 0x02);
  ASSERT_EQ(hdr[2], 0x03);
  ASSERT_EQ(hdr[3], 0x04);
  /* 0x00000102 = 258 bytes: a little-endian reader would see 0x02010000. */
  ASSERT_EQ(mlfq_frame_decode(buf, sizeof(buf), 258, &payload, &payload_len),
            0);
  ASSERT_EQ(mlfq_frame_decode(buf, sizeof(buf), 257, &payload, &payload_len),
            MLFQ_EFRAMESIZE);
}

TEST(frame, header_round_trip) {
  static const uint32_t lens[] = {1,          2,          255,
                                  256,        65535,      65536,
                                  0x00ff00ff, 0x80000000, UINT32_MAX - 1,
                                  UINT32_MAX};
  uint8_t hdr[MLFQ_FRAME_HEADER];
  uint32_t back;
  size_t i;

  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    mlfq_frame_header(hdr, lens[i]);
    back = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) |
           ((uint32_t)hdr[2] << 8) | hdr[3];
    ASSERT_EQ_U64(back, lens[i]);
  }
}

TEST(frame, garbage) {
  /* Random bytes, with small headers made likely so that all three
   * answers occur. Every prefix is decoded: the answer must match the
   * header, and once a prefix gives a frame or an error, every longer
   * prefix gives the same. */
  enum { LEN = 64, ROUNDS = 20000 };
  uint8_t buf[LEN];
  const uint8_t *payload;
  size_t payload_len, len, k;
  uint32_t n, max;
  mlfq_rng_t r;
  long res, settled;
  int i, seen[3] = {0, 0, 0};

  mlfq_rng_seed(&r, 2024, 0);
  for (i = 0; i < ROUNDS; i++) {
    len = (size_t)mlfq_rng_below(&r, LEN + 1);
    for (k = 0; k < len; k++)
      buf[k] = (uint8_t)mlfq_rng_next(&r);
    if (len >= 4 && mlfq_rng_below(&r, 2) == 0) {
      buf[0] = buf[1] = buf[2] = 0;
      buf[3] = (uint8_t)mlfq_rng_below(&r, LEN);
    }
    max = (uint32_t)mlfq_rng_below(&r, 2 * LEN);
    settled = 0;
    for (k = 0; k <= len; k++) {
      res = mlfq_frame_decode(buf, k, max, &payload, &payload_len);
      if (settled != 0) {
        ASSERT_EQ(res, settled);
        continue;
      }
      if (k < MLFQ_FRAME_HEADER) {
        ASSERT_EQ(res, 0);
        continue;
      }
      n = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
          ((uint32_t)buf[2] << 8) | buf[3];
      if (n == 0) {
        ASSERT_EQ(res, MLFQ_EFRAMEEMPTY);
      } else if (n > max) {
        ASSERT_EQ(res, MLFQ_EFRAMESIZE);
      } else if (k < MLFQ_FRAME_HEADER + (size_t)n) {
        ASSERT_EQ(res, 0);
      } else {
        ASSERT_EQ(res, (long)(MLFQ_FRAME_HEADER + n));
        ASSERT(payload == buf + MLFQ_FRAME_HEADER);
        ASSERT_EQ(payload_len, n);
      }
      settled = res;
    }
    seen[settled > 0 ? 0 : settled == 0 ? 1 : 2]++;
  }
  ASSERT_GT(seen[0], 0);
  ASSERT_GT(seen[1], 0);
  ASSERT_GT(seen[2], 0);
}
