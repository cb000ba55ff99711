/* Writes the binary seed corpora of the protocol harnesses under DIR
 * (tests/fuzz/corpus): framed messages made with the real protobuf-c pack
 * functions, each seed led by its harness's control byte(s). Run by hand
 * when the protocol changes:  fuzz-gen-seeds tests/fuzz/corpus
 * The HTTP seeds are requests after fuzz-http.c's control byte, with their
 * Content-Length computed. The CSV, profile and openai seeds are plain
 * files, written by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cost.h"
#include "core/sched.h"
#include "harness.h"
#include "wire/wire.h"

static const char *dir;

static void save(const char *name, const char *seed, const uint8_t *ctl,
                 size_t nctl, const mlfq_buf_t *b) {
  char path[4096];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  (void)mkdir(path, 0777);
  snprintf(path, sizeof(path), "%s/%s/%s", dir, name, seed);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(ctl, 1, nctl, f) != nctl ||
      (b->len > 0 && fwrite(b->data, 1, b->len, f) != b->len) || fclose(f))
    fz_die("cannot write %s: %s", path, strerror(errno));
}

static void put_server(mlfq_buf_t *b, const Mlfq__ServerMessage *m) {
  if (mlfq_wire_put_server(b, m) != 0)
    fz_die("out of memory");
}

static void put_raw(mlfq_buf_t *b, const void *p, size_t n) {
  if (mlfq_buf_append(b, p, n) != 0)
    fz_die("out of memory");
}

static void put_hello_version(mlfq_buf_t *b, uint32_t v) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__Hello h = MLFQ__HELLO__INIT;

  h.protocol_version = v;
  h.client_name = "seed";
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_HELLO;
  m.hello = &h;
  if (mlfq_wire_put_client(b, &m) != 0)
    fz_die("out of memory");
}

/* A client's conversation: Hello (unless the harness adds it), Submits,
 * a Cancel, a duplicate, a StatsRequest. */
static void conversation(mlfq_buf_t *b, int hello) {
  if (hello)
    fz_put_hello(b);
  fz_put_submit(b, 1, 120, 3);
  fz_put_submit(b, 2, 8, 2);
  fz_put_submit(b, 3, 300, 5);
  fz_put_cancel(b, 2);
  fz_put_submit(b, 3, 1, 1);
  fz_put_cancel(b, 99);
  fz_put_stats(b);
}

