/* Glue between the project's types and the generated protobuf-c messages
 * of proto/mlfq.proto (docs/PROTOCOL.md): framing messages into buffers,
 * the configuration message in both directions, error code names.
 */
#ifndef MLFQ_WIRE_H
#define MLFQ_WIRE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "core/cost.h"
#include "core/sched.h"
#include "wire/mlfq.pb-c.h"

/* The protocol version this build speaks (Hello and Welcome). */
#define MLFQ_PROTOCOL_VERSION 1

/* A server's limits and clock, reported in Config beside the scheduling
 * configuration. */
typedef struct {
  double time_scale;
  uint64_t max_pending;
  uint32_t max_input_length;
  uint32_t max_output_length;
  uint32_t max_frame_bytes;
  uint64_t max_pending_per_conn;
} mlfq_limits_t;

/* A Config message and the storage its fields point into. */
typedef struct {
  Mlfq__Config config;
  Mlfq__CostModel cost;
  uint64_t quanta[MLFQ_MAX_QUEUES];
  Mlfq__ProfileRow *rows;
  Mlfq__ProfileRow **row_ptrs;
} mlfq_wire_config_t;

/* Appends one frame carrying m to b (header and packed message). Returns 0,
 * MLFQ_ERANGE if it would pass b's maximum, or MLFQ_ENOMEM. */
int mlfq_wire_put_server(mlfq_buf_t *b, const Mlfq__ServerMessage *m);
int mlfq_wire_put_client(mlfq_buf_t *b, const Mlfq__ClientMessage *m);

/* Fills w->config from a scheduler's configuration. The strings point
 * into cfg and cost, which must outlive w. Returns 0 or MLFQ_ENOMEM. Free
 * with mlfq_wire_config_free. */
int mlfq_wire_config_init(mlfq_wire_config_t *w, const mlfq_sched_config_t *cfg,
                          const mlfq_sched_params_t *p, const mlfq_cost_t *cost,
                          const mlfq_limits_t *lim);
void mlfq_wire_config_free(mlfq_wire_config_t *w);

/* The range of time_scale a Config may carry: mlfqd's --time-scale. */
#define MLFQ_WIRE_MIN_TIME_SCALE 1e-6
#define MLFQ_WIRE_MAX_TIME_SCALE 1e6

/* Checks every field of c, a Config a server sent, before any is used:
 * strings present where required (policy, preempt, cost.kind), at most 255
 * bytes and without control bytes (bytes from 0x80 up, UTF-8, are fine);
 * counts and limits in the ranges mlfqd's options allow, every number
 * finite and not negative, time_scale in [MLFQ_WIRE_MIN_TIME_SCALE,
 * MLFQ_WIRE_MAX_TIME_SCALE], profile rows in increasing input_length.
 * Names of kinds (policy, preempt, on_full, cost.kind) this build does not
 * know pass: a newer server may have more (docs/PROTOCOL.md, "Versions");
 * a client that must interpret one finds out from mlfq_wire_config_parse.
 * Returns 0, or MLFQ_EINVAL with err naming the field and its value
 * ("config.time_scale inf is not in [1e-06, 1e+06]"). */
int mlfq_wire_config_check(const Mlfq__Config *c, char *err, size_t errlen);

/* Checks a Welcome a server sent: the protocol version, its Config
 * (mlfq_wire_config_check), and server_id and server_version as the
 * Config's strings (both may be empty). Every client calls it (loadgen,
 * mlfqctl, the router's replica links). Returns 0, or MLFQ_EINVAL with err set.
 */
int mlfq_wire_welcome_check(const Mlfq__Welcome *w, char *err, size_t errlen);

/* Describes what a peer sent when it is not the protocol: up to the first
 * 32 bytes of p[0..n), quoted, printable ASCII as is and other bytes as
 * \xNN ("\"HTTP/1.1 400 Bad Request\\r\\n\"..."), into out (outlen bytes).
 * Returns out. */
const char *mlfq_wire_show_bytes(const uint8_t *p, size_t n, char *out,
                                 size_t outlen);

/* The reverse: the scheduler configuration and cost model a Config
 * describes, so that a client can replay a server's run in the simulator.
 * cfg->policy points into c. Returns 0, or MLFQ_EINVAL with err set when
 * c fails mlfq_wire_config_check, names a kind this build does not know
 * ("config.preempt 'x' is not one this build knows (iteration, quantum)")
 * or is inconsistent. Free cost with
 * mlfq_cost_free. */
int mlfq_wire_config_parse(const Mlfq__Config *c, mlfq_sched_config_t *cfg,
                           mlfq_cost_t *cost, mlfq_limits_t *lim, char *err,
                           size_t errlen);

/* An Error ServerMessage and the storage its fields point into. */
typedef struct {
  Mlfq__ServerMessage m;
  Mlfq__Error e;
  char message[256];
} mlfq_wire_error_t;

/* Fills w with an Error about request id (0: about the connection) with
 * code and the message fmt and ap format (cut to fit w->message). Returns
 * &w->m, which points into w. */
const Mlfq__ServerMessage *
mlfq_wire_error_init(mlfq_wire_error_t *w, uint64_t id, Mlfq__ErrorCode code,
                     const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 0)))
#endif
    ;

/* Checks m, the next message of a server's client connection (NULL: its
 * bytes are not a ClientMessage), against docs/PROTOCOL.md: one Hello and
 * it first (hello: the connection has had it), then Submit, Cancel and
 * StatsRequest, a Submit's or a Cancel's id not 0 (reserved: an Error with
 * id 0 is about the connection). Returns m's msg_case when the server is
 * to handle m (its hello, submit or cancel is then set), or
 * MLFQ__CLIENT_MESSAGE__MSG__NOT_SET with *code and *why (a static string)
 * set to the error that closes the connection. */
Mlfq__ClientMessage__MsgCase
mlfq_wire_client_check(const Mlfq__ClientMessage *m, int hello,
                       Mlfq__ErrorCode *code, const char **why);

/* Checks a Hello's protocol version. Returns 0, or MLFQ_EINVAL with err set
 * to the message of its BAD_VERSION Error, which names the server as who
 * ("server", "router"). */
int mlfq_wire_hello_check(const Mlfq__Hello *h, const char *who, char *err,
                          size_t errlen);

/* Checks a Submit's lengths against a server's limits (each length must be
 * in [1, max]). Returns 0, or MLFQ_EINVAL with err set to the message of
 * its INVALID_REQUEST Error. */
int mlfq_wire_submit_check(const Mlfq__Submit *s, uint32_t max_input_length,
                           uint32_t max_output_length, char *err,
                           size_t errlen);

/* Whether m (an unpacked message) and the messages in it carry no unknown
 * field numbered 0. protobuf-c's unpack takes a tag of field 0 written in
 * two or more bytes as an unknown field, and its pack writes it back in one
 * byte, which its unpack then refuses: a message relayed as it came (the
 * router's) must pass this check, or the peer it goes to gets bytes that
 * are not a message. */
int mlfq_wire_tags_valid(const ProtobufCMessage *m);

/* The request m, a ServerMessage, is about: the id of an Accepted, a
 * Token, a Done or an Error (0: an Error about the connection), or 0 for
 * the other kinds. */
uint64_t mlfq_wire_msg_id(const Mlfq__ServerMessage *m);

/* The name of an ErrorCode ("OVERLOADED"), or "UNKNOWN". */
const char *mlfq_wire_error_name(int code);

#endif
