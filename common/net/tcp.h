/* The TCP plumbing the servers (mlfqd, mlfq-router) and loadgen share:
 * the listening socket, resolving a server's address, and the names of
 * socket addresses. The libuv calls belong to the loop's thread.
 */
#ifndef MLFQ_TCP_H
#define MLFQ_TCP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"

/* Initialises listener on loop and listens on host:port (a numeric IPv4 or
 * IPv6 address; port 0 takes any free port), calling on_connection for
 * each client; writes the bound address to bound (mlfq_tcp_addr_name).
 * Returns 0 or a negative code with err set. *open is set to 1 once
 * listener is initialised, even when listening then fails: the caller
 * closes it (uv_close). */
int mlfq_tcp_listen(uv_loop_t *loop, uv_tcp_t *listener, int *open,
                    const char *host, int port, uv_connection_cb on_connection,
                    char *bound, size_t boundlen, char *err, size_t errlen);

/* Resolves host (a numeric address or a name, looked up with a blocking
 * getaddrinfo) and port into *ss, the first address found. Returns 0 or a
 * negative code with err naming host. Any thread; it may block. */
int mlfq_tcp_resolve(const char *host, int port, struct sockaddr_storage *ss,
                     char *err, size_t errlen);

/* A write request allocated together with its bytes. */
typedef struct {
  uv_write_t req;
  void *owner;
  size_t len;
  uint8_t data[];
} mlfq_tcp_write_t;

/* Writes everything in out to stream with one uv_write of a copy (out is
 * left empty); cb gets the request, whose owner is owner, and frees it
 * with free(). Does nothing when out is empty. Returns 0 and adds the
 * length to *queued, or UV_ENOMEM or the uv_write error: then cb will not
 * run and the connection is unusable. Loop thread. */
int mlfq_tcp_write_buf(uv_stream_t *stream, mlfq_buf_t *out, void *owner,
                       uv_write_cb cb, size_t *queued);

/* Writes an IPv4 or IPv6 socket address to buf as "HOST:PORT" or
 * "[V6]:PORT" (HOST "?" if it cannot be named). */
void mlfq_tcp_addr_name(const struct sockaddr *sa, char *buf, size_t len);

#endif
