/* common/http/openai.c: a stream's chunks, made from a template without an
 * allocation per token, are byte for byte the chunks cJSON builds, for
 * both endpoints, every first/last combination, both finish reasons,
 * indexes of one and two digits, and ids and model names that JSON must
 * escape; min_tokens and ignore_eos as the parser reads them; a response's
 * texts, finish reasons and usage from each prompt's output length. */
#include <stdlib.h>
#include <string.h>

#include "http/openai.h"
#include "task.h"

static void check(int chat, const char *model, const char *id, long created) {
  mlfq_openai_stream_t st;
  mlfq_openai_req_t q;
  const char *fast;
  size_t n, i;
  char *slow;
  int first, last;

  memset(&q, 0, sizeof(q));
  q.chat = chat;
  q.stream = 1;
  q.max_tokens = 3;
  q.n = chat ? 1 : MLFQ_OPENAI_MAX_PROMPTS;
  q.model = model;
  for (i = 0; i < q.n; i++) /* every third ends on its own */
    q.output_len[i] = i % 3 == 1 ? 2 : 3;
  if (chat)
    q.output_len[0] = 1;
  ASSERT_EQ(mlfq_openai_stream_init(&st, &q, id, created), 0);
  for (i = 0; i < q.n; i++)
    for (first = 0; first < 2; first++)
      for (last = 0; last < 2; last++) {
        slow = mlfq_openai_chunk(&q, id, created, i, first, last);
        ASSERT(slow != NULL);
        fast = mlfq_openai_stream_chunk(&st, i, first, last, &n);
        ASSERT_EQ(n, strlen(slow));
        if (memcmp(fast, slow, n) != 0) {
          fprintf(stderr, "template: %.*s\ncJSON:    %s\n", (int)n, fast, slow);
          ASSERT(0);
        }
        free(slow);
      }
  mlfq_openai_stream_free(&st);
}

TEST(openai, stream_chunks_equal_cjson) {
  static const char *const models[] = {"mlfqd",
                                       "opt-1.3b",
                                       "a \"quoted\" \\ name",
                                       "tab\tand\nnewline",
                                       "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
                                       ""};
  size_t m;

  for (m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
    check(0, models[m], "cmpl-mlfqd-1-7", 1764763200);
    check(1, models[m], "chatcmpl-\"x\"-42", 0);
  }
}

static const mlfq_openai_limits_t lim = {"mlfqd", 16, 1000, 100};

static void parse_ok(const char *body, int chat, mlfq_openai_req_t *q) {
  char err[256] = "";

  if (mlfq_openai_parse(body, strlen(body), chat, &lim, q, err, sizeof(err)) !=
      0) {
    fprintf(stderr, "%s: %s\n", body, err);
    ASSERT(0);
  }
}

static void parse_fails(const char *body, const char *msg) {
  mlfq_openai_req_t q;
  char err[256] = "";

  ASSERT_EQ(
      mlfq_openai_parse(body, strlen(body), 0, &lim, &q, err, sizeof(err)),
      400);
  ASSERT_CONTAINS(err, msg);
}

