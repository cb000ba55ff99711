/* common/http/openai.c: a stream's chunks, made from a template without an
 * allocation per token, are byte for byte the chunks cJSON builds, for
 * both endpoints, every first/last combination, indexes of one and two
 * digits, and ids and model names that JSON must escape. */
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
