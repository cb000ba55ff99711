/* Fuzzes the frame decoder (common/wire/frame.c) the way the daemon uses it:
 * the input after two control bytes is a byte stream delivered in chunks
 * whose sizes the control bytes choose, appended to a buffer and decoded
 * frame by frame as conn.c's on_read does. The frames found must be the
 * same whatever the split (checked against decoding the whole stream at
 * once), and each frame goes through the checks the daemon applies: the
 * ClientMessage unpack, mlfq_wire_client_check, and the Hello and Submit
 * checks.
 *
 * Input: byte 0 seeds the chunk sizes, byte 1 picks the maximum frame
 * size (so the limit itself is fuzzed), the rest is the stream. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "harness.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define MAX_FRAMES 4096

typedef struct {
  size_t nframes;
  size_t ends[MAX_FRAMES]; /* stream offset after each frame */
  long error;              /* the decoder's error, 0 if none */
  size_t error_at;
} result_t;

/* What the daemon does with one frame's payload. */
static void handle(const uint8_t *p, size_t len, int *hello) {
  Mlfq__ClientMessage *m = mlfq__client_message__unpack(NULL, len, p);
  Mlfq__ErrorCode code = 0;
  const char *why = NULL;
  char err[256];

  switch (mlfq_wire_client_check(m, *hello, &code, &why)) {
  case MLFQ__CLIENT_MESSAGE__MSG_HELLO:
    if (m->hello == NULL)
      fz_die("Hello accepted without a hello");
    if (mlfq_wire_hello_check(m->hello, "server", err, sizeof(err)) == 0)
      *hello = 1;
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_SUBMIT:
    if (m->submit == NULL || !*hello)
      fz_die("Submit accepted without a submit or before Hello");
    if (mlfq_wire_submit_check(m->submit, 4096, 64, err, sizeof(err)) == 0 &&
        (m->submit->input_length < 1 || m->submit->input_length > 4096 ||
         m->submit->output_length < 1 || m->submit->output_length > 64))
      fz_die("Submit check let bad lengths through");
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_CANCEL:
    if (m->cancel == NULL || !*hello)
      fz_die("Cancel accepted without a cancel or before Hello");
    break;
  case MLFQ__CLIENT_MESSAGE__MSG_STATS:
    if (!*hello)
      fz_die("StatsRequest accepted before Hello");
    break;
  case MLFQ__CLIENT_MESSAGE__MSG__NOT_SET:
    if (why == NULL || (code != MLFQ__ERROR_CODE__BAD_MESSAGE &&
                        code != MLFQ__ERROR_CODE__HELLO_FIRST))
      fz_die("a refused message without a reason");
    break;
  default:
    fz_die("client check returned an unknown case");
  }
  if (m != NULL)
    mlfq__client_message__free_unpacked(m, NULL);
}

/* Decodes s[0..n) delivered in chunks (chunk sizes from the xorshift state
 * seed; 0: all at once), as conn.c's on_read does. */
static void decode(const uint8_t *s, size_t n, uint32_t max, unsigned seed,
                   result_t *r, int run_checks) {
  mlfq_buf_t in;
  const uint8_t *payload;
  size_t pos = 0, consumed = 0, chunk, plen;
  unsigned x = seed * 2654435761u + 1;
  int hello = 0;
  long k;

  memset(r, 0, sizeof(*r));
  mlfq_buf_init(&in, (size_t)max + MLFQ_FRAME_HEADER + n + 1);
  while (pos < n && r->error == 0) {
    if (seed == 0) {
      chunk = n - pos;
    } else {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      chunk = 1 + x % ((seed & 7) == 0 ? 3 : (seed & 7) * 9);
      if (chunk > n - pos)
        chunk = n - pos;
    }
    if (mlfq_buf_append(&in, s + pos, chunk) != 0)
      fz_die("buffer append failed");
    pos += chunk;
    for (;;) {
      k = mlfq_frame_decode(in.data, in.len, max, &payload, &plen);
      if (k == 0)
        break;
      if (k < 0) {
        if (k != MLFQ_EFRAMESIZE && k != MLFQ_EFRAMEEMPTY)
          fz_die("decoder error %ld is not documented", k);
        r->error = k;
        r->error_at = consumed;
        break;
      }
      if ((size_t)k != plen + MLFQ_FRAME_HEADER || plen == 0 || plen > max ||
          payload != in.data + MLFQ_FRAME_HEADER || (size_t)k > in.len)
        fz_die("decoder returned an inconsistent frame");
      if (run_checks)
        handle(payload, plen, &hello);
      consumed += (size_t)k;
      if (r->nframes < MAX_FRAMES)
        r->ends[r->nframes] = consumed;
      r->nframes++;
      mlfq_buf_consume(&in, (size_t)k);
    }
  }
  mlfq_buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t maxes[] = {
      1, 7, 64, 4096, MLFQ_FRAME_DEFAULT_MAX, UINT32_MAX};
  result_t whole, split;
  uint32_t max;
  size_t i;

  if (size < 2)
    return 0;
  max = maxes[data[1] % (sizeof(maxes) / sizeof(maxes[0]))];
  decode(data + 2, size - 2, max, 0, &whole, 0);
  decode(data + 2, size - 2, max, data[0] | 1u, &split, 1);
  if (whole.nframes != split.nframes || whole.error != split.error ||
      whole.error_at != split.error_at)
    fz_die("a split changed the frames: %zu/%ld vs %zu/%ld", whole.nframes,
           whole.error, split.nframes, split.error);
  for (i = 0; i < whole.nframes && i < MAX_FRAMES; i++)
    if (whole.ends[i] != split.ends[i])
      fz_die("a split moved frame %zu", i + 1);
  return 0;
}
