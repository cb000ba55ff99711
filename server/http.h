/* The HTTP front door's own state (http.c, completion.c): the door (its
 * listener, read and idle deadlines and connections) and one HTTP
 * connection, which carries many requests, one at a time. The server sees
 * only the functions of server.h. Loop thread.
 */
#ifndef MLFQ_SERVER_HTTP_H
#define MLFQ_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "http/openai.h"
#include "net/deadline.h"
#include "net/flow.h"
#include "server.h"

struct http_door_s {
  server_t *sv;
  uv_tcp_t listener;
  mlfq_deadlines_t reads; /* requests not yet read whole */
  mlfq_deadlines_t idles; /* kept-alive connections between requests */
  uv_idle_t resume;       /* runs while `ready` is not empty */
  mlfq_link_t ready;      /* http_t answered in a scheduling point */
  int listening;
  mlfq_link_t conns; /* http_t */
  size_t n;
};

typedef struct http_s http_t;
struct http_s {
  /* The connection's. */
  uv_tcp_t tcp;
  server_t *sv;
  http_door_t *door;
  mlfq_link_t link;   /* in door->conns */
  mlfq_link_t rlink;  /* in door->ready while its next request waits */
  server_out_t flush; /* in sv->dirty while it has output */
  http_parser parser;
  mlfq_buf_t in;  /* bytes read and not yet parsed (pipelined requests) */
  mlfq_buf_t out; /* output of this pump, written at its flush */
  size_t queued;  /* bytes given to uv_write and not yet written */
  uint64_t id;
  unsigned served;          /* requests begun on this connection */
  mlfq_deadline_t read_due; /* in door->reads while a request is read */
  mlfq_deadline_t idle_due; /* in door->idles between requests */
  int parsing;              /* inside drive(): answers are taken inline */
  int reading;              /* uv_read_start is in force */
  int closing;
  mlfq_flow_t flow; /* when to close (flow.h); never paused */
  char peer[64];
  /* The request's: reset between requests (http.c, next_request). */
  mlfq_buf_t url, field, value, body;
  int in_value;   /* the last header callback was a value */
  int expect;     /* "Expect: 100-continue" */
  int complete;   /* the request has been read (or refused) */
  int busy;       /* read whole, its response not yet all queued */
  int answered;   /* its response is all queued; the next may be read */
  int must_close; /* the input is in an unknown state: close after */
  int keep;       /* the connection stays open after this response */
  int head;       /* HEAD: the headers of the GET, no body */
  int chunked;    /* a stream in chunks (else ended by the close) */
  int streaming;  /* a stream's headers have gone */
  mlfq_openai_req_t q;
  mlfq_openai_stream_t st; /* a stream's chunks */
  request_t *reqs;         /* q.n jobs */
  size_t live;             /* of them not yet ended */
  char rid[128];           /* the response id */
  long created;
  struct completion_fault_s *fault; /* completion.c's: a fault injected */
};

/* http.c: output. Each appends to h->out, written at the end of the pump;
 * too much unwritten output marks h to be disconnected at the flush. */
/* Appends n bytes. */
void http_put(http_t *h, const void *p, size_t n);
/* Appends a formatted line (at most 1 KiB). */
void http_putf(http_t *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A whole JSON response; takes ownership of body (malloc'ed; NULL: out of
 * memory, a 500). It ends the request: the next one on the connection is
 * read after it, or the connection closes once it is written. */
void http_respond_json(http_t *h, int status, const char *extra, char *body);
/* An OpenAI-shaped error response of status, with msg. */
void http_respond_error(http_t *h, int status, const char *extra,
                        const char *msg);
/* The same, naming the request's field at fault (NULL: none). */
void http_respond_error_param(http_t *h, int status, const char *extra,
                              const char *msg, const char *param);
/* The headers that begin a stream (status 200, server-sent events): in
 * chunks on HTTP/1.1; on HTTP/1.0, which has no chunks, ended by the
 * close of the connection. */
void http_begin_stream(http_t *h);
/* OpenAI's error type for status ("invalid_request_error", ...). */
const char *http_error_type(int status);
/* One server-sent event "data: TEXT" (n bytes) in a chunk of its own. */
void http_event_n(http_t *h, const char *text, size_t n);
void http_event(http_t *h, const char *text);
/* A server-sent events comment ": TEXT", which clients skip, in a chunk
 * of its own. */
void http_comment(http_t *h, const char *text);
/* The end of a stream: "[DONE]" and the last chunk; it ends the request
 * as http_respond_json does. */
void http_end_stream(http_t *h);
/* Closes h once what has been put so far is written, with no end to the
 * response and nothing more read: an injected dropped connection
 * (faults.h). Usable during a scheduling point. */
void http_drop(http_t *h);

/* completion.c: POST /v1/completions and /v1/chat/completions */
/* Answers the request in h->body (chat: a chat completion): its prompts
 * enter the server as requests, or an error is sent. */
void completion_start(http_t *h, int chat);
/* Takes every request of h still in flight out of the server. */
void completion_forget(http_t *h);
/* Frees what completion_start made (the request has ended, or the
 * connection closes). */
void completion_free(http_t *h);

#endif
