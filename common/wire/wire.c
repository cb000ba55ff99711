#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/units.h"
#include "wire/frame.h"
#include "wire/wire.h"

static int put(mlfq_buf_t *b, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *p;
  int err;

  if (n > UINT32_MAX)
    return MLFQ_ERANGE;
  p = mlfq_buf_reserve(b, MLFQ_FRAME_HEADER + n, &err);
  if (p == NULL)
    return err;
  mlfq_frame_header(p, (uint32_t)n);
  protobuf_c_message_pack(m, p + MLFQ_FRAME_HEADER);
  mlfq_buf_commit(b, MLFQ_FRAME_HEADER + n);
  return 0;
}

int mlfq_wire_put_server(mlfq_buf_t *b, const Mlfq__ServerMessage *m) {
  return put(b, &m->base);
}

int mlfq_wire_put_client(mlfq_buf_t *b, const Mlfq__ClientMessage *m) {
  return put(b, &m->base);
}

int mlfq_wire_config_init(mlfq_wire_config_t *w, const mlfq_sched_config_t *cfg,
                          const mlfq_sched_params_t *p, const mlfq_cost_t *cost,
                          const mlfq_limits_t *lim) {
  Mlfq__Config *c = &w->config;
  Mlfq__CostModel *m = &w->cost;
  size_t i;

  memset(w, 0, sizeof(*w));
  mlfq__config__init(c);
  mlfq__cost_model__init(m);
  c->policy = (char *)cfg->policy;
  c->queues = p->queues;
  for (i = 0; i < p->queues; i++)
    w->quanta[i] = p->quantum_ns[i];
  c->n_quanta_ns = p->queues;
  c->quanta_ns = w->quanta;
  c->quantum_rate = cfg->quantum_rate;
  c->starve_limit_ns = p->starve_ns;
  c->preempt =
      (char *)(p->preempt == MLFQ_PREEMPT_QUANTUM ? "quantum" : "iteration");
  c->max_batch = p->max_batch;
  c->workers = p->workers;
  c->kv_capacity_tokens = p->kv_capacity;
  c->on_full = (char *)mlfq_on_full_name(p->on_full);
  c->swap_ms_per_token = cfg->swap_ms_per_token;
  c->time_scale = lim->time_scale;
  c->max_pending = lim->max_pending;
  c->max_pending_per_conn = lim->max_pending_per_conn;
  c->max_input_length = lim->max_input_length;
  c->max_output_length = lim->max_output_length;
  c->max_frame_bytes = lim->max_frame_bytes;
  m->kind = (char *)(cost->kind == MLFQ_COST_PROFILE ? "profile" : "linear");
  m->source = (char *)cost->source;
  m->prefill_base_ms = cost->prefill_base_ms;
  m->prefill_ms_per_token = cost->prefill_ms_per_token;
  m->decode_ms = cost->decode_ms;
  m->batch_decode_ms_per_seq = cost->batch_decode_ms_per_seq;
  if (cost->kind == MLFQ_COST_PROFILE) {
    w->rows = calloc(cost->nrows, sizeof(*w->rows));
    w->row_ptrs = calloc(cost->nrows, sizeof(*w->row_ptrs));
    if (w->rows == NULL || w->row_ptrs == NULL) {
      mlfq_wire_config_free(w);
      return MLFQ_ENOMEM;
    }
    for (i = 0; i < cost->nrows; i++) {
      mlfq__profile_row__init(&w->rows[i]);
      w->rows[i].input_length = cost->rows[i].input_len;
      w->rows[i].prefill_ms = cost->rows[i].prefill_ms;
      w->rows[i].decode_ms = cost->rows[i].decode_ms;
      w->row_ptrs[i] = &w->rows[i];
    }
    m->n_rows = cost->nrows;
    m->rows = w->row_ptrs;
  }
  c->cost = m;
  return 0;
}

void mlfq_wire_config_free(mlfq_wire_config_t *w) {
  free(w->rows);
  free(w->row_ptrs);
  w->rows = NULL;
  w->row_ptrs = NULL;
}

