/* Fuzzes the workload CSV parser (common/load/workload.c over
 * common/base/csv.c): any bytes either parse into rows that obey the documented
 * bounds, or fail with a message, and nothing leaks. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "load/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlfq_workload_t w;
  char err[512];
  char *buf;
  size_t i;

  buf = fz_copy(data, size);
  if (buf == NULL)
    return 0;
  memset(&w, 0, sizeof(w));
  err[0] = '\0';
  if (mlfq_workload_parse(&w, "fuzz.csv", buf, size, err, sizeof(err)) == 0) {
    if (w.n == 0)
      fz_die("parse succeeded with no rows");
    for (i = 0; i < w.n; i++)
      if (w.reqs[i].input_len < 1 || w.reqs[i].output_len < 1)
        fz_die("row %zu has a length below 1", i + 1);
    mlfq_workload_free(&w);
  } else if (err[0] == '\0') {
    fz_die("parse failed without a message");
  }
  free(buf);
  return 0;
}
