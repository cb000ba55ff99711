/* DESIGN: the OpenAI completion and chat completion APIs as far as a mock
 * backend needs them. A request's prompts become jobs: the input length
 * of each is counted in whitespace-separated words (a documented
 * approximation of a tokenizer; an array of token ids counts exactly, and
 * "mlfq_input_length" overrides both), the output length is the server's
 * to set (natural endings), max_tokens until it does, and the finish
 * reason follows from it. Token text is filler (MLFQ_OPENAI_TOKEN_TEXT): the
 * timing is the point. Responses are built with cJSON and printed unformatted,
 * one line each, as server-sent events need. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base/error.h"
#include "http/openai.h"

static uint32_t words(const char *s) {
  uint32_t n = 0;
  int in = 0;

  for (; *s != '\0'; s++) {
    int space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
                *s == '\f' || *s == '\v';
    if (!space && !in && n < UINT32_MAX)
      n++;
    in = !space;
  }
  return n;
}

/* A whole number in [lo, hi] from item, into *v. Returns 0 or -1. */
static int whole(const cJSON *item, double lo, double hi, uint32_t *v) {
  double d;

  if (!cJSON_IsNumber(item))
    return -1;
  d = item->valuedouble;
  if (!(d >= lo && d <= hi) || floor(d) != d)
    return -1;
  *v = (uint32_t)d;
  return 0;
}

/* The length of one completion prompt: a string, or an array of token
 * ids. Returns 0 or -1. */
static int prompt_len(const cJSON *p, uint32_t *len) {
  const cJSON *t;
  uint32_t id, n = 0;

  if (cJSON_IsString(p)) {
    n = words(p->valuestring);
  } else if (cJSON_IsArray(p)) {
    cJSON_ArrayForEach(t, p) {
      if (whole(t, 0, 4294967295.0, &id) != 0)
        return -1;
      if (n < UINT32_MAX)
        n++;
    }
  } else {
    return -1;
  }
  *len = n > 0 ? n : 1;
  return 0;
}

static int prompts(const cJSON *o, mlfq_openai_req_t *q, char *err,
                   size_t errlen) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt"), *e;
  const char *what =
      "'prompt' must be a string, an array of token ids, or an array of "
      "either";

  q->param = "prompt";
  if (p == NULL)
    return mlfq_fail(err, errlen, 400, "'prompt' is required");
  /* One prompt: a string, or an array of numbers. */
  if (cJSON_IsString(p) ||
      (cJSON_IsArray(p) && (cJSON_GetArraySize(p) == 0 ||
                            cJSON_IsNumber(cJSON_GetArrayItem(p, 0))))) {
    q->n = 1;
    return prompt_len(p, &q->input_len[0]) == 0
               ? 0
               : mlfq_fail(err, errlen, 400, "%s", what);
  }
  if (!cJSON_IsArray(p))
    return mlfq_fail(err, errlen, 400, "%s", what);
  q->n = 0;
  cJSON_ArrayForEach(e, p) {
    if (q->n == MLFQ_OPENAI_MAX_PROMPTS)
      return mlfq_fail(err, errlen, 400, "at most %d prompts in one request",
                       MLFQ_OPENAI_MAX_PROMPTS);
    if (!cJSON_IsString(e) && !cJSON_IsArray(e))
      return mlfq_fail(err, errlen, 400, "%s", what);
    if (prompt_len(e, &q->input_len[q->n]) != 0)
      return mlfq_fail(err, errlen, 400, "%s", what);
    q->n++;
  }
  return q->n > 0 ? 0 : mlfq_fail(err, errlen, 400, "'prompt' is empty");
}

/* Calls fn(text, ud) for the text of every message of the array ms: its
 * content when a string, else each of its parts' "text". Returns 0, or 400
 * with err for a message that is not an object with a role, or a content
 * of another kind. */