TEST(openai, min_tokens_and_ignore_eos) {
  mlfq_openai_req_t q;
  size_t i;

  parse_ok("{\"prompt\":[\"a\",\"b c\"],\"max_tokens\":7}", 0, &q);
  ASSERT_EQ(q.min_tokens, 0);
  ASSERT_EQ(q.ignore_eos, 0);
  for (i = 0; i < q.n; i++)
    ASSERT_EQ(q.output_len[i], 7); /* until the server sets it */
  parse_ok("{\"prompt\":\"a\",\"max_tokens\":7,\"min_tokens\":7,"
           "\"ignore_eos\":true}",
           0, &q);
  ASSERT_EQ(q.min_tokens, 7);
  ASSERT_EQ(q.ignore_eos, 1);
  parse_ok("{\"prompt\":\"a\",\"min_tokens\":null,\"ignore_eos\":false}", 0,
           &q);
  ASSERT_EQ(q.min_tokens, 0);
  ASSERT_EQ(q.ignore_eos, 0);
  ASSERT_EQ(q.output_len[0], 16); /* lim.default_tokens */
  /* min_tokens is checked against the default max_tokens too, and chat's
   * max_completion_tokens. */
  parse_ok("{\"prompt\":\"a\",\"min_tokens\":16}", 0, &q);
  parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
           "\"max_completion_tokens\":4,\"min_tokens\":3}",
           1, &q);
  ASSERT_EQ(q.min_tokens, 3);
  ASSERT_EQ(q.output_len[0], 4);

  parse_fails("{\"prompt\":\"a\",\"max_tokens\":7,\"min_tokens\":8}",
              "'min_tokens' must be a whole number from 0 to max_tokens (7)");
  parse_fails("{\"prompt\":\"a\",\"min_tokens\":17}",
              "'min_tokens' must be a whole number from 0 to max_tokens (16)");
  parse_fails("{\"prompt\":\"a\",\"min_tokens\":-1}", "'min_tokens'");
  parse_fails("{\"prompt\":\"a\",\"min_tokens\":1.5}", "'min_tokens'");
  parse_fails("{\"prompt\":\"a\",\"min_tokens\":\"2\"}", "'min_tokens'");
  parse_fails("{\"prompt\":\"a\",\"ignore_eos\":1}",
              "'ignore_eos' must be true or false");
  parse_fails("{\"prompt\":\"a\",\"ignore_eos\":\"yes\"}", "'ignore_eos'");
}

TEST(openai, finish_reason_follows_output_length) {
  mlfq_openai_req_t q;
  char *s;

  parse_ok("{\"prompt\":[\"a\",\"b\",\"c\"],\"max_tokens\":3}", 0, &q);
  q.output_len[0] = 1;
  q.output_len[2] = 2;
  s = mlfq_openai_response(&q, "cmpl-1", 5);
  ASSERT(s != NULL);
  ASSERT_CONTAINS(s, "{\"index\":0,\"text\":\" tok\",\"logprobs\":null,"
                     "\"finish_reason\":\"stop\"}");
  ASSERT_CONTAINS(s, "{\"index\":1,\"text\":\" tok tok tok\",\"logprobs\":"
                     "null,\"finish_reason\":\"length\"}");
  ASSERT_CONTAINS(s, "{\"index\":2,\"text\":\" tok tok\",\"logprobs\":null,"
                     "\"finish_reason\":\"stop\"}");
  ASSERT_CONTAINS(s, "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":6,"
                     "\"total_tokens\":9}");
  free(s);
  s = mlfq_openai_usage_chunk(&q, "cmpl-1", 5);
  ASSERT_CONTAINS(s, "\"completion_tokens\":6");
  free(s);
  s = mlfq_openai_chunk(&q, "cmpl-1", 5, 0, 0, 1);
  ASSERT_CONTAINS(s, "\"finish_reason\":\"stop\"}");
  free(s);
  s = mlfq_openai_chunk(&q, "cmpl-1", 5, 1, 0, 1);
  ASSERT_CONTAINS(s, "\"finish_reason\":\"length\"}");
  free(s);
  s = mlfq_openai_chunk(&q, "cmpl-1", 5, 0, 0, 0);
  ASSERT_CONTAINS(s, "\"finish_reason\":null}");
  free(s);

  parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
           "\"max_tokens\":2}",
           1, &q);
  q.output_len[0] = 1;
  s = mlfq_openai_response(&q, "chatcmpl-1", 5);
  ASSERT_CONTAINS(s, "\"message\":{\"role\":\"assistant\",\"content\":\" "
                     "tok\"},\"logprobs\":null,\"finish_reason\":\"stop\"}");
  ASSERT_CONTAINS(s, "\"completion_tokens\":1,");
  free(s);
}
