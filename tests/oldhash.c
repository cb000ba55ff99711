/* The id maps' old fixed hash and its inverse (oldhash.h). */
#include "oldhash.h"

#define MUL1 UINT64_C(0xbf58476d1ce4e5b9)
#define MUL2 UINT64_C(0x94d049bb133111eb)

/* The inverse of y = x ^ (x >> s). */
static uint64_t unxorshift(uint64_t y, int s) {
  uint64_t x = y;
  int i;

  for (i = 0; i < 64 / s + 1; i++)
    x = y ^ (x >> s);
  return x;
}

/* The inverse of odd a modulo 2^64 (Newton: each step doubles the correct
 * low bits, from the 3 that a * a = 1 mod 8 gives). */
static uint64_t inverse(uint64_t a) {
  uint64_t x = a;
  int i;

  for (i = 0; i < 5; i++)
    x *= 2 - a * x;
  return x;
}

uint64_t tc_oldhash(uint64_t id) {
  id = (id ^ (id >> 30)) * MUL1;
  id = (id ^ (id >> 27)) * MUL2;
  return id ^ (id >> 31);
}

uint64_t tc_oldhash_invert(uint64_t h) {
  h = unxorshift(h, 31) * inverse(MUL2);
  h = unxorshift(h, 27) * inverse(MUL1);
  return unxorshift(h, 30);
}
