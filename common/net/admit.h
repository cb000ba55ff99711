/* Whether a server (mlfqd, the router) takes more requests from a
 * connection: --max-pending over the whole server, --max-pending-per-conn
 * over each connection, and the fair share of what is left. Only the
 * decision, in O(1) from two counts the caller keeps (requests in flight
 * on the server, and on the connection); no I/O, any thread.
 *
 * The fair share: while other connections have requests in flight, a
 * connection may not hold more requests than there are free slots. One
 * greedy connection therefore stops at half of what is free, a second at
 * half of what the first left, and so on; a connection holding fewer
 * requests than there are free slots is always let in, one with none in
 * flight whenever a slot is free, and as requests end their slots go to
 * the connections holding the fewest. A connection alone on the server
 * meets only the two limits. docs/PROTOCOL.md, "Fair share".
 */
#ifndef MLFQ_ADMIT_H
#define MLFQ_ADMIT_H

#include <stddef.h>

typedef enum {
  MLFQ_ADMIT_OK,
  MLFQ_ADMIT_FULL,  /* max_pending requests are in flight */
  MLFQ_ADMIT_CONN,  /* the connection holds max_per_conn */
  MLFQ_ADMIT_SHARE, /* the connection holds as many as there are free slots */
} mlfq_admit_t;

/* Whether n more requests of a connection holding own (of the total in
 * flight on the server) may come in, under max_pending and max_per_conn
 * (both at least 1). */
mlfq_admit_t mlfq_admit(size_t total, size_t own, size_t n, size_t max_pending,
                        size_t max_per_conn);

/* Writes to err the message of the OVERLOADED Error for refusal a (not
 * MLFQ_ADMIT_OK) of mlfq_admit with the same counts. */
void mlfq_admit_why(mlfq_admit_t a, size_t total, size_t own,
                    size_t max_pending, size_t max_per_conn, char *err,
                    size_t errlen);

/* The default of --max-pending-per-conn: half of max_pending, at least 1,
 * so that one connection alone leaves half of the server to the others. */
size_t mlfq_admit_default_per_conn(size_t max_pending);

#endif
