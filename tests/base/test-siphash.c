/* The keyed hash and the process secret: SipHash-2-4 and SipHash-1-3
 * against the reference vectors, the one-word form against the general
 * one, and keys
 * drawn from the secret that differ from call to call and from map to map,
 * so that the same ids land in different places. */
#include "base/idmap.h"
#include "base/rng.h"
#include "base/secret.h"
#include "base/siphash.h"
#include "task.h"

/* The paper's key, 00 01 .. 0f. */
static const mlfq_siphash_key_t ref_key = {UINT64_C(0x0706050403020100),
                                           UINT64_C(0x0f0e0d0c0b0a0908)};

/* SipHash-2-4 of the messages 00, 00 01, .. 00 01 .. 3e (lengths 0 to 63)
 * under ref_key: the reference implementation's vectors_sip64, read as
 * little-endian words. Length 15 is the paper's worked example
 * (appendix A). */
static const uint64_t vectors24[64] = {
    UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
    UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
    UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
    UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137),
    UINT64_C(0x93f5f5799a932462), UINT64_C(0x9e0082df0ba9e4b0),
    UINT64_C(0x7a5dbbc594ddb9f3), UINT64_C(0xf4b32f46226bada7),
    UINT64_C(0x751e8fbc860ee5fb), UINT64_C(0x14ea5627c0843d90),
    UINT64_C(0xf723ca908e7af2ee), UINT64_C(0xa129ca6149be45e5),
    UINT64_C(0x3f2acc7f57c29bdb), UINT64_C(0x699ae9f52cbe4794),
    UINT64_C(0x4bc1b3f0968dd39c), UINT64_C(0xbb6dc91da77961bd),
    UINT64_C(0xbed65cf21aa2ee98), UINT64_C(0xd0f2cbb02e3b67c7),
    UINT64_C(0x93536795e3a33e88), UINT64_C(0xa80c038ccd5ccec8),
    UINT64_C(0xb8ad50c6f649af94), UINT64_C(0xbce192de8a85b8ea),
    UINT64_C(0x17d835b85bbb15f3), UINT64_C(0x2f2e6163076bcfad),
    UINT64_C(0xde4daaaca71dc9a5), UINT64_C(0xa6a2506687956571),
    UINT64_C(0xad87a3535c49ef28), UINT64_C(0x32d892fad841c342),
    UINT64_C(0x7127512f72f27cce), UINT64_C(0xa7f32346f95978e3),
    UINT64_C(0x12e0b01abb051238), UINT64_C(0x15e034d40fa197ae),
    UINT64_C(0x314dffbe0815a3b4), UINT64_C(0x027990f029623981),
    UINT64_C(0xcadcd4e59ef40c4d), UINT64_C(0x9abfd8766a33735c),
    UINT64_C(0x0e3ea96b5304a7d0), UINT64_C(0xad0c42d6fc585992),
    UINT64_C(0x187306c89bc215a9), UINT64_C(0xd4a60abcf3792b95),
    UINT64_C(0xf935451de4f21df2), UINT64_C(0xa9538f0419755787),
    UINT64_C(0xdb9acddff56ca510), UINT64_C(0xd06c98cd5c0975eb),
    UINT64_C(0xe612a3cb9ecba951), UINT64_C(0xc766e62cfcadaf96),
    UINT64_C(0xee64435a9752fe72), UINT64_C(0xa192d576b245165a),
    UINT64_C(0x0a8787bf8ecb74b2), UINT64_C(0x81b3e73d20b49b6f),
    UINT64_C(0x7fa8220ba3b2ecea), UINT64_C(0x245731c13ca42499),
    UINT64_C(0xb78dbfaf3a8d83bd), UINT64_C(0xea1ad565322a1a0b),
    UINT64_C(0x60e61c23a3795013), UINT64_C(0x6606d7e446282b93),
    UINT64_C(0x6ca4ecb15c5f91e1), UINT64_C(0x9f626da15c9625f3),
    UINT64_C(0xe51b38608ef25f57), UINT64_C(0x958a324ceb064572)};

/* SipHash-1-3 of the same messages under the same key, from the
 * reference implementation (run with cROUNDS 1, dROUNDS 3). */