static int message_texts(const cJSON *ms, void (*fn)(const char *, void *),
                         void *ud, char *err, size_t errlen) {
  const cJSON *m, *c, *part, *text;

  cJSON_ArrayForEach(m, ms) {
    if (!cJSON_IsObject(m) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "role")))
      return mlfq_fail(err, errlen, 400,
                       "each message must be an object with a 'role'");
    c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(c)) {
      fn(c->valuestring, ud);
    } else if (cJSON_IsArray(c)) {
      cJSON_ArrayForEach(part, c) {
        text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(text))
          fn(text->valuestring, ud);
      }
    } else if (c != NULL && !cJSON_IsNull(c)) {
      return mlfq_fail(err, errlen, 400,
                       "a message's 'content' must be a string or an array of "
                       "parts");
    }
  }
  return 0;
}

/* message_texts' fn: adds the words of s to the count at ud. */
static void count_words(const char *s, void *ud) {
  *(uint64_t *)ud += words(s);
}

static int messages(const cJSON *o, mlfq_openai_req_t *q, char *err,
                    size_t errlen) {
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "messages");
  uint64_t n = 0;
  int rc;

  q->param = "messages";
  if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
    return mlfq_fail(err, errlen, 400, "'messages' must be a non-empty array");
  rc = message_texts(ms, count_words, &n, err, errlen);
  if (rc)
    return rc;
  q->n = 1;
  q->input_len[0] = n == 0 ? 1 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  return 0;
}

/* vLLM's min_tokens and ignore_eos, once max_tokens is known; every
 * prompt's output length is max_tokens until the server sets it. */
static int endings(const cJSON *o, mlfq_openai_req_t *q, char *err,
                   size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "min_tokens");
  size_t i;

  q->param = "min_tokens";
  if (v != NULL && !cJSON_IsNull(v) &&
      whole(v, 0, q->max_tokens, &q->min_tokens) != 0)
    return mlfq_fail(err, errlen, 400,
                     "'min_tokens' must be a whole number from 0 to "
                     "max_tokens (%u)",
                     (unsigned)q->max_tokens);
  v = cJSON_GetObjectItemCaseSensitive(o, "ignore_eos");
  q->param = "ignore_eos";
  if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsBool(v))
    return mlfq_fail(err, errlen, 400, "'ignore_eos' must be true or false");
  q->param = NULL;
  q->ignore_eos = cJSON_IsTrue(v);
  for (i = 0; i < q->n; i++)
    q->output_len[i] = q->max_tokens;
  return 0;
}

