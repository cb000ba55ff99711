/* An in-process mlfqd for the harnesses: the real server (server/server.c,
 * conn.c, workers.c, http.c) on the caller's loop, listening on
 * 127.0.0.1:0, with a near-zero-time cost model so that nothing waits
 * long. */
#ifndef MLFQ_FUZZ_FZSERVER_H
#define MLFQ_FUZZ_FZSERVER_H

#include "server.h"

/* Starts sv on loop: variant 0 is mlfq with one engine and no KV limit,
 * variant 1 mlfq with two engines, batches of 4, quantum preemption and a
 * small KV cache that evicts by recompute. Sets *port. Aborts on failure. */
void fz_server_start(server_t *sv, uv_loop_t *loop, int variant, int *port);

/* Makes sv listen for HTTP too (http.c; model "mlfqd", max_tokens 4 when
 * absent, bodies up to 8 KiB, 8 requests per connection), on 127.0.0.1, any
 * free port (set in *port). Aborts on failure. */
void fz_server_http(server_t *sv, int *port);

/* Whether sv has nothing in flight, nothing to write, no HTTP connection
 * waiting to read its next request, and every engine idle. */
int fz_server_idle(const server_t *sv);

#endif
