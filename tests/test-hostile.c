/* The hostile-client suite: what an attacker or an unlucky operator does to
 * mlfqd, mlfq-router, loadgen and mlfqsim, one section per class of fault
 * (docs/RELIABILITY.md, "Hostile tests"). Each test failed on the code
 * before its fix. Every test is bounded in time and count; every wait has a
 * deadline, and nothing sleeps to synchronise. */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>

#include "wire.h"

#include "client.h"

/* ------------------------------------------------------------------------
 * Adversarial request ids: keys chosen to collide in the id maps.
 * ------------------------------------------------------------------------ */

/* (end of adversarial ids) */

/* ------------------------------------------------------------------------
 * A stopped replica: a router must notice a replica that stops answering.
 * ------------------------------------------------------------------------ */

/* (end of stopped replica) */

/* ------------------------------------------------------------------------
 * A monopolising client and request id 0.
 * ------------------------------------------------------------------------ */

/* (end of monopolising client) */

/* ------------------------------------------------------------------------
 * Planted symlinks and logging that must not block.
 * ------------------------------------------------------------------------ */

/* (end of files and logs) */

/* ------------------------------------------------------------------------
 * Oversized configuration: a long model name, a huge profile.
 * ------------------------------------------------------------------------ */

/* (end of oversized configuration) */

/* ------------------------------------------------------------------------
 * A bad peer for loadgen, and overflowing simulated times.
 * ------------------------------------------------------------------------ */

/* (end of bad peer and overflow) */