int mlfq_openai_parse(const char *body, size_t len, int chat,
                      const mlfq_openai_limits_t *lim, mlfq_openai_req_t *q,
                      char *err, size_t errlen) {
  const cJSON *v, *opts;
  cJSON *o = cJSON_ParseWithLength(body, len);
  uint32_t in;
  size_t i;
  int rc;

  memset(q, 0, sizeof(*q));
  q->chat = chat;
  if (o == NULL)
    return mlfq_fail(err, errlen, 400, "the body is not valid JSON");
  if (!cJSON_IsObject(o)) {
    rc = mlfq_fail(err, errlen, 400, "the body must be a JSON object");
    goto done;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "model");
  if (v != NULL && !cJSON_IsNull(v)) {
    q->param = "model";
    if (!cJSON_IsString(v)) {
      rc = mlfq_fail(err, errlen, 400, "'model' must be a string");
      goto done;
    }
    if (strcmp(v->valuestring, lim->model) != 0) {
      rc = mlfq_fail(err, errlen, 404, "The model '%.100s' does not exist.",
                     v->valuestring);
      goto done;
    }
  }
  q->model = lim->model;
  rc = chat ? messages(o, q, err, errlen) : prompts(o, q, err, errlen);
  if (rc)
    goto done;
  q->param = NULL;
  q->max_tokens = lim->default_tokens;
  v = cJSON_GetObjectItemCaseSensitive(o, "max_tokens");
  if (chat && (v == NULL || cJSON_IsNull(v)))
    v = cJSON_GetObjectItemCaseSensitive(o, "max_completion_tokens");
  if (v != NULL && !cJSON_IsNull(v) &&
      whole(v, 1, lim->max_output, &q->max_tokens) != 0) {
    q->param = cJSON_GetObjectItemCaseSensitive(o, "max_tokens") == v
                   ? "max_tokens"
                   : "max_completion_tokens";
    rc = mlfq_fail(err, errlen, 400,
                   "'max_tokens' must be a whole number from 1 "
                   "to %u",
                   (unsigned)lim->max_output);
    goto done;
  }
  rc = endings(o, q, err, errlen);
  if (rc)
    goto done;
  v = cJSON_GetObjectItemCaseSensitive(o, "mlfq_input_length");
  if (v != NULL && !cJSON_IsNull(v)) {
    if (whole(v, 1, lim->max_input, &in) != 0) {
      q->param = "mlfq_input_length";
      rc = mlfq_fail(err, errlen, 400,
                     "'mlfq_input_length' must be a whole "
                     "number from 1 to %u",
                     (unsigned)lim->max_input);
      goto done;
    }
    for (i = 0; i < q->n; i++)
      q->input_len[i] = in;
  }
  for (i = 0; i < q->n; i++)
    if (q->input_len[i] > lim->max_input) {
      q->param = chat ? "messages" : "prompt";
      rc =
          mlfq_fail(err, errlen, 400, "a prompt of %u tokens is longer than %u",
                    (unsigned)q->input_len[i], (unsigned)lim->max_input);
      goto done;
    }
  v = cJSON_GetObjectItemCaseSensitive(o, "n");
  if (v != NULL && !cJSON_IsNull(v) &&
      !(cJSON_IsNumber(v) && v->valuedouble == 1)) {
    q->param = "n";
    rc = mlfq_fail(err, errlen, 400, "only 'n': 1 is supported");
    goto done;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "stream");
  if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
    q->param = "stream";
    rc = mlfq_fail(err, errlen, 400, "'stream' must be true or false");
    goto done;
  }
  q->stream = cJSON_IsTrue(v);
  opts = cJSON_GetObjectItemCaseSensitive(o, "stream_options");
  q->include_usage =
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
  rc = 0;
done:
  cJSON_Delete(o);
  return rc;
}

/* The fields every response object starts with. */
static cJSON *head(const mlfq_openai_req_t *q, const char *id, long created,
                   const char *object) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "object", object);
  cJSON_AddNumberToObject(o, "created", (double)created);
  cJSON_AddStringToObject(o, "model", q->model);
  return o;
}

static void add_usage(cJSON *o, const mlfq_openai_req_t *q) {
  cJSON *u = cJSON_AddObjectToObject(o, "usage");
  double in = 0, out = 0;
  size_t i;

  for (i = 0; i < q->n; i++) {
    in += q->input_len[i];
    out += q->output_len[i];
  }
  cJSON_AddNumberToObject(u, "prompt_tokens", in);
  cJSON_AddNumberToObject(u, "completion_tokens", out);
  cJSON_AddNumberToObject(u, "total_tokens", in + out);
}

/* Why prompt i ends: on its own below max_tokens, else at the bound. */
static const char *finish_reason(const mlfq_openai_req_t *q, size_t i) {
  return q->output_len[i] < q->max_tokens ? "stop" : "length";
}

/* Prints and frees o. */
static char *print(cJSON *o) {
  char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

  cJSON_Delete(o);
  return s;
}

