/* mlfqctl's exchange with the server: connect, Hello, StatsRequest, each
 * within what is left of the one deadline, and every failure described in
 * one message (ctl_t.why) that names the address. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/units.h"
#include "ctl.h"

uint64_t ctl_mono_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * MLFQ_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Milliseconds left before the deadline, rounded up; 0 once it passed. */
static int left_ms(const ctl_t *c) {
  uint64_t now = ctl_mono_ns();

  if (now >= c->deadline)
    return 0;
  return (int)((c->deadline - now + MLFQ_NS_PER_MS - 1) / MLFQ_NS_PER_MS);
}

int ctl_connect(ctl_t *c) {
  char err[256];
  const char *why;
  size_t hl = strlen(c->host);
  int rc;

  rc = mlfq_peer_connect(&c->peer, c->host, c->port, left_ms(c), err,
                         sizeof(err));
  if (rc == 0) {
    c->connected = 1;
    return 0;
  }
  if (rc == -ETIMEDOUT) {
    snprintf(c->why, sizeof(c->why),
             "cannot connect to %s: no answer within %u ms", c->addr,
             c->timeout_ms);
    return rc;
  }
  why = strerror(-rc);
  if (rc == -EINVAL) { /* name resolution: err is "HOST: reason" */
    why = err;
    if (strncmp(err, c->host, hl) == 0 && strncmp(err + hl, ": ", 2) == 0)
      why = err + hl + 2;
  }
  snprintf(c->why, sizeof(c->why), "cannot connect to %s: %s", c->addr, why);
  return rc;
}

/* Describes rc, a code of mlfq_peer_send or mlfq_peer_recv met while
 * waiting for what, in c->why. Returns rc. */
static int io_failure(ctl_t *c, int rc, const char *what) {
  char seen[128];

  if (rc == -ETIMEDOUT)
    snprintf(c->why, sizeof(c->why), "%s: no %s within %u ms", c->addr, what,
             c->timeout_ms);
  else if (rc == -EPIPE)
    snprintf(c->why, sizeof(c->why),
             "%s: the server closed the connection before its %s", c->addr,
             what);
  else if (rc == MLFQ_EPARSE)
    snprintf(c->why, sizeof(c->why),
             "%s: not mlfqd protocol: expected %s, got %s", c->addr, what,
             mlfq_wire_show_bytes(c->peer.in.data, c->peer.in.len, seen,
                                  sizeof(seen)));
  else
    snprintf(c->why, sizeof(c->why), "%s: %s while waiting for %s", c->addr,
             mlfq_strerror(rc), what);
  return rc;
}

/* Sends req and waits for a reply of kind want (named what in messages).
 * Returns 0 with *reply set (free it with
 * mlfq__server_message__free_unpacked), or a negative code with c->why
 * set: an Error from the server is MLFQ_ESTATE. */
static int exchange(ctl_t *c, const Mlfq__ClientMessage *req, int want,
                    const char *what, Mlfq__ServerMessage **reply) {
  Mlfq__ServerMessage *m = NULL;
  int rc, sent;

  *reply = NULL;
  sent = mlfq_peer_send(&c->peer, req);
  /* A server that refuses the connection writes an Error and closes: read
   * it even when the send failed. */
  rc = mlfq_peer_recv(&c->peer, &m, left_ms(c));
  /* A message of a kind this build does not know (a newer server's) is
   * skipped. */
  while (rc == 0 && m->msg_case == MLFQ__SERVER_MESSAGE__MSG__NOT_SET) {
    mlfq__server_message__free_unpacked(m, NULL);
    m = NULL;
    rc = mlfq_peer_recv(&c->peer, &m, left_ms(c));
  }
  if (rc)
    return io_failure(c, sent ? sent : rc, what);
  if (m->msg_case == MLFQ__SERVER_MESSAGE__MSG_ERROR && m->error != NULL) {
    char code[32];

    /* A code this build does not know (a newer server's) by its number. */
    snprintf(code, sizeof(code), "ERROR_CODE_%d", (int)m->error->code);
    snprintf(c->why, sizeof(c->why), "%s: the server answered %s: %s", c->addr,
             protobuf_c_enum_descriptor_get_value(&mlfq__error_code__descriptor,
                                                  m->error->code) != NULL
                 ? mlfq_wire_error_name(m->error->code)
                 : code,
             ctl_str(m->error->message));
    mlfq__server_message__free_unpacked(m, NULL);
    return MLFQ_ESTATE;
  }
  if ((int)m->msg_case != want) {
    snprintf(c->why, sizeof(c->why),
             "%s: unexpected reply (message %d) instead of %s", c->addr,
             (int)m->msg_case, what);
    mlfq__server_message__free_unpacked(m, NULL);
    return MLFQ_EPARSE;
  }
  *reply = m;
  return 0;
}

int ctl_hello(ctl_t *c, Mlfq__ServerMessage **welcome, double *rtt_ms) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;
  Mlfq__ServerMessage *r;
  char err[256];
  uint64_t t0;
  int rc;

  h.protocol_version = MLFQ_PROTOCOL_VERSION;
  h.client_name = "mlfqctl";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  t0 = ctl_mono_ns();
  rc = exchange(c, &m, MLFQ__SERVER_MESSAGE__MSG_WELCOME, "Welcome", &r);
  if (rc)
    return rc;
  *rtt_ms = (double)(ctl_mono_ns() - t0) / 1e6;
  if (mlfq_wire_welcome_check(r->welcome, err, sizeof(err)) != 0) {
    snprintf(c->why, sizeof(c->why), "%s: not mlfqd protocol: %s", c->addr,
             err);
    mlfq__server_message__free_unpacked(r, NULL);
    return MLFQ_EPARSE;
  }
  *welcome = r;
  return 0;
}

int ctl_stats_request(ctl_t *c, Mlfq__ServerMessage **reply) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest s = MLFQ__STATS_REQUEST__INIT;
  char err[256];
  int rc;

  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &s;
  rc = exchange(c, &m, MLFQ__SERVER_MESSAGE__MSG_STATS, "StatsReply", reply);
  if (rc)
    return rc;
  if ((*reply)->stats == NULL) {
    snprintf(c->why, sizeof(c->why), "%s: empty StatsReply", c->addr);
    mlfq__server_message__free_unpacked(*reply, NULL);
    *reply = NULL;
    return MLFQ_EPARSE;
  }
  if ((*reply)->stats->config != NULL &&
      mlfq_wire_config_check((*reply)->stats->config, err, sizeof(err)) != 0) {
    snprintf(c->why, sizeof(c->why), "%s: not mlfqd protocol: StatsReply %s",
             c->addr, err);
    mlfq__server_message__free_unpacked(*reply, NULL);
    *reply = NULL;
    return MLFQ_EPARSE;
  }
  return 0;
}
