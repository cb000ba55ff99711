/* An in-process mlfq-router for the harnesses: the real router (router/
 * but main.c) on the caller's loop, listening on 127.0.0.1:0, with one
 * replica at 127.0.0.1:replica_port. */
#ifndef MLFQ_FUZZ_FZROUTER_H
#define MLFQ_FUZZ_FZROUTER_H

#include "router.h"

/* Starts rt on loop and sets *port. Aborts on failure. */
void fz_router_start(router_t *rt, uv_loop_t *loop, int replica_port,
                     int *port);

/* The client connection of rt, or NULL when it has none. */
client_t *fz_router_client(router_t *rt);

/* Bytes rt has not read yet from s's socket. */
size_t fz_stream_unread(mlfq_stream_t *s);

#endif
