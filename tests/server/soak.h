/* The soak: 1,000 connections of four behaviours against one server. */
/* SOAK_CONNS (1,000) client connections at once against a real
 * mlfqd, and against mlfq-router over two replicas, for MLFQ_SOAK_SECONDS
 * (default 20; 10 in a sanitizer build), each connection one of four
 * behaviours drawn at random and replaced by a fresh one when it ends:
 *
 *   good     Hello, up to 4 requests in flight and 4 to 16 in all, every
 *            Token and Done read; one request in 8 is cancelled after its
 *            first token (it ends with CANCELLED, or with Done and then
 *            UNKNOWN_ID for the Cancel if the Done was already on its way)
 *   invalid  a garbage payload, an oversized frame, a Submit before Hello or
 *            a bad version (each: an Error with id 0, then the close); or,
 *            on a connection that stays, a duplicate id, a Cancel of an
 *            unknown id and an invalid request beside a good one
 *   vanish   long requests, then a close (or a reset) after a few tokens
 *   slow     long requests and 32,000 StatsRequests, never reading: the
 *            replies overflow the kernel's socket buffers (4 MB on
 *            loopback) and then --max-queued-bytes, and the server
 *            disconnects it (it sees a reset, or the end of the stream once
 *            it reads again after SLOW_STALL_MS)
 *
 * Every request accepted on a connection that stays ends exactly once: a
 * Done after all its tokens, or a final Error, and nothing follows its end.
 * Warm-up rounds of the same traffic settle the server first: they go on
 * until one adds at most 2% to the RSS the server holds once idle (the
 * allocator's caches and the heap's scatter converge over a few rounds).
 * After the soak, once every connection has closed and the server is idle,
 * its RSS is within 10% of the settled one and it holds as many file
 * descriptors. The
 * figures go to stdout as "soak: ..." lines (docs/RELIABILITY.md). A
 * sanitizer build checks everything but the RSS bound, which the
 * sanitizers' own allocators make meaningless.
 *
 * The test raises RLIMIT_NOFILE for itself and the servers it starts; it
 * fails if the hard limit is too low for the connections. Longer runs:
 * scripts/soak.sh. */
#ifndef MLFQ_TEST_SOAK_H
#define MLFQ_TEST_SOAK_H

#include "base/buf.h"
#include "base/rng.h"

#include "client.h"

#define SANITIZED MLFQ_TEST_SANITIZED

#define SOAK_CONNS 1000
#define REQ_MAX 16         /* requests of a good connection, at most */
#define WINDOW_MAX 4       /* of a good connection in flight, at most */
#define VANISH_OUT 200     /* tokens asked by a vanishing connection */
#define SLOW_REQS 16       /* requests of a slow reader */
#define SLOW_OUT 1000000   /* tokens each */
#define SLOW_STATS 32000   /* and StatsRequests: 6 MB of replies */
#define SLOW_STALL_MS 5000 /* a slow reader reads again after this */
#define TICK_MS 10
#define MAX_FRAME 65536 /* the servers' --max-frame-bytes (the default) */
#define END_MS 60000    /* after the soak, every connection ends within it */
#define IDLE_MS 30000   /* then the server is idle within it */
#define SETTLE_ROUNDS 4 /* warm-up rounds, at most */

/* The servers' options: every job of every connection runs in each
 * iteration (fcfs, large batches) so slow readers and vanishing clients
 * have tokens coming; a small --max-queued-bytes disconnects a slow reader
 * quickly. */
#define REPLICA_ARGS                                                           \
  "--policy", "fcfs", "--max-batch", "4096", "--workers", "2", "--decode-ms",  \
      "20", "--prefill-ms-per-token", "0.001", "--max-connections", "4096"
#define EDGE_ARGS "--max-queued-bytes", "16384"

typedef enum { GOOD, INVALID, VANISH, SLOW, NKINDS } kind_t;
typedef enum {
  INV_GARBAGE,
  INV_OVERSIZED,
  INV_BEFORE_HELLO,
  INV_BAD_VERSION,
  INV_REQUESTS,
  NINV
} inv_t;

/* What a connection has seen of one of its requests (ids 1..REQ_MAX). */
typedef struct {
  uint32_t out;
  uint32_t accepted, tokens, done, errors;
  int cancel_sent, unknown_seen, ended;
} req_t;

typedef struct {
  int fd;
  uint64_t tag; /* epoll's data: slot | generation << 32 */
  int connected;
  kind_t kind;
  inv_t inv;
  mlfq_buf_t in, out;
  req_t req[REQ_MAX + 1];
  unsigned nreq, window, sent, ended;
  uint32_t vanish_after, seen_tokens;
  int64_t start_ms;
  int reading; /* slow: reading again */
  int welcome, fatal_code, dup_seen;
} conn_t;

/* Counts for the report. */
typedef struct {
  uint64_t sessions[NKINDS], invalid[NINV];
  uint64_t submitted, accepted, done, cancelled, unknown, tokens;
  uint64_t slow_reset, slow_eof, vanish_rst;
  unsigned peak;
} counts_t;

typedef struct {
  const char *host;
  int port;
  int ep;
  conn_t *slot[SOAK_CONNS];
  unsigned open;
  int64_t stop_ms; /* no new connection after it */
  mlfq_rng_t rng;
  uint32_t gen;
  tc_client_t *st; /* for Stats */
  counts_t n;
} soak_t;

/* Runs the traffic on every slot of s for seconds, then until every
 * connection has ended (at most END_MS more). Adds to s->n. */
void soak_round(soak_t *s, double seconds);

/* Raises the soft RLIMIT_NOFILE (inherited by the servers started after)
 * to what SOAK_CONNS connections need; fails the test if the hard limit
 * is too low. */
void soak_raise_nofile(void);

/* Soaks the server at target, settled first by warm-up rounds, and
 * asserts what the soak promises (above). target->pid is the process
 * measured; others (at most 4) are more processes whose descriptors must
 * not leak either. */
void soak(const char *name, const mlfq_test_daemon_t *target,
          const mlfq_test_daemon_t *others, int nothers);

#endif
