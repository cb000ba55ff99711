/* A blocking protocol peer: one TCP connection to mlfqd (or anything that
 * speaks its protocol), with deadlines on every wait. For small clients
 * (mlfqctl) and tests; loadgen has its own event loop.
 */
#ifndef MLFQ_PEER_H
#define MLFQ_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wire/mlfq.pb-c.h"

typedef struct {
  int fd;
  mlfq_buf_t in;
  uint32_t max_frame;
} mlfq_peer_t;

/* Splits "HOST:PORT" (or "[V6]:PORT") into host and port. Returns 0 or
 * MLFQ_EINVAL. */
int mlfq_peer_parse_addr(const char *s, char *host, size_t hostlen, int *port);

/* Connects to host:port within timeout_ms, with TCP_NODELAY. Returns 0 or a
 * negated errno (-ETIMEDOUT, -ECONNREFUSED, ...) with err set. */
int mlfq_peer_connect(mlfq_peer_t *p, const char *host, int port,
                      int timeout_ms, char *err, size_t errlen);

/* Sends one framed message, or raw bytes. Returns 0 or a negated errno. */
int mlfq_peer_send(mlfq_peer_t *p, const Mlfq__ClientMessage *m);
int mlfq_peer_send_raw(mlfq_peer_t *p, const void *buf, size_t len);

/* Waits at most timeout_ms for the next message. Returns 0 with *m set
 * (free it with mlfq__server_message__free_unpacked), -ETIMEDOUT, -EPIPE
 * when the server closed the connection, MLFQ_EPARSE for bytes that are not
 * a frame of a ServerMessage (they stay at the start of p->in, to be shown
 * with mlfq_wire_show_bytes), or another negated errno. */
int mlfq_peer_recv(mlfq_peer_t *p, Mlfq__ServerMessage **m, int timeout_ms);

/* Sends Hello and waits for Welcome (returned in *welcome, or freed when
 * welcome is NULL). Returns 0, a code of mlfq_peer_recv, or MLFQ_EPARSE
 * when the reply is not a Welcome that mlfq_wire_welcome_check passes. */
int mlfq_peer_hello(mlfq_peer_t *p, const char *name,
                    Mlfq__ServerMessage **welcome, int timeout_ms);

void mlfq_peer_close(mlfq_peer_t *p);

#endif