static void client_seeds(const char *name, size_t nctl) {
  static const uint8_t bad_len[] = {0x7f, 0xff, 0xff, 0xff};
  static const uint8_t zero_len[] = {0, 0, 0, 0};
  static const uint8_t garbage[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
  uint8_t ctl[2] = {0, 0};
  mlfq_buf_t b;
  uint32_t i;

  mlfq_buf_init(&b, 1 << 20);
  conversation(&b, 1);
  save(name, "conversation", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 2 | 4; /* frame: chunk seed; daemon: Hello first, half-close */
  ctl[1] = 4;
  conversation(&b, nctl == 2);
  save(name, "conversation-split", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 3; /* variant 1 (KV cache), Hello first */
  for (i = 1; i <= 12; i++)
    fz_put_submit(&b, i, 200 + 17 * i, 1 + i % 7);
  fz_put_stats(&b);
  save(name, "kv-pressure", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 0;
  fz_put_submit(&b, 1, 10, 1);
  save(name, "hello-missing", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  fz_put_hello(&b);
  fz_put_hello(&b);
  save(name, "hello-twice", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  put_hello_version(&b, 2);
  save(name, "hello-bad-version", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 2;
  fz_put_submit(&b, 5, 0, 1);
  fz_put_submit(&b, 6, 1, 0);
  fz_put_submit(&b, 7, 5000, 40);
  put_raw(&b, bad_len, sizeof(bad_len));
  save(name, "invalid-then-oversized", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  put_raw(&b, zero_len, sizeof(zero_len));
  save(name, "empty-frame", ctl, nctl, &b);
  mlfq_buf_consume(&b, b.len);

  put_raw(&b, garbage, sizeof(garbage));
  save(name, "garbage-payload", ctl, nctl, &b);
  mlfq_buf_free(&b);
}

/* A Welcome as mlfqd sends it (variant: its default configuration). */
static void put_welcome(mlfq_buf_t *b, uint32_t version) {
  fz_put_welcome(b, version, "seed", "0.1.0");
}

static void put_accepted(mlfq_buf_t *b, uint64_t id) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Accepted a = MLFQ__ACCEPTED__INIT;

  a.id = id;
  a.arrival_ns = 1000 * id;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ACCEPTED;
  m.accepted = &a;
  put_server(b, &m);
}

static void put_token(mlfq_buf_t *b, uint64_t id, uint32_t index) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Token t = MLFQ__TOKEN__INIT;

  t.id = id;
  t.index = index;
  t.t_ns = 5000 * index;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_TOKEN;
  m.token = &t;
  put_server(b, &m);
}

static void put_done(mlfq_buf_t *b, uint64_t id, uint32_t n) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Done d = MLFQ__DONE__INIT;

  d.id = id;
  d.arrival_ns = 1000;
  d.first_token_ns = 5000;
  d.finish_ns = 5000 * n;
  d.iterations = n;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_DONE;
  m.done = &d;
  put_server(b, &m);
}

static void put_error(mlfq_buf_t *b, uint64_t id, Mlfq__ErrorCode code) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Error e = MLFQ__ERROR__INIT;

  e.id = id;
  e.code = code;
  e.message = "seed";
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_ERROR;
  m.error = &e;
  put_server(b, &m);
}

static void put_stats(mlfq_buf_t *b) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__StatsReply s = MLFQ__STATS_REPLY__INIT;
  uint64_t levels[4] = {1, 2, 0, 3};
  double busy[2] = {0.5, 0.25};

  s.n_level_lengths = 4;
  s.level_lengths = levels;
  s.n_worker_busy = 2;
  s.worker_busy = busy;
  s.running = 1;
  s.waiting = 5;
  s.submitted = 9;
  s.tokens = 40;
  s.lateness_p99_us = 12.5;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  put_server(b, &m);
}

/* The replica's side: byte 0 bit 0 clear, after Welcome with requests 1,
 * 2 and 3 routed to it (bit 1: and a StatsRequest); set, the reply to the
 * router's Hello. */
static void replica_seeds(void) {
  const char *name = "router-replica";
  uint8_t ctl[1] = {0};
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 20);
  put_accepted(&b, 1);
  put_token(&b, 1, 1);
  put_accepted(&b, 3);
  put_token(&b, 1, 2);
  put_done(&b, 1, 2);
  put_error(&b, 2, MLFQ__ERROR_CODE__CANCELLED);
  put_token(&b, 3, 1);
  put_done(&b, 3, 1);
  save(name, "replies", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 2;
  put_accepted(&b, 1);
  put_stats(&b);
  put_error(&b, 3, MLFQ__ERROR_CODE__SHUTTING_DOWN);
  put_token(&b, 77, 1);
  save(name, "stats-and-draining", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 0;
  put_error(&b, 0, MLFQ__ERROR_CODE__BAD_MESSAGE);
  save(name, "connection-error", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 1;
  put_welcome(&b, MLFQ_PROTOCOL_VERSION);
  save(name, "welcome", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  put_welcome(&b, 7);
  save(name, "welcome-bad-version", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  put_accepted(&b, 1);
  save(name, "reply-before-welcome", ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);

  ctl[0] = 0;
  put_welcome(&b, MLFQ_PROTOCOL_VERSION);
  save(name, "welcome-twice", ctl, 1, &b);
  mlfq_buf_free(&b);
}

/* One HTTP request: method, path, extra header lines (each ending in
 * CRLF) and a body sent with its Content-Length (body NULL: no body and
 * no Content-Length). */
static void put_request(mlfq_buf_t *b, const char *method, const char *path,
                        const char *headers, const char *body) {
  char head[1024];
  int n;

  n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\n%s",
               method, path, headers);
  if (n < 0 || (size_t)n >= sizeof(head))
    fz_die("request too long");
  put_raw(b, head, (size_t)n);
  if (body != NULL) {
    n = snprintf(head, sizeof(head),
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n",
                 strlen(body));
    put_raw(b, head, (size_t)n);
  }
  put_raw(b, "\r\n", 2);
  if (body != NULL)
    put_raw(b, body, strlen(body));
}

/* One chunk of a chunked body ("": the last). */
static void put_chunk(mlfq_buf_t *b, const char *text) {
  char head[32];
  int n = snprintf(head, sizeof(head), "%zx\r\n", strlen(text));

  put_raw(b, head, (size_t)n);
  put_raw(b, text, strlen(text));
  put_raw(b, "\r\n", 2);
}

/* One seed of the http harness: its control byte (fuzz-http.c) and a
 * request. */
static void http_seed(const char *seed, uint8_t ctl, const char *method,
                      const char *path, const char *headers, const char *body) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 20);
  put_request(&b, method, path, headers, body);
  save("http", seed, &ctl, 1, &b);
  mlfq_buf_free(&b);
}

/* Bytes as they are, after a control byte. */
static void http_raw(const char *seed, uint8_t ctl, const char *text) {
  mlfq_buf_t b;

  mlfq_buf_init(&b, 1 << 20);
  put_raw(&b, text, strlen(text));
  save("http", seed, &ctl, 1, &b);
  mlfq_buf_free(&b);
}

/* The HTTP front door's seeds: every endpoint, plain and streamed
 * completions, a chunked body, Expect: 100-continue, refusals and
 * malformed requests. Control byte: bit 0 the server variant, bit 1 the
 * client leaves at the first response bytes, bit 2 half-close, bit 3 in
 * pieces of 1 + (byte >> 4) bytes. */
static void http_seeds(void) {
  static const char completion[] =
      "{\"model\":\"mlfqd\",\"prompt\":\"Hello there, how are you\","
      "\"max_tokens\":3}";
  static const char prompts[] =
      "{\"model\":\"mlfqd\",\"prompt\":[\"one two three\",[1,2,3,4],"
      "\"five\"],\"max_tokens\":4,\"stream\":true,"
      "\"stream_options\":{\"include_usage\":true}}";
  static const char chat[] =
      "{\"model\":\"mlfqd\",\"messages\":[{\"role\":\"system\","
      "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"Say hi\"}]}],"
      "\"max_completion_tokens\":2}";
  static const char chat_stream[] =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
      "\"stream\":true}";
  static const char kv[] =
      "{\"prompt\":\"x\",\"mlfq_input_length\":600,\"max_tokens\":8}";
  char big[8194]; /* 8193 bytes: over every limit of 8 KiB */
  mlfq_buf_t b;
  uint8_t ctl;

  http_seed("health", 0, "GET", "/health", "", NULL);
  http_seed("metrics", 1, "GET", "/metrics?x=1", "", NULL);
  http_seed("models", 0, "GET", "/v1/models", "Accept: */*\r\n", NULL);
  http_seed("completion", 0, "POST", "/v1/completions", "", completion);
  http_seed("completion-stream", 1, "POST", "/v1/completions", "", prompts);
  http_seed("chat", 0, "POST", "/v1/chat/completions", "", chat);
  http_seed("chat-stream-leave", 2, "POST", "/v1/chat/completions", "",
            chat_stream);
  http_seed("completion-half-close", 4, "POST", "/v1/completions", "", prompts);
  http_seed("expect-continue", 0, "POST", "/v1/completions",
            "Expect: 100-continue\r\n", completion);
  http_seed("kv-capacity", 1, "POST", "/v1/completions", "", kv);
  http_seed("bad-json", 0, "POST", "/v1/completions", "", "{\"prompt\":");
  http_seed("wrong-model", 0, "POST", "/v1/chat/completions", "",
            "{\"model\":\"gpt-4\",\"messages\":[]}");
  http_seed("not-found", 0, "GET", "/v2/nothing", "", NULL);
  http_seed("method", 0, "GET", "/v1/completions", "", NULL);
  http_seed("too-large", 0, "POST", "/v1/completions",
            "Content-Length: 100000\r\n", NULL);

  /* A chunked body, written 4 bytes at a time. */
  ctl = 8 | (3 << 4);
  mlfq_buf_init(&b, 1 << 20);
  put_request(&b, "POST", "/v1/completions", "Transfer-Encoding: chunked\r\n",
              NULL);
  put_chunk(&b, "{\"prompt\":\"a");
  put_chunk(&b, " b c\",\"stream\":true}");
  put_chunk(&b, "");
  save("http", "chunked", &ctl, 1, &b);
  mlfq_buf_free(&b);

  /* Just past each limit: the URL, a header, a chunked body. */
  ctl = 0;
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  mlfq_buf_init(&b, 1 << 20);
  put_raw(&b, "GET /health?", 12);
  put_raw(&b, big, sizeof(big) - 1);
  put_raw(&b, " HTTP/1.1\r\n\r\n", 13);
  save("http", "long-url", &ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);
  put_raw(&b, "GET /health HTTP/1.1\r\nX-Long: ", 30);
  put_raw(&b, big, sizeof(big) - 1);
  put_raw(&b, "\r\n\r\n", 4);
  save("http", "long-header", &ctl, 1, &b);
  mlfq_buf_consume(&b, b.len);
  put_request(&b, "POST", "/v1/completions", "Transfer-Encoding: chunked\r\n",
              NULL);
  put_chunk(&b, big);
  put_chunk(&b, "");
  save("http", "chunked-too-large", &ctl, 1, &b);
  mlfq_buf_free(&b);

  /* Expect: 100-continue, and the body never comes. */
  http_raw("expect-no-body", 0,
           "POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\n"
           "Content-Length: 40\r\n\r\n");
  http_raw("incomplete", 0, "GET /health HTTP/1.1\r\nHost: loc");
  http_raw("malformed", 0, "GET /health HTTP/1.1\r\nHost localhost\r\n\r\n");
  http_raw("not-http", 4, "BREW /pot HTCPCP/1.0\r\n\r\n");
  http_raw("pipelined", 0,
           "GET /health HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");

  /* Kept-alive connections: a pipeline of a completion, a stream, the
   * probing endpoints and HEAD, ended by Connection: close; the same in
   * pieces; and HTTP/1.0 with keep-alive, whose stream the close ends. */
  mlfq_buf_init(&b, 1 << 20);
  put_request(&b, "POST", "/v1/completions", "", completion);
  put_request(&b, "POST", "/v1/completions", "", prompts);
  put_request(&b, "POST", "/tokenize", "", "{\"prompt\":\"a b a\"}");
  put_request(&b, "POST", "/detokenize", "", "{\"tokens\":[1,2]}");
  put_raw(&b, "HEAD /v1/models/mlfqd HTTP/1.1\r\n\r\n", 34);
  put_raw(&b, "GET /version HTTP/1.1\r\nConnection: close\r\n\r\n", 44);
  ctl = 0;
  save("http", "keepalive-pipeline", &ctl, 1, &b);
  ctl = 1 | 8 | (6 << 4);
  save("http", "keepalive-pipeline-pieces", &ctl, 1, &b);
  mlfq_buf_free(&b);
  http_raw("http10-keepalive-stream", 0,
           "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
           "POST /v1/completions HTTP/1.0\r\nConnection: keep-alive\r\n"
           "Content-Length: 28\r\n\r\n{\"prompt\":\"a\",\"stream\":true}");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz-gen-seeds DIR\n");
    return 2;
  }
  dir = argv[1];
  (void)mkdir(dir, 0777);
  client_seeds("frame", 2);
  client_seeds("daemon", 1);
  client_seeds("router-client", 1);
  replica_seeds();
  http_seeds();
  return 0;
}