static const uint64_t vectors13[64] = {
    UINT64_C(0xabac0158050fc4dc), UINT64_C(0xc9f49bf37d57ca93),
    UINT64_C(0x82cb9b024dc7d44d), UINT64_C(0x8bf80ab8e7ddf7fb),
    UINT64_C(0xcf75576088d38328), UINT64_C(0xdef9d52f49533b67),
    UINT64_C(0xc50d2b50c59f22a7), UINT64_C(0xd3927d989bb11140),
    UINT64_C(0x369095118d299a8e), UINT64_C(0x25a48eb36c063de4),
    UINT64_C(0x79de85ee92ff097f), UINT64_C(0x70c118c1f94dc352),
    UINT64_C(0x78a384b157b4d9a2), UINT64_C(0x306f760c1229ffa7),
    UINT64_C(0x605aa111c0f95d34), UINT64_C(0xd320d86d2a519956),
    UINT64_C(0xcc4fdd1a7d908b66), UINT64_C(0x9cf2689063dbd80c),
    UINT64_C(0x8ffc389cb473e63e), UINT64_C(0xf21f9de58d297d1c),
    UINT64_C(0xc0dc2f46a6cce040), UINT64_C(0xb992abfe2b45f844),
    UINT64_C(0x7ffe7b9ba320872e), UINT64_C(0x525a0e7fdae6c123),
    UINT64_C(0xf464aeb267349c8c), UINT64_C(0x45cd5928705b0979),
    UINT64_C(0x3a3e35e3ca9913a5), UINT64_C(0xa91dc74e4ade3b35),
    UINT64_C(0xfb0bed02ef6cd00d), UINT64_C(0x88d93cb44ab1e1f4),
    UINT64_C(0x540f11d643c5e663), UINT64_C(0x2370dd1f8c21d1bc),
    UINT64_C(0x81157b6c16a7b60d), UINT64_C(0x4d54b9e57a8ff9bf),
    UINT64_C(0x759f12781f2a753e), UINT64_C(0xcea1a3bebf186b91),
    UINT64_C(0x2cf508d3ada26206), UINT64_C(0xb6101c2da3c33057),
    UINT64_C(0xb3f47496ae3a36a1), UINT64_C(0x626b57547b108392),
    UINT64_C(0xc1d2363299e41531), UINT64_C(0x667cc1923f1ad944),
    UINT64_C(0x65704ffec8138825), UINT64_C(0x24f280d1c28949a6),
    UINT64_C(0xc2ca1cedfaf8876b), UINT64_C(0xc2164bfc9f042196),
    UINT64_C(0xa16e9c9368b1d623), UINT64_C(0x49fb169c8b5114fd),
    UINT64_C(0x9f3143f8df074c46), UINT64_C(0xc6fdaf2412cc86b3),
    UINT64_C(0x7eaf49d10a52098f), UINT64_C(0x1cf313559d292f9a),
    UINT64_C(0xc44a30dda2f41f12), UINT64_C(0x36fae98943a71ed0),
    UINT64_C(0x318fb34c73f0bce6), UINT64_C(0xa27abf3670a7e980),
    UINT64_C(0xb4bcc0db243c6d75), UINT64_C(0x23f8d852fdb71513),
    UINT64_C(0x8f035f4da67d8a08), UINT64_C(0xd89cd0e5b7e8f148),
    UINT64_C(0xf6f4e6bcf7a644ee), UINT64_C(0xaec59ad80f1837f2),
    UINT64_C(0xc3b2f6154b6694e0), UINT64_C(0x9d199062b7bbb3a8)};

TEST(siphash, reference_vectors) {
  unsigned char msg[64];
  size_t i;

  for (i = 0; i < sizeof(msg); i++)
    msg[i] = (unsigned char)i;
  for (i = 0; i < 64; i++) {
    if (mlfq_siphash24(&ref_key, msg, i) != vectors24[i])
      MLFQ_TEST_FAIL("SipHash-2-4, length %zu: %016" PRIx64
                     ", want %016" PRIx64,
                     i, mlfq_siphash24(&ref_key, msg, i), vectors24[i]);
    if (mlfq_siphash13(&ref_key, msg, i) != vectors13[i])
      MLFQ_TEST_FAIL("SipHash-1-3, length %zu: %016" PRIx64
                     ", want %016" PRIx64,
                     i, mlfq_siphash13(&ref_key, msg, i), vectors13[i]);
  }
  ASSERT_EQ_U64(mlfq_siphash24(&ref_key, NULL, 0), vectors24[0]);
  ASSERT_EQ_U64(mlfq_siphash13(&ref_key, NULL, 0), vectors13[0]);
}