char *mlfq_openai_chunk(const mlfq_openai_req_t *q, const char *id,
                        long created, size_t index, int first, int last) {
  cJSON *o = head(q, id, created,
                  q->chat ? "chat.completion.chunk" : "text_completion");
  cJSON *cs, *c, *d;

  if (o == NULL)
    return NULL;
  cs = cJSON_AddArrayToObject(o, "choices");
  c = cJSON_CreateObject();
  cJSON_AddItemToArray(cs, c);
  cJSON_AddNumberToObject(c, "index", (double)index);
  if (q->chat) {
    d = cJSON_AddObjectToObject(c, "delta");
    if (first)
      cJSON_AddStringToObject(d, "role", "assistant");
    cJSON_AddStringToObject(d, "content", MLFQ_OPENAI_TOKEN_TEXT);
  } else {
    cJSON_AddStringToObject(c, "text", MLFQ_OPENAI_TOKEN_TEXT);
  }
  cJSON_AddNullToObject(c, "logprobs");
  if (last)
    cJSON_AddStringToObject(c, "finish_reason", finish_reason(q, index));
  else
    cJSON_AddNullToObject(c, "finish_reason");
  return print(o);
}

/* The rest of a chunk after its index: the text, logprobs and the finish
 * reason, as cJSON prints them in mlfq_openai_chunk. */
#define TEXT_JSON "\"" MLFQ_OPENAI_TOKEN_TEXT "\""
#define REST_TAIL ",\"logprobs\":null,\"finish_reason\":"
#define MAX_REST 160

int mlfq_openai_stream_init(mlfq_openai_stream_t *s, const mlfq_openai_req_t *q,
                            const char *id, long created) {
  static const char choices[] = ",\"choices\":[{\"index\":";
  char *h = print(head(q, id, created,
                       q->chat ? "chat.completion.chunk" : "text_completion"));
  size_t n;

  memset(s, 0, sizeof(*s));
  if (h == NULL)
    return -1;
  n = strlen(h) - 1; /* without its closing brace */
  s->cap = n + sizeof(choices) + MAX_REST;
  s->buf = malloc(s->cap);
  if (s->buf == NULL) {
    free(h);
    return -1;
  }
  memcpy(s->buf, h, n);
  memcpy(s->buf + n, choices, sizeof(choices) - 1);
  s->head = n + sizeof(choices) - 1;
  s->chat = q->chat;
  s->q = q;
  free(h);
  return 0;
}

const char *mlfq_openai_stream_chunk(mlfq_openai_stream_t *s, size_t index,
                                     int first, int last, size_t *len) {
  int n;

  n = snprintf(s->buf + s->head, s->cap - s->head, "%zu%s%s%s%s}]}", index,
               s->chat
                   ? (first ? ",\"delta\":{\"role\":\"assistant\",\"content\":"
                            : ",\"delta\":{\"content\":")
                   : ",\"text\":",
               s->chat ? TEXT_JSON "}" : TEXT_JSON, REST_TAIL,
               !last                                        ? "null"
               : s->q->output_len[index] < s->q->max_tokens ? "\"stop\""
                                                            : "\"length\"");
  *len = s->head + (size_t)n; /* MAX_REST holds the longest */
  return s->buf;
}

void mlfq_openai_stream_free(mlfq_openai_stream_t *s) {
  free(s->buf);
  memset(s, 0, sizeof(*s));
}

char *mlfq_openai_usage_chunk(const mlfq_openai_req_t *q, const char *id,
                              long created) {
  cJSON *o = head(q, id, created,
                  q->chat ? "chat.completion.chunk" : "text_completion");

  if (o == NULL)
    return NULL;
  cJSON_AddArrayToObject(o, "choices");
  add_usage(o, q);
  return print(o);
}