/* A string a server fills in for people to read (a name, a file name, an
 * id): at most 255 bytes, none of them a control byte (below 0x20, or
 * 0x7f), which a terminal or a log line would act on. Bytes from 0x80 up
 * are fine: a file name in UTF-8 ("profil-\xc3\xa9t\xc3\xa9.csv"). An empty
 * or absent one is refused if required. */
static int check_str(const char *v, int required, const char *field, char *err,
                     size_t errlen) {
  const unsigned char *u = (const unsigned char *)v;
  size_t i;

  if (v == NULL || v[0] == '\0')
    return required
               ? mlfq_fail(err, errlen, MLFQ_EINVAL, "%s is missing", field)
               : 0;
  for (i = 0; u[i] != '\0'; i++) {
    if (i >= 255)
      return mlfq_fail(err, errlen, MLFQ_EINVAL, "%s is longer than 255 bytes",
                       field);
    if (u[i] < 0x20 || u[i] == 0x7f)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "%s has the control byte \\x%02x at %zu", field, u[i],
                       i);
  }
  return 0;
}

/* A double field: finite and in [lo, hi]. */
static int check_num(double v, double lo, double hi, const char *field,
                     char *err, size_t errlen) {
  if (isfinite(v) && v >= lo && v <= hi)
    return 0;
  return mlfq_fail(err, errlen, MLFQ_EINVAL, "%s %g is not in [%g, %g]", field,
                   v, lo, hi);
}

/* An integer field in [lo, hi]. */
static int check_u64(uint64_t v, uint64_t lo, uint64_t hi, const char *field,
                     char *err, size_t errlen) {
  if (v >= lo && v <= hi)
    return 0;
  return mlfq_fail(err, errlen, MLFQ_EINVAL, "%s %llu is not in [%llu, %llu]",
                   field, (unsigned long long)v, (unsigned long long)lo,
                   (unsigned long long)hi);
}

int mlfq_wire_config_check(const Mlfq__Config *c, char *err, size_t errlen) {
  const Mlfq__CostModel *m = c->cost;
  const Mlfq__ProfileRow *row;
  char field[64];
  size_t i;
  int rc;

  if ((rc = check_str(c->policy, 1, "config.policy", err, errlen)) != 0 ||
      (rc = check_u64(c->queues, 1, MLFQ_MAX_QUEUES, "config.queues", err,
                      errlen)) != 0 ||
      (rc = check_u64(c->n_quanta_ns, c->queues, c->queues,
                      "config.quanta_ns count", err, errlen)) != 0 ||
      (rc = check_num(c->quantum_rate, 1, 1e6, "config.quantum_rate", err,
                      errlen)) != 0 ||
      (rc = check_u64(c->starve_limit_ns, 0, MLFQ_TIME_MAX,
                      "config.starve_limit_ns", err, errlen)) != 0 ||
      (rc = check_str(c->preempt, 1, "config.preempt", err, errlen)) != 0)
    return rc;
  if ((rc = check_u64(c->max_batch, 1, MLFQ_MAX_BATCH, "config.max_batch", err,
                      errlen)) != 0 ||
      (rc = check_u64(c->workers, 1, MLFQ_MAX_WORKERS, "config.workers", err,
                      errlen)) != 0 ||
      (rc = check_num(c->time_scale, MLFQ_WIRE_MIN_TIME_SCALE,
                      MLFQ_WIRE_MAX_TIME_SCALE, "config.time_scale", err,
                      errlen)) != 0 ||
      (rc = check_u64(c->max_pending, 1, UINT32_MAX, "config.max_pending", err,
                      errlen)) != 0 ||
      (rc = check_u64(c->max_input_length, 1, UINT32_MAX,
                      "config.max_input_length", err, errlen)) != 0 ||
      (rc = check_u64(c->max_output_length, 1, UINT32_MAX,
                      "config.max_output_length", err, errlen)) != 0 ||
      (rc = check_u64(c->max_frame_bytes, 16, 64u << 20,
                      "config.max_frame_bytes", err, errlen)) != 0 ||
      (rc = check_num(c->swap_ms_per_token, 0, 1e12, "config.swap_ms_per_token",
                      err, errlen)) != 0)
    return rc;
  /* An old server sends no on_full: it has no KV capacity either. */
  if ((rc = check_str(c->on_full, 0, "config.on_full", err, errlen)) != 0)
    return rc;
  if (m == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "config.cost is missing");
  if ((rc = check_str(m->kind, 1, "config.cost.kind", err, errlen)) != 0)
    return rc;
  if ((rc = check_str(m->source, 0, "config.cost.source", err, errlen)) != 0)
    return rc;
  if ((rc = check_num(m->prefill_base_ms, 0, DBL_MAX,
                      "config.cost.prefill_base_ms", err, errlen)) != 0 ||
      (rc = check_num(m->prefill_ms_per_token, 0, DBL_MAX,
                      "config.cost.prefill_ms_per_token", err, errlen)) != 0 ||
      (rc = check_num(m->decode_ms, 0, DBL_MAX, "config.cost.decode_ms", err,
                      errlen)) != 0 ||
      (rc = check_num(m->batch_decode_ms_per_seq, 0, DBL_MAX,
                      "config.cost.batch_decode_ms_per_seq", err, errlen)) !=
          0 ||
      (rc = check_u64(m->n_rows, strcmp(m->kind, "profile") == 0,
                      MLFQ_COST_MAX_ROWS, "config.cost.rows count", err,
                      errlen)) != 0)
    return rc;
  for (i = 0; i < m->n_rows; i++) {
    row = m->rows[i];
    snprintf(field, sizeof(field), "config.cost.rows[%zu]", i);
    if (row == NULL || row->input_length < 1 ||
        (i > 0 && row->input_length <= m->rows[i - 1]->input_length))
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "%s.input_length %u is not above the previous row's",
                       field, row != NULL ? row->input_length : 0);
    if (!isfinite(row->prefill_ms) || row->prefill_ms < 0 ||
        !isfinite(row->decode_ms) || row->decode_ms < 0)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "%s has prefill_ms %g and decode_ms %g: not finite "
                       "times",
                       field, row->prefill_ms, row->decode_ms);
  }
  return 0;
}