TEST(siphash, one_word_is_its_eight_bytes) {
  unsigned char b[8];
  mlfq_siphash_key_t k = ref_key;
  mlfq_rng_t r;
  uint64_t w;
  int i, j;

  /* 00 01 .. 07 is the vector of length 8. */
  ASSERT_EQ_U64(mlfq_siphash13_u64(&ref_key, UINT64_C(0x0706050403020100)),
                vectors13[8]);
  mlfq_rng_seed(&r, 7, 0);
  for (i = 0; i < 10000; i++) {
    w = i < 2 ? (i == 0 ? 0 : UINT64_MAX) : mlfq_rng_next(&r);
    if (i % 100 == 0) {
      k.k0 = mlfq_rng_next(&r);
      k.k1 = mlfq_rng_next(&r);
    }
    for (j = 0; j < 8; j++)
      b[j] = (unsigned char)(w >> (8 * j));
    ASSERT_EQ_U64(mlfq_siphash13_u64(&k, w), mlfq_siphash13(&k, b, 8));
  }
}

TEST(siphash, the_key_changes_every_output) {
  mlfq_siphash_key_t a = ref_key, b = ref_key;
  uint64_t w;

  /* One bit of either half of the key. */
  b.k1 ^= UINT64_C(1) << 63;
  for (w = 0; w < 1000; w++)
    ASSERT_NE(mlfq_siphash13_u64(&a, w), mlfq_siphash13_u64(&b, w));
  b = ref_key;
  b.k0 ^= 1;
  for (w = 0; w < 1000; w++)
    ASSERT_NE(mlfq_siphash13_u64(&a, w), mlfq_siphash13_u64(&b, w));
}

TEST(siphash, secret_keys_differ) {
  mlfq_siphash_key_t k[64];
  int i, j;

  ASSERT_OK(mlfq_secret_init());
  ASSERT_OK(mlfq_secret_init()); /* once per process, then the same answer */
  for (i = 0; i < 64; i++) {
    ASSERT_OK(mlfq_secret_key(&k[i]));
    ASSERT((k[i].k0 | k[i].k1) != 0);
    for (j = 0; j < i; j++)
      ASSERT(k[i].k0 != k[j].k0 || k[i].k1 != k[j].k1);
  }
}

/* The slot of key in m (it must be there). */
static size_t slot_of(const mlfq_idmap_t *m, uint64_t key) {
  size_t i;

  for (i = 0; i < m->cap; i++)
    if (m->vals[i] != NULL && m->keys[i] == key)
      return i;
  MLFQ_TEST_FAIL("key %" PRIu64 " is in no slot", key);
}

TEST(siphash, maps_place_ids_by_their_own_key) {
  enum { N = 1000 };
  static char val;
  mlfq_idmap_t a, b;
  mlfq_siphash_key_t first;
  uint64_t id;
  size_t same = 0;

  mlfq_idmap_init(&a);
  mlfq_idmap_init(&b);
  for (id = 1; id <= N; id++) {
    ASSERT_OK(mlfq_idmap_put(&a, id, &val));
    ASSERT_OK(mlfq_idmap_put(&b, id, &val));
  }
  ASSERT(a._key.k0 != b._key.k0 || a._key.k1 != b._key.k1);
  ASSERT_EQ_U64(a.cap, b.cap);
  for (id = 1; id <= N; id++)
    same += slot_of(&a, id) == slot_of(&b, id);
  /* Independent places: about N / cap of them agree by chance. */
  ASSERT_LT(same, N / 10);
  /* A map freed and used again draws a new key. */
  first = a._key;
  mlfq_idmap_free(&a);
  ASSERT_OK(mlfq_idmap_put(&a, 1, &val));
  ASSERT(a._key.k0 != first.k0 || a._key.k1 != first.k1);
  mlfq_idmap_free(&a);
  mlfq_idmap_free(&b);
}