char *mlfq_openai_response(const mlfq_openai_req_t *q, const char *id,
                           long created) {
  size_t tl = strlen(MLFQ_OPENAI_TOKEN_TEXT), i, k, end;
  cJSON *o, *cs, *c, *m;
  char *text, keep;

  /* Every prompt's text is a prefix of the longest one's. */
  text = malloc((size_t)q->max_tokens * tl + 1);
  o = head(q, id, created, q->chat ? "chat.completion" : "text_completion");
  if (text == NULL || o == NULL) {
    free(text);
    cJSON_Delete(o);
    return NULL;
  }
  for (k = 0; k < q->max_tokens; k++)
    memcpy(text + k * tl, MLFQ_OPENAI_TOKEN_TEXT, tl);
  text[(size_t)q->max_tokens * tl] = '\0';
  cs = cJSON_AddArrayToObject(o, "choices");
  for (i = 0; i < q->n; i++) {
    end = (size_t)(q->output_len[i] < q->max_tokens ? q->output_len[i]
                                                    : q->max_tokens) *
          tl;
    keep = text[end];
    text[end] = '\0';
    c = cJSON_CreateObject();
    cJSON_AddItemToArray(cs, c);
    cJSON_AddNumberToObject(c, "index", (double)i);
    if (q->chat) {
      m = cJSON_AddObjectToObject(c, "message");
      cJSON_AddStringToObject(m, "role", "assistant");
      cJSON_AddStringToObject(m, "content", text);
    } else {
      cJSON_AddStringToObject(c, "text", text);
    }
    text[end] = keep;
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", finish_reason(q, i));
  }
  add_usage(o, q);
  free(text);
  return print(o);
}

char *mlfq_openai_error(const char *message, const char *type, int code) {
  return mlfq_openai_error_param(message, type, code, NULL);
}

char *mlfq_openai_models(const char *model, long created) {
  cJSON *o = cJSON_CreateObject(), *d, *m;

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "object", "list");
  d = cJSON_AddArrayToObject(o, "data");
  m = cJSON_CreateObject();
  cJSON_AddItemToArray(d, m);
  cJSON_AddStringToObject(m, "id", model);
  cJSON_AddStringToObject(m, "object", "model");
  cJSON_AddNumberToObject(m, "created", (double)created);
  cJSON_AddStringToObject(m, "owned_by", "mlfqd");
  return print(o);
}

/* ---- the front door's other endpoints ----------------------------------- */

char *mlfq_openai_error_param(const char *message, const char *type, int code,
                              const char *param) {
  cJSON *o = cJSON_CreateObject(), *e;

  if (o == NULL)
    return NULL;
  e = cJSON_AddObjectToObject(o, "error");
  cJSON_AddStringToObject(e, "message", message);
  cJSON_AddStringToObject(e, "type", type);
  if (param != NULL)
    cJSON_AddStringToObject(e, "param", param);
  else
    cJSON_AddNullToObject(e, "param");
  cJSON_AddNumberToObject(e, "code", code);
  return print(o);
}

char *mlfq_openai_model(const char *model, long created) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "id", model);
  cJSON_AddStringToObject(o, "object", "model");
  cJSON_AddNumberToObject(o, "created", (double)created);
  cJSON_AddStringToObject(o, "owned_by", "mlfqd");
  return print(o);
}

char *mlfq_openai_version(const char *version) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "version", version);
  return print(o);
}

/* Adds the id of every whitespace-separated word of s to the cJSON array
 * ids (message_texts' fn). */
static void word_ids(const char *s, void *ids) {
  uint32_t h = 0;
  int in = 0;

  for (;; s++) {
    int space = *s == '\0' || *s == ' ' || *s == '\t' || *s == '\n' ||
                *s == '\r' || *s == '\f' || *s == '\v';
    if (!space) {
      if (!in)
        h = 2166136261u; /* FNV-1a */
      h = (h ^ (uint8_t)*s) * 16777619u;
    } else if (in) {
      cJSON_AddItemToArray(ids,
                           cJSON_CreateNumber((double)(h % MLFQ_OPENAI_VOCAB)));
    }
    in = !space;
    if (*s == '\0')
      return;
  }
}

/* The text a tokenize body asks about, as ids into ids. Returns 0, or an
 * HTTP status with err and *param. */
static int tokenize_text(const cJSON *o, cJSON *ids, char *err, size_t errlen,
                         const char **param) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt"),
              *ms = cJSON_GetObjectItemCaseSensitive(o, "messages");

  if (p != NULL) {
    *param = "prompt";
    if (!cJSON_IsString(p))
      return mlfq_fail(err, errlen, 400, "'prompt' must be a string");
    word_ids(p->valuestring, ids);
    return 0;
  }
  *param = "messages";
  if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
    return mlfq_fail(err, errlen, 400,
                     "'prompt' (a string) or 'messages' (a non-empty array) "
                     "is required");
  return message_texts(ms, word_ids, ids, err, errlen);
}

