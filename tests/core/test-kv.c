/* The one KV-fit check (mlfq_kv_fits): the scheduler's submit, mlfqsim's
 * and mlfqd's request checks all ask it. */
#include <stdint.h>

#include "core/kv.h"

#include "task.h"

TEST(kv, fits_is_footprint_within_capacity) {
  ASSERT(mlfq_kv_fits(0, UINT64_MAX, UINT64_MAX)); /* unlimited */
  ASSERT(mlfq_kv_fits(10, 4, 6));
  ASSERT(!mlfq_kv_fits(10, 4, 7));
  ASSERT(!mlfq_kv_fits(10, 11, 0));
  ASSERT(!mlfq_kv_fits(UINT64_MAX - 1, UINT64_MAX - 1, 2)); /* no wrap */
}
