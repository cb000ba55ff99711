/* The fixed hash the id maps once placed request ids by (the splitmix64
 * finaliser, unkeyed) and its inverse, from which the tests craft ids that
 * all collided under it. The maps no longer use it (common/base/idmap.c): these
 * ids must spread under the keyed hash. */
#ifndef MLFQ_TEST_OLDHASH_H
#define MLFQ_TEST_OLDHASH_H

#include <stdint.h>

/* The old hash of id. */
uint64_t tc_oldhash(uint64_t id);

/* The id whose old hash is h: tc_oldhash(tc_oldhash_invert(h)) == h. */
uint64_t tc_oldhash_invert(uint64_t h);

#endif
