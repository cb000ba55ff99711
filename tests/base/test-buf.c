/* The bounded byte buffer: growth, the maximum, reserve/commit, consume. */
#include "base/buf.h"
#include "task.h"

TEST(buf, init_allocates_nothing) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 100);
  ASSERT(b.data == NULL);
  ASSERT_EQ(b.len, 0);
  ASSERT_EQ(b.cap, 0);
  ASSERT_EQ(b.max, 100);
  ASSERT_OK(mlfq_buf_append(&b, NULL, 0));
  mlfq_buf_free(&b);
}

TEST(buf, append_grows_by_doubling) {
  uint8_t chunk[100];
  mlfq_buf_t b;
  size_t i, prev;

  for (i = 0; i < sizeof(chunk); i++)
    chunk[i] = (uint8_t)i;
  mlfq_buf_init(&b, 1 << 20);
  prev = 0;
  for (i = 0; i < 1000; i++) {
    ASSERT_OK(mlfq_buf_append(&b, chunk, sizeof(chunk)));
    ASSERT_LE(b.len, b.cap);
    if (b.cap != prev && prev != 0)
      ASSERT_EQ(b.cap, 2 * prev);
    prev = b.cap;
  }
  ASSERT_EQ(b.len, 100000);
  ASSERT_EQ(b.cap, 131072);
  for (i = 0; i < b.len; i++)
    ASSERT_EQ(b.data[i], (uint8_t)(i % 100));
  mlfq_buf_free(&b);
}

TEST(buf, max_enforced) {
  uint8_t bytes[1000];
  mlfq_buf_t b;
  int err;

  memset(bytes, 0xab, sizeof(bytes));
  mlfq_buf_init(&b, 1000);
  ASSERT_OK(mlfq_buf_append(&b, bytes, 600));
  ASSERT_EQ(mlfq_buf_append(&b, bytes, 401), MLFQ_ERANGE);
  ASSERT_EQ(b.len, 600);
  /* Growth stops at max, not at the next power of two. */
  ASSERT_OK(mlfq_buf_append(&b, bytes, 400));
  ASSERT_EQ(b.len, 1000);
  ASSERT_EQ(b.cap, 1000);
  ASSERT_EQ(mlfq_buf_append(&b, bytes, 1), MLFQ_ERANGE);
  err = 0;
  ASSERT(mlfq_buf_reserve(&b, 1, &err) == NULL);
  ASSERT_EQ(err, MLFQ_ERANGE);
  ASSERT(mlfq_buf_reserve(&b, SIZE_MAX, NULL) == NULL);
  /* Zero more bytes still fit. */
  ASSERT(mlfq_buf_reserve(&b, 0, &err) != NULL);
  ASSERT_EQ(err, 0);
  ASSERT_EQ(b.len, 1000);
  mlfq_buf_free(&b);

  mlfq_buf_init(&b, 0);
  ASSERT_EQ(mlfq_buf_append(&b, bytes, 1), MLFQ_ERANGE);
  mlfq_buf_free(&b);
}

TEST(buf, reserve_commit) {
  mlfq_buf_t b;
  uint8_t *p;
  int err, i;

  mlfq_buf_init(&b, 4096);
  p = mlfq_buf_reserve(&b, 10, &err);
  ASSERT(p != NULL);
  ASSERT_EQ(err, 0);
  ASSERT_GE(b.cap, 10);
  ASSERT_EQ(b.len, 0);
  for (i = 0; i < 10; i++)
    p[i] = (uint8_t)('a' + i);
  /* A read may deliver fewer bytes than reserved. */
  mlfq_buf_commit(&b, 4);
  ASSERT_EQ(b.len, 4);
  p = mlfq_buf_reserve(&b, 3000, &err);
  ASSERT(p == b.data + 4);
  ASSERT_GE(b.cap, 3004);
  memset(p, 'z', 3000);
  mlfq_buf_commit(&b, 3000);
  ASSERT_EQ(b.len, 3004);
  ASSERT(memcmp(b.data, "abcdzz", 6) == 0);
  ASSERT(mlfq_buf_reserve(&b, 4096 - 3004 + 1, &err) == NULL);
  ASSERT_EQ(err, MLFQ_ERANGE);
  ASSERT(mlfq_buf_reserve(&b, 4096 - 3004, &err) != NULL);
  ASSERT_EQ(b.cap, 4096);
  mlfq_buf_free(&b);
}

TEST(buf, consume) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 64);
  mlfq_buf_consume(&b, 0);
  ASSERT_OK(mlfq_buf_append(&b, "0123456789", 10));
  mlfq_buf_consume(&b, 0);
  ASSERT_EQ(b.len, 10);
  mlfq_buf_consume(&b, 3);
  ASSERT_EQ(b.len, 7);
  ASSERT(memcmp(b.data, "3456789", 7) == 0);
  ASSERT_OK(mlfq_buf_append(&b, "ab", 2));
  ASSERT(memcmp(b.data, "3456789ab", 9) == 0);
  mlfq_buf_consume(&b, 9);
  ASSERT_EQ(b.len, 0);
  /* Consumed room is room again: max counts held bytes, not history. */
  ASSERT_OK(mlfq_buf_append(&b,
                            "0123456789012345678901234567890123456789"
                            "012345678901234567890123",
                            64));
  mlfq_buf_consume(&b, 60);
  ASSERT_OK(mlfq_buf_append(&b, "xyz", 3));
  ASSERT_EQ(b.len, 7);
  ASSERT(memcmp(b.data, "0123xyz", 7) == 0);
  mlfq_buf_free(&b);
}

TEST(buf, reuse_after_free) {
  mlfq_buf_t b;
  int i;

  mlfq_buf_init(&b, 1000);
  for (i = 0; i < 3; i++) {
    ASSERT_OK(mlfq_buf_append(&b, "hello", 5));
    ASSERT_EQ(b.len, 5);
    ASSERT(memcmp(b.data, "hello", 5) == 0);
    mlfq_buf_free(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
    ASSERT_EQ(b.max, 1000);
  }
  mlfq_buf_free(&b);
}
