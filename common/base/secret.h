/* The process's random secret, and hash keys drawn from it: for every
 * table whose keys a peer chooses (the id maps), so that where a key lands
 * differs from process to process and from table to table, and a peer
 * cannot craft keys that collide.
 */
#ifndef MLFQ_SECRET_H
#define MLFQ_SECRET_H

#include "base/siphash.h"

/* Reads the secret (16 bytes from getrandom(2), or from /dev/urandom where
 * that fails) once per process; later calls return the first one's
 * result. Returns 0, or a negated errno (MLFQ_EIO for a short read) when
 * there is no randomness to be had: there is then no secret, never a
 * zero one. Daemons call it at start-up so that they fail there. Any
 * thread. */
int mlfq_secret_init(void);

/* Sets *k to a key of its own, derived from the secret (SipHash-2-4 of a
 * counter), different at each call. Returns 0, or mlfq_secret_init's
 * error with *k untouched. Any thread. */
int mlfq_secret_key(mlfq_siphash_key_t *k);

#endif
