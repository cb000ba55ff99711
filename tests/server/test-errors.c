/* server/errors.c: the server's error reasons, as the protocol says them
 * (an ErrorCode) and as HTTP does (a status), one row each. The protocol's
 * codes and HTTP's statuses are those each door sent before the reasons
 * had a name of their own. */
#include <string.h>

#include "errors.h"
#include "task.h"

TEST(errors, protocol_codes) {
  ASSERT_EQ(server_err_wire(SERVER_ERR_INTERNAL), MLFQ__ERROR_CODE__INTERNAL);
  ASSERT_EQ(server_err_wire(SERVER_ERR_SHUTTING_DOWN),
            MLFQ__ERROR_CODE__SHUTTING_DOWN);
  ASSERT_EQ(server_err_wire(SERVER_ERR_CANCELLED), MLFQ__ERROR_CODE__CANCELLED);
  ASSERT_EQ(server_err_wire(SERVER_ERR_OVERLOADED),
            MLFQ__ERROR_CODE__OVERLOADED);
  ASSERT_EQ(server_err_wire(SERVER_ERR_INVALID),
            MLFQ__ERROR_CODE__INVALID_REQUEST);
  ASSERT_EQ(server_err_wire(SERVER_ERR_TOO_MANY_CONNECTIONS),
            MLFQ__ERROR_CODE__TOO_MANY_CONNECTIONS);
}

TEST(errors, http_statuses) {
  ASSERT_EQ(server_err_http(SERVER_ERR_INTERNAL), 500);
  ASSERT_EQ(server_err_http(SERVER_ERR_SHUTTING_DOWN), 503);
  ASSERT_EQ(server_err_http(SERVER_ERR_CANCELLED), 500);
  ASSERT_EQ(server_err_http(SERVER_ERR_OVERLOADED), 429);
  ASSERT_EQ(server_err_http(SERVER_ERR_INVALID), 400);
  ASSERT_EQ(server_err_http(SERVER_ERR_TOO_MANY_CONNECTIONS), 503);
}

/* Every reason has a row: a code that is not the unspecified one, an
 * error status, and a name of its own. */
TEST(errors, every_reason_has_a_row) {
  int i, j;

  for (i = 0; i < SERVER_ERR_COUNT; i++) {
    ASSERT_NE(server_err_wire((server_err_t)i),
              MLFQ__ERROR_CODE__ERROR_UNSPECIFIED);
    ASSERT_GE(server_err_http((server_err_t)i), 400);
    ASSERT_LT(server_err_http((server_err_t)i), 600);
    ASSERT(server_err_name((server_err_t)i) != NULL);
    ASSERT(strcmp(server_err_name((server_err_t)i), "unknown") != 0);
    for (j = 0; j < i; j++)
      ASSERT(strcmp(server_err_name((server_err_t)i),
                    server_err_name((server_err_t)j)) != 0);
  }
}

/* A value out of the enum is an internal error to both doors. */
TEST(errors, out_of_range_is_internal) {
  ASSERT_EQ(server_err_wire(SERVER_ERR_COUNT), MLFQ__ERROR_CODE__INTERNAL);
  ASSERT_EQ(server_err_wire((server_err_t)-1), MLFQ__ERROR_CODE__INTERNAL);
  ASSERT_EQ(server_err_http(SERVER_ERR_COUNT), 500);
  ASSERT_STR_EQ(server_err_name(SERVER_ERR_COUNT), "unknown");
}