int mlfq_wire_welcome_check(const Mlfq__Welcome *w, char *err, size_t errlen) {
  int rc;

  if (w == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "an empty Welcome");
  if (w->protocol_version != MLFQ_PROTOCOL_VERSION)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "Welcome of protocol version %u (this client speaks %d)",
                     w->protocol_version, MLFQ_PROTOCOL_VERSION);
  if (w->config == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "Welcome without a config");
  rc = mlfq_wire_config_check(w->config, err, errlen);
  if (rc == 0)
    rc = check_str(w->server_id, 0, "Welcome.server_id", err, errlen);
  if (rc == 0)
    rc = check_str(w->server_version, 0, "Welcome.server_version", err, errlen);
  if (rc == 0 && w->replicas > 65536)
    rc = mlfq_fail(err, errlen, MLFQ_EINVAL,
                   "Welcome.replicas %u is not in [0, 65536]", w->replicas);
  return rc;
}

const char *mlfq_wire_show_bytes(const uint8_t *p, size_t n, char *out,
                                 size_t outlen) {
  size_t i, k = 0, max = n < 32 ? n : 32;
  int w;

  if (outlen == 0)
    return out;
  out[0] = '\0';
  if (outlen < 8)
    return out;
  out[k++] = '"';
  for (i = 0; i < max && k + 8 < outlen; i++) {
    if (p[i] == '\r' || p[i] == '\n' || p[i] == '\t') {
      out[k++] = '\\';
      out[k++] = p[i] == '\r' ? 'r' : p[i] == '\n' ? 'n' : 't';
    } else if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      out[k++] = (char)p[i];
    } else {
      w = snprintf(out + k, outlen - k, "\\x%02x", p[i]);
      k += (size_t)w;
    }
  }
  out[k++] = '"';
  if (i < n && k + 4 < outlen) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
  return out;
}

