/* The router tests' rig: n mlfqd replicas and an mlfq-router over them. */
/* The replicas listen on ephemeral ports; the waits and checks here are
 * those the router's tests share. Nothing here returns an error: what goes
 * wrong fails the test, and every wait has a deadline. */
#ifndef MLFQ_TEST_RIG_H
#define MLFQ_TEST_RIG_H

#include "client.h"

#define ROUTER MLFQ_BIN_DIR "/mlfq-router"
#define MAXREP 3

/* A fast cost model: 1 ms per decode. */
#define FAST "--decode-ms", "1", "--prefill-ms-per-token", "0.01"
/* Prefills of 1 ms per prompt token: a burst of Submits is dispatched
 * long before the first Token of any of them can come back. */
#define SLOW_PREFILL                                                           \
  "--decode-ms", "2", "--prefill-ms-per-token", "1", "--max-batch", "32"

/* n replicas and a router over them. */
typedef struct {
  mlfq_test_daemon_t rep[MAXREP];
  int running[MAXREP]; /* 0 once a test has stopped replica i itself */
  int n;
  mlfq_test_daemon_t router;
} rig_t;

/* Starts n (at most MAXREP) replicas with rargs and a router over them
 * with args (either may be NULL-terminated empty; args may be NULL), and
 * waits until the router has every replica up. */
void rig_start(rig_t *g, int n, const char *const *rargs,
               const char *const *args);

/* Stops the router and the replicas still running; each must exit 0. */
void rig_stop(rig_t *g);

/* Receives on c, recording in s, until requests first..last have all
 * ended. */
void rig_wait_ended(tc_client_t *c, tc_seen_t *s, uint64_t first,
                    uint64_t last);

/* Asserts that every request first..last ended once, with Done and out
 * Tokens from a replica in 1..n, and that nothing came after its end. */
void rig_assert_all_done(tc_client_t *c, const tc_seen_t *s, uint64_t first,
                         uint64_t last, uint32_t out, int n);

/* Receives until requests first..last have all been accepted (replicas
 * answer independently: not necessarily in order). */
void rig_wait_accepted(tc_client_t *c, uint64_t first, uint64_t last);

#endif
