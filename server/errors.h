/* Why the server ends a request without finishing it, or refuses one, in
 * its own words; each door says it in its own: the protocol as an
 * ErrorCode (conn.c), HTTP as a status (http.c, completion.c). Pure
 * tables, no state.
 */
#ifndef MLFQ_SERVER_ERRORS_H
#define MLFQ_SERVER_ERRORS_H

#include "wire/mlfq.pb-c.h"

typedef enum {
  SERVER_ERR_INTERNAL,      /* the server failed (out of memory, a bug) */
  SERVER_ERR_SHUTTING_DOWN, /* the server drains or has stopped */
  SERVER_ERR_CANCELLED,     /* the client cancelled the request */
  SERVER_ERR_OVERLOADED,    /* max_pending, max_pending_per_conn, fair share */
  SERVER_ERR_INVALID,       /* the request cannot be run (its lengths) */
  SERVER_ERR_TOO_MANY_CONNECTIONS, /* max_connections reached */
  SERVER_ERR_COUNT
} server_err_t;

/* The protocol's ErrorCode for e (MLFQ__ERROR_CODE__INTERNAL for a value
 * out of the enum). Any thread. */
Mlfq__ErrorCode server_err_wire(server_err_t e);
/* The HTTP status for e (500 for a value out of the enum). Any thread. */
int server_err_http(server_err_t e);
/* e's name, lower case ("shutting_down"; "unknown" out of the enum). Any
 * thread. */
const char *server_err_name(server_err_t e);

#endif
