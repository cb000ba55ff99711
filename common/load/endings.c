/* DESIGN: the daemon's natural lengths reuse what mlfqsim and loadgen draw
 * workloads with, so that one --output-len means one thing everywhere: the
 * spec parser and sampler of lengths.c on the seed's
 * MLFQ_STREAM_OUTPUT_LEN stream, and the workload reader of workload.c for
 * a file, whose rows are taken in order and cycled as mlfq_workload_make
 * takes them. The daemon cannot know how many requests will come, so it
 * draws one at a time instead of making a workload up front. */
#include <string.h>

#include "base/error.h"
#include "load/endings.h"

int mlfq_endings_init(mlfq_endings_t *e, const char *spec, const char *path,
                      uint64_t seed, char *err, size_t errlen) {
  char msg[256];
  int rc;

  memset(e, 0, sizeof(*e));
  if (spec == NULL && path == NULL)
    return 0;
  rc = mlfq_lengths_parse(&e->dist, spec != NULL ? spec : "file", msg,
                          sizeof(msg));
  if (rc)
    return mlfq_fail(err, errlen, rc, "--output-len: %s", msg);
  if (e->dist.kind == MLFQ_LEN_FILE && path == NULL)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--output-len file needs --workload");
  if (e->dist.kind != MLFQ_LEN_FILE && path != NULL) {
    mlfq_lengths_free(&e->dist);
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--workload: only --output-len file reads it, not '%s'",
                     spec);
  }
  if (path != NULL) {
    rc = mlfq_workload_load(&e->file, path, err, errlen);
    if (rc)
      return rc;
  }
  mlfq_rng_seed(&e->rng, seed, MLFQ_STREAM_OUTPUT_LEN);
  e->on = 1;
  return 0;
}

uint32_t mlfq_endings_draw(mlfq_endings_t *e) {
  uint32_t l;

  if (e->dist.kind != MLFQ_LEN_FILE)
    return mlfq_lengths_sample(&e->dist, &e->rng);
  l = e->file.reqs[e->next].output_len; /* >= 1: the reader checks */
  e->next = (e->next + 1) % e->file.n;
  return l;
}

uint32_t mlfq_endings_length(uint32_t natural, uint32_t max_tokens,
                             uint32_t min_tokens, int ignore_eos) {
  uint32_t l = natural > 0 ? natural : 1;

  if (ignore_eos)
    return max_tokens;
  if (l < min_tokens)
    l = min_tokens;
  return l < max_tokens ? l : max_tokens;
}

void mlfq_endings_cap(mlfq_workload_t *w, uint32_t max_tokens) {
  size_t i;

  if (max_tokens == 0)
    return;
  for (i = 0; i < w->n; i++)
    w->reqs[i].output_len =
        mlfq_endings_length(w->reqs[i].output_len, max_tokens, 0, 0);
}

size_t mlfq_endings_at_cap(const mlfq_workload_t *w, uint32_t max_tokens) {
  size_t i, n = 0;

  if (max_tokens == 0)
    return 0;
  for (i = 0; i < w->n; i++)
    n += w->reqs[i].output_len >= max_tokens;
  return n;
}

void mlfq_endings_json(cJSON *doc, const mlfq_workload_t *w,
                       uint32_t max_tokens) {
  size_t n = mlfq_endings_at_cap(w, max_tokens);
  cJSON *f;

  if (max_tokens == 0)
    return;
  cJSON_AddNumberToObject(doc, "max_tokens", max_tokens);
  f = cJSON_AddObjectToObject(doc, "finish_reasons");
  cJSON_AddNumberToObject(f, "stop", (double)(w->n - n));
  cJSON_AddNumberToObject(f, "length", (double)n);
}

void mlfq_endings_free(mlfq_endings_t *e) {
  mlfq_lengths_free(&e->dist);
  mlfq_workload_free(&e->file);
  memset(e, 0, sizeof(*e));
}
