/* The HTTP tests' helpers: a daemon with HTTP, curl, a raw client. */
/* mlfqd with its HTTP front door on a free port, curl against it, OpenAI's
 * error shape, and a raw HTTP client for streams and timing. Nothing here
 * returns an error: what goes wrong fails the test. */
#ifndef MLFQ_TEST_HD_H
#define MLFQ_TEST_HD_H

#include "task.h"

#define CURL "/usr/bin/curl"

/* A daemon and where its HTTP listens. */
typedef struct {
  mlfq_test_daemon_t d;
  int port;      /* HTTP */
  char base[64]; /* http://127.0.0.1:PORT */
} hd_t;

/* Starts mlfqd with HTTP on a free port and the options in args
 * (NULL-terminated, at most 44; args may be NULL). */
void hd_start(hd_t *h, const char *const *args);

/* curl: method, path, body (NULL: none); returns the status code and the
 * body in *out (malloc'ed). */
int hd_curl(const hd_t *h, const char *method, const char *path,
            const char *body, char **out);

/* Asserts that body is an error in OpenAI's shape with code ("param" a
 * string or null). */
void hd_assert_error(const char *body, int code);

/* Asserts that the error body's "param" is param (NULL: null). */
void hd_assert_param(const char *body, const char *param);

/* The monotonic clock in us. */
int64_t hd_now_us(void);

/* A connection to port on 127.0.0.1 (close it). */
int hd_connect(int port);

/* Writes all n bytes of p on fd. */
void hd_send_all(int fd, const char *p, size_t n);

/* Writes a POST of path with the JSON body on fd, in one write (at most
 * 4 kB), with "Connection: close": the server closes the connection after
 * its response, so hd_read_all reads that one response. */
void hd_post(int fd, const char *path, const char *body);

/* Reads fd until it closes (within timeout_ms); each read's bytes are
 * stamped. Returns the bytes (NUL-terminated, malloc'ed) and their number
 * in *len; (*stamps)[i] (malloc'ed) is when byte i arrived, in us. */
char *hd_read_all(int fd, int64_t **stamps, size_t *len, int timeout_ms);

/* One response read by hd_read_responses. */
typedef struct {
  int head; /* the answer to a HEAD (no body) */
  int status;
  int keep;            /* it did not end the connection (Connection) */
  int chunked;         /* Transfer-Encoding: chunked */
  long content_length; /* -1: none */
  char retry_after[16];
  char *body; /* malloc'ed, NUL-terminated, chunks joined; free with
                 hd_resp_free */
  size_t len;
} hd_resp_t;

/* Reads n responses from fd (a kept-alive connection), within timeout_ms,
 * and nothing after them; head[i] (head may be NULL: none) says that the
 * i-th answers a HEAD. Returns how many were read whole; fewer when the
 * server closed first (*closed is then 1; a body ended by the close
 * counts as whole). */
size_t hd_read_responses(int fd, hd_resp_t *r, size_t n, const int *head,
                         int timeout_ms, int *closed);
void hd_resp_free(hd_resp_t *r, size_t n);

/* Asserts that the server closes fd within timeout_ms, sending nothing
 * more. */
void hd_expect_eof(int fd, int timeout_ms);

#endif
