/* DESIGN
 *
 * A run's requests (lg_result_t) and what loadgen makes of a server's
 * replies, apart from the run's I/O: the requests are set up from the
 * workload and given their wall times; each reply is checked against
 * docs/PROTOCOL.md and what the run has seen before any of it is used
 * (lg_check), then recorded into its request (lg_record); the names of
 * the requests' statuses, and freeing a result. Pure functions of the
 * run's requests and the message: no I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "core/sched.h"
#include "run.h"
#include "wire/wire.h"

static const char *kind_name(const Mlfq__ServerMessage *m) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_WELCOME:
    return "Welcome";
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    return "Accepted";
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    return "Token";
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    return "Done";
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    return "Error";
  case MLFQ__SERVER_MESSAGE__MSG_STATS:
    return "StatsReply";
  default:
    return "?";
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
refuse(char *why, size_t len, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(why, len, fmt, ap);
  va_end(ap);
  return -1;
}

int lg_result_init(lg_result_t *res, const mlfq_workload_t *w,
                   unsigned connections) {
  size_t i;

  res->n = w->n;
  res->reqs = calloc(w->n ? w->n : 1, sizeof(*res->reqs));
  if (res->reqs == NULL)
    return MLFQ_ENOMEM;
  for (i = 0; i < w->n; i++) {
    res->reqs[i].input_len = w->reqs[i].input_len;
    res->reqs[i].output_len = w->reqs[i].output_len;
    res->reqs[i].conn = (uint16_t)(i % connections);
    mlfq_list_init(&res->reqs[i].link);
  }
  return 0;
}

int lg_schedule(lg_result_t *res, const mlfq_workload_t *w, uint64_t t0_wall,
                size_t *bad) {
  double at, room = (double)(MLFQ_TIME_MAX - t0_wall);
  size_t i;

  res->t0_wall = t0_wall;
  for (i = 0; i < res->n; i++) {
    at = (double)w->reqs[i].arrival_ns * res->time_scale;
    if (!(at < room)) {
      *bad = i;
      return MLFQ_ERANGE;
    }
    res->reqs[i].intended_wall = t0_wall + (uint64_t)at;
  }
  return 0;
}

int lg_check(const lg_result_t *res, unsigned conn, int ready,
             const Mlfq__ServerMessage *m, char *why, size_t len) {
  const Mlfq__Welcome *w;
  const lg_req_t *q;
  const char *kind = kind_name(m);
  unsigned long long id;
  unsigned queues;

  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_WELCOME:
    if (ready)
      return refuse(why, len, "a second Welcome");
    return mlfq_wire_welcome_check(m->welcome, why, len) ? -1 : 0;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    /* A code this build does not know (a newer server's) ends its request
     * or connection as any other: only the absent code is nonsense. */
    if (m->error->code == 0)
      return refuse(why, len, "an Error without a code");
    if (m->error->id == 0)
      return 0;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    break;
  case MLFQ__SERVER_MESSAGE__MSG_STATS:
    return 0;
  default: /* a kind this build does not know (a newer server's): ignored */
    return 0;
  }
  id = mlfq_wire_msg_id(m);
  if (!ready)
    return refuse(why, len, "%s before Welcome", kind);
  if (id < 1 || id > res->n || res->reqs[id - 1].state == LG_UNSENT ||
      res->reqs[id - 1].conn != conn)
    return refuse(why, len,
                  "%s about request %llu, which was not sent on this "
                  "connection",
                  kind, id);
  q = &res->reqs[id - 1];
  if (q->state == LG_DONE)
    return refuse(why, len, "%s about request %llu after its Done", kind, id);
  if (q->state == LG_FAILED && q->status == LG_ERR_TIMEOUT)
    return 0; /* cancelled here: what was under way may still come */
  if (q->state == LG_FAILED)
    return refuse(why, len, "%s about request %llu after its Error", kind, id);
  w = res->welcome->welcome;
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    if (q->accepted)
      return refuse(why, len, "a second Accepted for request %llu", id);
    if (m->accepted->arrival_ns > MLFQ_TIME_MAX)
      return refuse(why, len,
                    "Accepted.arrival_ns %llu of request %llu is past the "
                    "largest time",
                    (unsigned long long)m->accepted->arrival_ns, id);
    /* Behind a router the Welcome's configuration is one replica's, and
     * the replicas' may differ (ROUTER.md): the protocol's bound, then. */
    queues = w->replicas > 0 ? MLFQ_MAX_QUEUES : w->config->queues;
    if (m->accepted->level >= queues)
      return refuse(why, len,
                    "Accepted.level %u of request %llu is not below the %u "
                    "queues",
                    m->accepted->level, id, queues);
    return 0;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    if (m->token->index != q->tokens + 1 || m->token->index > q->output_len)
      return refuse(why, len,
                    "Token %u of request %llu after %u of its %u tokens",
                    m->token->index, id, q->tokens, q->output_len);
    if (m->token->t_ns > MLFQ_TIME_MAX ||
        (q->accepted && m->token->t_ns < q->srv_arrival_ns) ||
        (q->tokens > 0 && m->token->t_ns < q->srv_finish_ns))
      return refuse(why, len,
                    "Token %u of request %llu at %llu ns: before its arrival "
                    "or the token before, or past the largest time",
                    m->token->index, id, (unsigned long long)m->token->t_ns);
    return 0;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    if (q->tokens != q->output_len)
      return refuse(why, len, "Done of request %llu after %u of its %u tokens",
                    id, q->tokens, q->output_len);
    if (m->done->arrival_ns > m->done->first_token_ns ||
        m->done->first_token_ns > m->done->finish_ns ||
        m->done->finish_ns > MLFQ_TIME_MAX ||
        (q->accepted && m->done->arrival_ns != q->srv_arrival_ns) ||
        m->done->first_token_ns != q->srv_first_ns ||
        m->done->finish_ns != q->srv_finish_ns)
      return refuse(why, len,
                    "Done of request %llu has arrival %llu, first token %llu "
                    "and finish %llu ns: out of order, past the largest "
                    "time, or not its Accepted's and Tokens' times",
                    id, (unsigned long long)m->done->arrival_ns,
                    (unsigned long long)m->done->first_token_ns,
                    (unsigned long long)m->done->finish_ns);
    if (m->done->replica > w->replicas)
      return refuse(why, len,
                    "Done.replica %u of request %llu is not in [0, %u]",
                    m->done->replica, id, w->replicas);
    return 0;
  default:
    return 0;
  }
}

