/* Fuzzes the cost profile parser (mlfq_cost_parse_profile over
 * common/base/csv.c) and then evaluates the model it built: rows strictly
 * increasing and finite, every evaluation defined (UBSan checks the
 * conversions), nothing leaked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cost.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint64_t lens[] = {0,    1,        2,          7,         100,
                                  4096, 1u << 20, UINT32_MAX, UINT64_MAX};
  mlfq_cost_t c;
  char err[512];
  char *buf;
  size_t i;

  buf = fz_copy(data, size);
  if (buf == NULL)
    return 0;
  err[0] = '\0';
  if (mlfq_cost_parse_profile(&c, "fuzz.csv", buf, size, err, sizeof(err)) ==
      0) {
    if (c.kind != MLFQ_COST_PROFILE || c.nrows == 0)
      fz_die("parse succeeded without rows");
    for (i = 0; i < c.nrows; i++) {
      if (!isfinite(c.rows[i].prefill_ms) || c.rows[i].prefill_ms < 0 ||
          !isfinite(c.rows[i].decode_ms) || c.rows[i].decode_ms < 0)
        fz_die("row %zu: a value not finite or negative", i + 1);
      if (i > 0 && c.rows[i].input_len <= c.rows[i - 1].input_len)
        fz_die("row %zu: input_length not increasing", i + 1);
    }
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
      (void)mlfq_cost_prefill_ns(&c, lens[i]);
      (void)mlfq_cost_decode_ns(&c, lens[i] > UINT32_MAX ? UINT32_MAX
                                                         : (uint32_t)lens[i]);
      (void)mlfq_cost_batch_ns(&c, lens[i], mlfq_cost_min_decode_ns(&c),
                               (uint32_t)(i + 1));
    }
    mlfq_cost_free(&c);
  } else if (err[0] == '\0') {
    fz_die("parse failed without a message");
  }
  free(buf);
  return 0;
}
