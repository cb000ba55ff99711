/* OpenAI-compatible completion requests and responses: what mlfqd's HTTP
 * front door reads from a request body and writes back (docs/HTTP.md).
 * Pure functions over JSON text (cJSON); no I/O. */
#ifndef MLFQ_OPENAI_H
#define MLFQ_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#define MLFQ_OPENAI_MAX_PROMPTS 64

/* What a request asks for. Each prompt becomes one job. */
typedef struct {
  int chat;          /* /v1/chat/completions (else /v1/completions) */
  int stream;        /* "stream": true */
  int include_usage; /* "stream_options": {"include_usage": true} */
  uint32_t max_tokens;
  uint32_t min_tokens; /* "min_tokens" (vLLM): at most max_tokens */
  int ignore_eos;      /* "ignore_eos" (vLLM): run to max_tokens */
  size_t n;            /* prompts (always 1 for chat) */
  uint32_t input_len[MLFQ_OPENAI_MAX_PROMPTS];
  /* The tokens each prompt generates, 1 to max_tokens: max_tokens after
   * mlfq_openai_parse; the server sets each (natural endings). Below
   * max_tokens the prompt ends with finish_reason "stop", else "length". */
  uint32_t output_len[MLFQ_OPENAI_MAX_PROMPTS];
  const char *model; /* the server's (lim->model): the only one served */
  /* After a failed mlfq_openai_parse: the request's field at fault
   * ("prompt", "max_tokens", ...; a static string), or NULL. */
  const char *param;
} mlfq_openai_req_t;

/* What the server allows. */
typedef struct {
  const char *model;       /* the one model served */
  uint32_t default_tokens; /* max_tokens when absent */
  uint32_t max_input;
  uint32_t max_output;
} mlfq_openai_limits_t;

/* Reads a completion (chat 0) or chat completion (chat 1) request body.
 * input_length of a prompt is its whitespace-separated words (at least
 * 1), or the number of token ids of a prompt given as an array of them,
 * or the extension field "mlfq_input_length"; max_tokens is max_tokens
 * (max_completion_tokens for chat) or lim->default_tokens, and every
 * output_len is max_tokens; min_tokens (0 to max_tokens, default 0) and
 * ignore_eos (default false) are vLLM's fields. Returns 0, or
 * an HTTP status (400 for bad JSON or fields, 404 for another model) with
 * the message in err. q->model is lim->model, which must outlive q. */
int mlfq_openai_parse(const char *body, size_t len, int chat,
                      const mlfq_openai_limits_t *lim, mlfq_openai_req_t *q,
                      char *err, size_t errlen);

/* The JSON texts of responses, malloc'ed, NUL-terminated (NULL: out of
 * memory). id is the response id, created its Unix time. */
/* One streamed token: prompt index, the text of the token, and whether it
 * is the prompt's last (finish_reason "stop" when q->output_len[index] is
 * below max_tokens, else "length"). first: a chat stream's first chunk
 * for the prompt, which carries the role. */
char *mlfq_openai_chunk(const mlfq_openai_req_t *q, const char *id,
                        long created, size_t index, int first, int last);
/* The same chunks, made without an allocation per token: every chunk of a
 * stream begins with the same text (id, object, created and model, which
 * cJSON escapes once, in mlfq_openai_stream_init), and the rest is the
 * prompt's index and fixed text. The text is identical to
 * mlfq_openai_chunk's. */
typedef struct {
  char *buf;   /* the common start, then room for one chunk's rest */
  size_t head; /* length of the common start */
  size_t cap;
  int chat;
  const mlfq_openai_req_t *q; /* its output lengths: the finish reasons */
} mlfq_openai_stream_t;
/* 0, or -1 when out of memory. q must outlive s, and its output_len be set
 * before the last chunks. */
int mlfq_openai_stream_init(mlfq_openai_stream_t *s, const mlfq_openai_req_t *q,
                            const char *id, long created);
/* One token's chunk, as mlfq_openai_chunk; *len is its length. The text
 * is s's own and holds until the next call. */
const char *mlfq_openai_stream_chunk(mlfq_openai_stream_t *s, size_t index,
                                     int first, int last, size_t *len);
void mlfq_openai_stream_free(mlfq_openai_stream_t *s);
/* The stream's usage chunk (no choices). */
char *mlfq_openai_usage_chunk(const mlfq_openai_req_t *q, const char *id,
                              long created);
/* A whole non-streamed response: every prompt's text (output_len tokens),
 * its finish reason, and the usage (completion_tokens: the output_len of
 * every prompt). */
char *mlfq_openai_response(const mlfq_openai_req_t *q, const char *id,
                           long created);
/* An error body in OpenAI's shape: {"error": {"message", "type", "param",
 * "code"}}. */
char *mlfq_openai_error(const char *message, const char *type, int code);
/* GET /v1/models. */
char *mlfq_openai_models(const char *model, long created);

/* An error body as mlfq_openai_error, whose "param" names the request's
 * field at fault (NULL: null). */
char *mlfq_openai_error_param(const char *message, const char *type, int code,
                              const char *param);
/* GET /v1/models/{id}: the one model object of mlfq_openai_models. */
char *mlfq_openai_model(const char *model, long created);
/* GET /version: {"version": version}. */
char *mlfq_openai_version(const char *version);

/* Token ids of the tokenize endpoints: a word's id is a hash of its bytes
 * (FNV-1a) modulo this, the same for the same word everywhere. */
#define MLFQ_OPENAI_VOCAB 50272
/* POST /tokenize in vLLM's shape: the body {"prompt": TEXT} or
 * {"messages": [...]} (and "model", absent or model) is cut into
 * whitespace-separated words, as mlfq_openai_parse counts an input length
 * (without its floor of 1); *out (malloc'ed; NULL: out of memory) is
 * {"count": N, "max_model_len": max_model_len, "tokens": [ids],
 * "token_strs": null}. Returns 0, or an HTTP status (400, 404 for another
 * model) with the message in err and the field at fault in *param. */
int mlfq_openai_tokenize(const char *body, size_t len, const char *model,
                         uint64_t max_model_len, char **out, char *err,
                         size_t errlen, const char **param);
/* POST /detokenize: {"tokens": [ids]} -> {"prompt": TEXT}, one word of
 * filler ("tok") per id, so that TEXT tokenizes to as many tokens (not to
 * the same ids: a hash has no inverse). Returns as mlfq_openai_tokenize. */
int mlfq_openai_detokenize(const char *body, size_t len, char **out, char *err,
                           size_t errlen, const char **param);

/* The filler text of one generated token. */
#define MLFQ_OPENAI_TOKEN_TEXT " tok"

#endif
