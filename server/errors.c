/* DESIGN: the server's error reasons (errors.h) and what each door says for
 * them, one row per reason, so that the protocol and HTTP cannot disagree
 * on what a reason is. A client that cancelled has left HTTP's one request
 * per connection: the 500 there is never sent, it only keeps the table
 * whole. */
#include "errors.h"

static const struct {
  const char *name;
  Mlfq__ErrorCode wire;
  int http;
} table[SERVER_ERR_COUNT] = {
    [SERVER_ERR_INTERNAL] = {"internal", MLFQ__ERROR_CODE__INTERNAL, 500},
    [SERVER_ERR_SHUTTING_DOWN] = {"shutting_down",
                                  MLFQ__ERROR_CODE__SHUTTING_DOWN, 503},
    [SERVER_ERR_CANCELLED] = {"cancelled", MLFQ__ERROR_CODE__CANCELLED, 500},
    [SERVER_ERR_OVERLOADED] = {"overloaded", MLFQ__ERROR_CODE__OVERLOADED, 429},
    [SERVER_ERR_INVALID] = {"invalid", MLFQ__ERROR_CODE__INVALID_REQUEST, 400},
    [SERVER_ERR_TOO_MANY_CONNECTIONS] = {"too_many_connections",
                                         MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS,
                                         503},
};

static int known(server_err_t e) { return (unsigned)e < SERVER_ERR_COUNT; }

Mlfq__ErrorCode server_err_wire(server_err_t e) {
  return known(e) ? table[e].wire : MLFQ__ERROR_CODE__INTERNAL;
}

int server_err_http(server_err_t e) { return known(e) ? table[e].http : 500; }

const char *server_err_name(server_err_t e) {
  return known(e) ? table[e].name : "unknown";
}