int mlfq_wire_config_parse(const Mlfq__Config *c, mlfq_sched_config_t *cfg,
                           mlfq_cost_t *cost, mlfq_limits_t *lim, char *err,
                           size_t errlen) {
  const Mlfq__CostModel *m = c->cost;
  mlfq_sched_params_t p;
  mlfq_cost_row_t *rows;
  size_t i;
  int rc;

  memset(cost, 0, sizeof(*cost));
  rc = mlfq_wire_config_check(c, err, errlen);
  if (rc)
    return rc;
  mlfq_sched_config_init(cfg);
  cfg->policy = c->policy;
  cfg->queues = c->queues;
  cfg->quantum_ms = (double)c->quanta_ns[0] / 1e6;
  cfg->quantum_rate = c->quantum_rate;
  cfg->starve_limit_ms = (double)c->starve_limit_ns / 1e6;
  if (strcmp(c->preempt, "quantum") == 0)
    cfg->preempt = MLFQ_PREEMPT_QUANTUM;
  else if (strcmp(c->preempt, "iteration") == 0)
    cfg->preempt = MLFQ_PREEMPT_ITERATION;
  else
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "config.preempt '%s' is not one this build knows "
                     "(iteration, quantum)",
                     c->preempt);
  cfg->max_batch = c->max_batch;
  cfg->workers = c->workers;
  cfg->kv_capacity_tokens = c->kv_capacity_tokens;
  /* An old server sends no on_full: it has no KV capacity either. */
  if (c->on_full != NULL && c->on_full[0] != '\0' &&
      mlfq_on_full_parse(c->on_full, &cfg->on_full) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "config.on_full '%s' is not one this build knows "
                     "(defer, recompute, swap)",
                     c->on_full);
  cfg->swap_ms_per_token = c->swap_ms_per_token;

  if (strcmp(m->kind, "linear") == 0) {
    rc = mlfq_cost_linear(cost, m->prefill_base_ms, m->prefill_ms_per_token,
                          m->decode_ms);
  } else if (strcmp(m->kind, "profile") == 0) {
    rows = calloc(m->n_rows ? m->n_rows : 1, sizeof(*rows));
    if (rows == NULL)
      return mlfq_fail(err, errlen, MLFQ_ENOMEM, "out of memory");
    for (i = 0; i < m->n_rows; i++) {
      rows[i].input_len = m->rows[i]->input_length;
      rows[i].prefill_ms = m->rows[i]->prefill_ms;
      rows[i].decode_ms = m->rows[i]->decode_ms;
    }
    rc = mlfq_cost_profile(cost, rows, m->n_rows,
                           m->source ? m->source : "profile");
    free(rows);
  } else {
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "config.cost.kind '%s' is not one this build knows "
                     "(linear, profile)",
                     m->kind);
  }
  if (rc)
    return mlfq_fail(err, errlen, rc, "config: bad cost model");
  cost->batch_decode_ms_per_seq = m->batch_decode_ms_per_seq;
  rc = mlfq_sched_resolve(&p, cfg, cost, err, errlen);
  if (rc == 0) {
    /* The quanta must come out as the server has them. */
    for (i = 0; i < p.queues; i++)
      if (p.quantum_ns[i] != c->quanta_ns[i])
        rc = mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "config: quantum of level %zu is %llu ns, expected %llu",
                       i + 1, (unsigned long long)c->quanta_ns[i],
                       (unsigned long long)p.quantum_ns[i]);
  }
  if (rc) {
    mlfq_cost_free(cost);
    return rc;
  }
  if (lim != NULL) {
    lim->time_scale = c->time_scale;
    lim->max_pending = c->max_pending;
    lim->max_pending_per_conn = c->max_pending_per_conn;
    lim->max_input_length = c->max_input_length;
    lim->max_output_length = c->max_output_length;
    lim->max_frame_bytes = c->max_frame_bytes;
  }
  return 0;
}

uint64_t mlfq_wire_msg_id(const Mlfq__ServerMessage *m) {
  switch (m->msg_case) {
  case MLFQ__SERVER_MESSAGE__MSG_ACCEPTED:
    return m->accepted->id;
  case MLFQ__SERVER_MESSAGE__MSG_TOKEN:
    return m->token->id;
  case MLFQ__SERVER_MESSAGE__MSG_DONE:
    return m->done->id;
  case MLFQ__SERVER_MESSAGE__MSG_ERROR:
    return m->error->id;
  default:
    return 0;
  }
}

