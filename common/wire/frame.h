/* Framing of the wire protocol: a 4-byte big-endian length, then that many
 * bytes of one protobuf message.
 *
 * The decoder is a pure function over bytes (no allocation, no I/O), so it
 * can be unit-tested and fuzzed: given what has arrived so far it answers
 * "need more", "one frame of this size", or an error. The length is checked
 * against the limit before anything is allocated.
 */
#ifndef MLFQ_FRAME_H
#define MLFQ_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MLFQ_FRAME_HEADER 4
#define MLFQ_FRAME_DEFAULT_MAX 65536u

/* Looks for the first frame in buf[0..len). Returns 0 when more bytes are
 * needed; the total size of the frame (header + payload, > 0) when one is
 * complete, with *payload and *payload_len set to its message; or a
 * negative code when the header is invalid: MLFQ_EFRAMESIZE if it
 * announces more than max payload bytes, MLFQ_EFRAMEEMPTY if it announces
 * none. An invalid header is reported as soon as its 4 bytes are there. */
long mlfq_frame_decode(const uint8_t *buf, size_t len, uint32_t max,
                       const uint8_t **payload, size_t *payload_len);

/* Writes the header of a frame carrying len payload bytes into out. */
void mlfq_frame_header(uint8_t out[MLFQ_FRAME_HEADER], uint32_t len);

#endif
