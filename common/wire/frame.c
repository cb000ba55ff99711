#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "wire/frame.h"

long mlfq_frame_decode(const uint8_t *buf, size_t len, uint32_t max,
                       const uint8_t **payload, size_t *payload_len) {
  uint32_t n;

  assert(payload != NULL && payload_len != NULL);
  *payload = NULL;
  *payload_len = 0;
  if (len < MLFQ_FRAME_HEADER)
    return 0;
  n = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
      ((uint32_t)buf[2] << 8) | (uint32_t)buf[3];
  if (n == 0)
    return MLFQ_EFRAMEEMPTY;
  if (n > max)
    return MLFQ_EFRAMESIZE;
#if LONG_MAX - MLFQ_FRAME_HEADER < UINT32_MAX
  /* Where long is 32 bits wide, the size must still fit the return value. */
  if (n > (uint32_t)(LONG_MAX - MLFQ_FRAME_HEADER))
    return MLFQ_EFRAMESIZE;
#endif
  if (len - MLFQ_FRAME_HEADER < n)
    return 0;
  *payload = buf + MLFQ_FRAME_HEADER;
  *payload_len = n;
  return (long)n + MLFQ_FRAME_HEADER;
}

void mlfq_frame_header(uint8_t out[MLFQ_FRAME_HEADER], uint32_t len) {
  out[0] = (uint8_t)(len >> 24);
  out[1] = (uint8_t)(len >> 16);
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
}