const char *mlfq_wire_error_name(int code) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&mlfq__error_code__descriptor, code);

  return v != NULL ? v->name : "UNKNOWN";
}

const Mlfq__ServerMessage *mlfq_wire_error_init(mlfq_wire_error_t *w,
                                                uint64_t id,
                                                Mlfq__ErrorCode code,
                                                const char *fmt, va_list ap) {
  mlfq__server_message__init(&w->m);
  mlfq__error__init(&w->e);
  vsnprintf(w->message, sizeof(w->message), fmt, ap);
  w->e.id = id;
  w->e.code = code;
  w->e.message = w->message;
  w->m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ERROR;
  w->m.error = &w->e;
  return &w->m;
}

Mlfq__ClientMessage__MsgCase
mlfq_wire_client_check(const Mlfq__ClientMessage *m, int hello,
                       Mlfq__ErrorCode *code, const char **why) {
  *code = MLFQ__ERROR_CODE__BAD_MESSAGE;
  if (m == NULL) {
    *why = "not a valid ClientMessage";
  } else if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_HELLO &&
             m->hello != NULL) {
    if (!hello)
      return m->msg_case;
    *why = "a second Hello";
  } else if (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG__NOT_SET) {
    *why = "empty or unknown message";
  } else if (!hello) {
    *code = MLFQ__ERROR_CODE__HELLO_FIRST;
    *why = "the first message must be Hello";
  } else if ((m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_SUBMIT &&
              m->submit != NULL && m->submit->id == 0) ||
             (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_CANCEL &&
              m->cancel != NULL && m->cancel->id == 0)) {
    /* An Error about request 0 would read as one about the connection. */
    *why = "request id 0 is reserved for the connection";
  } else if ((m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_SUBMIT &&
              m->submit != NULL) ||
             (m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_CANCEL &&
              m->cancel != NULL) ||
             m->msg_case == MLFQ__CLIENT_MESSAGE__MSG_STATS) {
    return m->msg_case;
  } else {
    *why = "malformed message";
  }
  return MLFQ__CLIENT_MESSAGE__MSG__NOT_SET;
}

int mlfq_wire_hello_check(const Mlfq__Hello *h, const char *who, char *err,
                          size_t errlen) {
  if (h->protocol_version == MLFQ_PROTOCOL_VERSION)
    return 0;
  snprintf(err, errlen,
           "protocol version %u is not supported (this %s speaks %d)",
           h->protocol_version, who, MLFQ_PROTOCOL_VERSION);
  return MLFQ_EINVAL;
}

int mlfq_wire_submit_check(const Mlfq__Submit *s, uint32_t max_input_length,
                           uint32_t max_output_length, char *err,
                           size_t errlen) {
  if (s->input_length < 1 || s->input_length > max_input_length) {
    snprintf(err, errlen, "input_length %u is not in [1, %u]", s->input_length,
             max_input_length);
    return MLFQ_EINVAL;
  }
  if (s->output_length < 1 || s->output_length > max_output_length) {
    snprintf(err, errlen, "output_length %u is not in [1, %u]",
             s->output_length, max_output_length);
    return MLFQ_EINVAL;
  }
  return 0;
}

int mlfq_wire_tags_valid(const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const ProtobufCFieldDescriptor *f;
  const char *base = (const char *)m;
  ProtobufCMessage *const *v;
  size_t i, k, n;

  for (i = 0; i < m->n_unknown_fields; i++)
    if (m->unknown_fields[i].tag == 0)
      return 0;
  for (i = 0; i < d->n_fields; i++) {
    f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
      continue;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id)
      continue;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(const size_t *)(base + f->quantifier_offset);
      v = *(ProtobufCMessage *const *const *)(base + f->offset);
    } else {
      n = 1;
      v = (ProtobufCMessage *const *)(base + f->offset);
    }
    for (k = 0; k < n; k++)
      if (v[k] != NULL && !mlfq_wire_tags_valid(v[k]))
        return 0;
  }
  return 1;
}
