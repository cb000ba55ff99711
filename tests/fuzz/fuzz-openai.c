/* Fuzzes the OpenAI request parser (mlfq_openai_parse, common/http/openai.c):
 * each input is a request body, read as a completion and as a chat
 * completion under three sets of limits (the fuzz server's, a tiny one and
 * the widest).
 *
 * A request read must be within the limits (1 to 64 prompts, one for
 * chat, each of 1 to max_input tokens, 1 to max_output to generate, the
 * server's model), and every response built from it (each prompt's first
 * and last chunk, the usage chunk, the whole response) valid JSON with
 * as many choices as it should have; every chunk made from the stream
 * template is byte for byte the one cJSON builds. A request refused must have a
 * 400 or a 404 and a message, and its error body must be valid JSON. Nothing
 * may leak. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "harness.h"
#include "http/openai.h"

/* Parses s (which it frees) as JSON and returns its number of choices (-1:
 * none). Aborts unless it is valid JSON. */
static int json_choices(char *s, const char *what) {
  cJSON *j, *cs;
  int n = -1;

  if (s == NULL)
    fz_die("%s: out of memory", what);
  j = cJSON_Parse(s);
  if (j == NULL)
    fz_die("%s is not JSON: %s", what, s);
  cs = cJSON_GetObjectItemCaseSensitive(j, "choices");
  if (cJSON_IsArray(cs))
    n = cJSON_GetArraySize(cs);
  cJSON_Delete(j);
  free(s);
  return n;
}

/* The template's chunk for prompt i equals cJSON's. */
static void same_chunk(const mlfq_openai_req_t *q, mlfq_openai_stream_t *st,
                       size_t i, int first, int last) {
  char *slow = mlfq_openai_chunk(q, "cmpl-fuzz", 1, i, first, last);
  const char *fast;
  size_t n;

  if (slow == NULL)
    fz_die("a chunk: out of memory");
  fast = mlfq_openai_stream_chunk(st, i, first, last, &n);
  if (n != strlen(slow) || memcmp(fast, slow, n) != 0)
    fz_die("the template's chunk '%.*s' is not cJSON's '%s'", (int)n, fast,
           slow);
  free(slow);
}

static void one(const char *body, size_t len, int chat,
                const mlfq_openai_limits_t *lim) {
  mlfq_openai_stream_t st;
  mlfq_openai_req_t q;
  char err[256];
  size_t i;
  int rc;

  err[0] = '\0';
  rc = mlfq_openai_parse(body, len, chat, lim, &q, err, sizeof(err));
  if (rc != 0) {
    if ((rc != 400 && rc != 404) || err[0] == '\0')
      fz_die("refused with %d and message '%s'", rc, err);
    (void)json_choices(mlfq_openai_error(err, "invalid_request_error", rc),
                       "the error body");
    return;
  }
  if (q.chat != chat || q.n < 1 || q.n > MLFQ_OPENAI_MAX_PROMPTS ||
      (chat && q.n != 1))
    fz_die("read chat %d with %zu prompts", q.chat, q.n);
  if (q.max_tokens < 1 || q.max_tokens > lim->max_output)
    fz_die("read max_tokens %u", (unsigned)q.max_tokens);
  if (strcmp(q.model, lim->model) != 0)
    fz_die("read model '%s'", q.model);
  for (i = 0; i < q.n; i++)
    if (q.input_len[i] < 1 || q.input_len[i] > lim->max_input)
      fz_die("prompt %zu: read input length %u", i, (unsigned)q.input_len[i]);
  if (q.min_tokens > q.max_tokens || (q.ignore_eos != 0 && q.ignore_eos != 1))
    fz_die("read min_tokens %u, ignore_eos %d", (unsigned)q.min_tokens,
           q.ignore_eos);
  for (i = 0; i < q.n; i++)
    if (q.output_len[i] != q.max_tokens)
      fz_die("prompt %zu: output length %u before the server sets it", i,
             (unsigned)q.output_len[i]);
  if (mlfq_openai_stream_init(&st, &q, "cmpl-fuzz", 1) != 0)
    fz_die("the stream template: out of memory");
  for (i = 0; i < q.n; i++) {
    same_chunk(&q, &st, i, 1, 0);
    same_chunk(&q, &st, i, 0, 1);
    same_chunk(&q, &st, i, 0, 0);
    /* and ending on its own, below max_tokens ("stop") */
    q.output_len[i] = 1 + q.input_len[i] % q.max_tokens;
    same_chunk(&q, &st, i, 0, 1);
  }
  mlfq_openai_stream_free(&st);
  for (i = 0; i < q.n; i++) {
    if (json_choices(mlfq_openai_chunk(&q, "cmpl-fuzz", 1, i, 1, 0),
                     "a first chunk") != 1 ||
        json_choices(mlfq_openai_chunk(&q, "cmpl-fuzz", 1, i, 0, 1),
                     "a last chunk") != 1)
      fz_die("a chunk without one choice");
  }
  if (json_choices(mlfq_openai_usage_chunk(&q, "cmpl-fuzz", 1),
                   "the usage chunk") != 0)
    fz_die("a usage chunk with choices");
  if (json_choices(mlfq_openai_response(&q, "cmpl-fuzz", 1), "the response") !=
      (int)q.n)
    fz_die("a response without %zu choices", q.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const mlfq_openai_limits_t lims[] = {
      {"mlfqd", 4, 4096, 32}, /* the fuzz server's */
      {"mlfqd", 1, 8, 2},     /* tiny, for the limits to be reached */
      {"mlfqd", 16, 4294967295u, 1024}};
  char *body;
  size_t i;

  /* An exact copy, not NUL-terminated: the parser must keep to len. */
  body = fz_copy(data, size);
  if (body == NULL)
    return 0;
  for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
    one(body, size, 0, &lims[i]);
    one(body, size, 1, &lims[i]);
  }
  free(body);
  return 0;
}