void lg_record(lg_req_t *q, const Mlfq__ServerMessage *m, uint64_t now) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    q->accepted = 1;
    q->srv_arrival_ns = m->accepted->arrival_ns;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    if (q->tokens == 0) {
      q->first_wall = now;
      q->srv_first_ns = m->token->t_ns;
    }
    q->srv_finish_ns = m->token->t_ns;
    q->last_wall = now;
    if (q->tok_wall != NULL && q->tokens < q->output_len)
      q->tok_wall[q->tokens] = now;
    q->tokens++;
    break;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    q->srv_arrival_ns = m->done->arrival_ns;
    q->srv_first_ns = m->done->first_token_ns;
    q->srv_finish_ns = m->done->finish_ns;
    q->preemptions = m->done->preemptions;
    q->swapped_tokens = m->done->swapped_tokens;
    q->late_ns = m->done->late_ns;
    q->replica = m->done->replica;
    break;
  default:
    break;
  }
}

const char *lg_status_name(int32_t status, char *buf, size_t len) {
  switch (status) {
  case 0:
    return "ok";
  case LG_ERR_TIMEOUT:
    return "TIMEOUT";
  case LG_ERR_CONN_LOST:
    return "CONNECTION_LOST";
  case LG_ERR_INTERRUPTED:
    return "INTERRUPTED";
  case LG_ERR_PROTOCOL:
    return "PROTOCOL_ERROR";
  default:
    if (protobuf_c_enum_descriptor_get_value(&mlfq__error_code__descriptor,
                                             status) != NULL)
      return mlfq_wire_error_name(status);
    snprintf(buf, len, "ERROR_CODE_%d", (int)status);
    return buf;
  }
}

void lg_result_free(lg_result_t *res) {
  size_t i;

  for (i = 0; i < res->n && res->reqs != NULL; i++)
    free(res->reqs[i].tok_wall);
  free(res->reqs);
  if (res->welcome != NULL)
    mlfq__server_message__free_unpacked(res->welcome, NULL);
  memset(res, 0, sizeof(*res));
}
