/* Helpers shared by the fuzz harnesses (tests/fuzz/fuzz-*.c): a client
 * socket driven from the harness's thread while the libuv loop under test
 * runs on the same thread, the frames it reads, and a failure that aborts
 * (which libFuzzer reports as a crash).
 *
 * Everything here is for harnesses: blocking is bounded by deadlines, and
 * any surprise aborts.
 */
#ifndef MLFQ_FUZZ_HARNESS_H
#define MLFQ_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "wire/mlfq.pb-c.h"

/* How long one input may take before the harness calls it a hang. */
#define FZ_DEADLINE_MS 10000

/* The end of one side of a TCP connection the harness holds. */
typedef struct {
  int fd;        /* -1: closed */
  int eof;       /* the peer closed (or reset) its side */
  mlfq_buf_t in; /* read, not yet taken as frames */
} fz_peer_t;

/* Prints the message and aborts. */
void fz_die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* Milliseconds of a monotonic clock. */
uint64_t fz_now_ms(void);

/* Silences the project's log and ignores SIGPIPE; call once. */
void fz_quiet(void);

/* Runs loop once without blocking after waiting at most ms for its backend
 * to have events (or its next timer). */
void fz_pump(uv_loop_t *loop, int ms);

/* Bytes waiting to be read on fd (FIONREAD), 0 on error. */
size_t fz_unread(int fd);

/* A POSIX TCP socket listening on 127.0.0.1, any free port (set in
 * *port), non-blocking. Aborts on failure. */
int fz_listen(int *port);

/* Connects p to 127.0.0.1:port (a blocking connect, then non-blocking).
 * Aborts on failure. */
void fz_peer_connect(fz_peer_t *p, int port);
/* Takes an accepted fd. */
void fz_peer_adopt(fz_peer_t *p, int fd);
void fz_peer_close(fz_peer_t *p);
/* Writes all of buf, running loop while the socket is full. Returns 0, or
 * -1 if the peer has gone (the rest is dropped). */
int fz_peer_write(fz_peer_t *p, uv_loop_t *loop, const void *buf, size_t len);
/* Reads what is there without blocking; sets p->eof at the end. */
void fz_peer_read(fz_peer_t *p);
/* Reads and takes every whole frame, which must be a ClientMessage (what
 * the router sends a replica), and calls fn with each. Returns how many. */
size_t fz_peer_client_frames(fz_peer_t *p,
                             void (*fn)(void *ud, const Mlfq__ClientMessage *m),
                             void *ud);
/* Reads and takes every whole frame, checking that each is a
 * ServerMessage: our servers never send anything else. Returns how many;
 * counts those of msg_case `want` in *nwant when not NULL. */
size_t fz_peer_server_frames(fz_peer_t *p, int want, size_t *nwant);

/* Appends a framed ClientMessage to b. */
void fz_put_hello(mlfq_buf_t *b);
void fz_put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out);
void fz_put_cancel(mlfq_buf_t *b, uint64_t id);
void fz_put_stats(mlfq_buf_t *b);

/* Appends a framed Welcome of protocol version, naming server_id and
 * server_version, with the configuration of a small mlfqd (linear cost,
 * the default policy). */
void fz_put_welcome(mlfq_buf_t *b, uint32_t version, const char *server_id,
                    const char *server_version);

/* An exact copy of the size bytes at data, not NUL-terminated: reading
 * past it is an overflow ASan sees. NULL if out of memory (free it). */
char *fz_copy(const uint8_t *data, size_t size);

/* The fuzz entry point every harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