int mlfq_openai_tokenize(const char *body, size_t len, const char *model,
                         uint64_t max_model_len, char **out, char *err,
                         size_t errlen, const char **param) {
  cJSON *o = cJSON_ParseWithLength(body, len), *r = NULL, *ids;
  const cJSON *v;
  int rc;

  *out = NULL;
  *param = NULL;
  if (o == NULL)
    return mlfq_fail(err, errlen, 400, "the body is not valid JSON");
  if (!cJSON_IsObject(o)) {
    rc = mlfq_fail(err, errlen, 400, "the body must be a JSON object");
    goto done;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "model");
  if (v != NULL && !cJSON_IsNull(v) &&
      (!cJSON_IsString(v) || strcmp(v->valuestring, model) != 0)) {
    *param = "model";
    rc = cJSON_IsString(v)
             ? mlfq_fail(err, errlen, 404, "The model '%.100s' does not exist.",
                         v->valuestring)
             : mlfq_fail(err, errlen, 400, "'model' must be a string");
    goto done;
  }
  r = cJSON_CreateObject();
  ids = cJSON_CreateArray();
  if (r == NULL || ids == NULL) {
    cJSON_Delete(ids);
    rc = 0; /* *out stays NULL: out of memory */
    goto done;
  }
  rc = tokenize_text(o, ids, err, errlen, param);
  if (rc != 0) {
    cJSON_Delete(ids);
    goto done;
  }
  *param = NULL;
  cJSON_AddNumberToObject(r, "count", (double)cJSON_GetArraySize(ids));
  cJSON_AddNumberToObject(r, "max_model_len", (double)max_model_len);
  cJSON_AddItemToObject(r, "tokens", ids);
  cJSON_AddNullToObject(r, "token_strs");
  *out = print(r);
  r = NULL;
done:
  cJSON_Delete(r);
  cJSON_Delete(o);
  return rc;
}

int mlfq_openai_detokenize(const char *body, size_t len, char **out, char *err,
                           size_t errlen, const char **param) {
  static const char word[] = "tok ";
  cJSON *o = cJSON_ParseWithLength(body, len), *r;
  const cJSON *ts, *t;
  uint32_t id;
  size_t n, k = 0;
  char *text;
  int rc = 0;

  *out = NULL;
  *param = NULL;
  if (o == NULL)
    return mlfq_fail(err, errlen, 400, "the body is not valid JSON");
  *param = "tokens";
  ts = cJSON_GetObjectItemCaseSensitive(o, "tokens");
  if (!cJSON_IsArray(ts)) {
    rc = mlfq_fail(err, errlen, 400, "'tokens' must be an array of token ids");
    goto done;
  }
  n = (size_t)cJSON_GetArraySize(ts);
  cJSON_ArrayForEach(t, ts) {
    if (whole(t, 0, MLFQ_OPENAI_VOCAB - 1, &id) != 0) {
      rc = mlfq_fail(err, errlen, 400,
                     "'tokens' must be an array of token ids from 0 to %d",
                     MLFQ_OPENAI_VOCAB - 1);
      goto done;
    }
  }
  *param = NULL;
  text = malloc(n * (sizeof(word) - 1) + 1);
  if (text == NULL)
    goto done; /* *out stays NULL: out of memory */
  for (k = 0; k < n; k++)
    memcpy(text + k * (sizeof(word) - 1), word, sizeof(word) - 1);
  text[n > 0 ? n * (sizeof(word) - 1) - 1 : 0] = '\0'; /* no last space */
  r = cJSON_CreateObject();
  if (r != NULL)
    cJSON_AddStringToObject(r, "prompt", text);
  free(text);
  *out = print(r);
done:
  cJSON_Delete(o);
  return rc;
}
