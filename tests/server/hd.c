/* The HTTP tests' helpers (hd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <http_parser.h>
#include <strings.h>

#include "client.h"
#include "server/hd.h"

void hd_start(hd_t *h, const char *const *args) {
  const char *argv[48];
  const char *pf = mlfq_test_tmpfile(".port", "");
  char path[256], *text, *colon;
  int k = 0;

  snprintf(path, sizeof(path), "%s", pf);
  argv[k++] = "--http-listen";
  argv[k++] = "127.0.0.1:0";
  argv[k++] = "--http-port-file";
  argv[k++] = path;
  while (args != NULL && *args != NULL && k < 46)
    argv[k++] = *args++;
  argv[k] = NULL;
  mlfq_test_daemon_start(&h->d, argv);
  text = mlfq_test_slurp(path); /* written before the daemon says ready */
  colon = strrchr(text, ':');
  ASSERT(colon != NULL);
  h->port = atoi(colon + 1);
  ASSERT_GT(h->port, 0);
  free(text);
  unlink(path);
  snprintf(h->base, sizeof(h->base), "http://127.0.0.1:%d", h->port);
}

int hd_curl(const hd_t *h, const char *method, const char *path,
            const char *body, char **out) {
  char url[256], *err = NULL;
  char *argv[16];
  int k = 0, rc, status;
  char *nl;

  snprintf(url, sizeof(url), "%s%s", h->base, path);
  argv[k++] = CURL;
  argv[k++] = "-s";
  argv[k++] = "-N";
  argv[k++] = "-X";
  argv[k++] = (char *)method;
  argv[k++] = "-w";
  argv[k++] = "\n%{http_code}";
  if (body != NULL) {
    argv[k++] = "-H";
    argv[k++] = "Content-Type: application/json";
    argv[k++] = "--data-binary";
    argv[k++] = (char *)body;
  }
  argv[k++] = url;
  argv[k] = NULL;
  rc = mlfq_test_run(argv, out, &err, 30);
  free(err);
  ASSERT_EQ(rc, 0);
  nl = strrchr(*out, '\n');
  ASSERT(nl != NULL);
  status = atoi(nl + 1);
  *nl = '\0';
  return status;
}

void hd_assert_error(const char *body, int code) {
  cJSON *o = cJSON_Parse(body), *e;

  ASSERT(o != NULL);
  e = cJSON_GetObjectItemCaseSensitive(o, "error");
  ASSERT(cJSON_IsObject(e));
  ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
  ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type")));
  ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "param")) ||
         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "param")));
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(e, "code")->valueint, code);
  cJSON_Delete(o);
}

void hd_assert_param(const char *body, const char *param) {
  cJSON *o = cJSON_Parse(body), *p;

  ASSERT(o != NULL);
  p = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(o, "error"), "param");
  if (param == NULL)
    ASSERT(cJSON_IsNull(p));
  else
    ASSERT(cJSON_IsString(p) && strcmp(p->valuestring, param) == 0);
  cJSON_Delete(o);
}

int64_t hd_now_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int hd_connect(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ASSERT_GE(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

void hd_send_all(int fd, const char *p, size_t n) {
  ssize_t w;

  while (n > 0) {
    w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    ASSERT_GT(w, 0);
    p += w;
    n -= (size_t)w;
  }
}

void hd_post(int fd, const char *path, const char *body) {
  char head[512];

  snprintf(head, sizeof(head),
           "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
           "application/json\r\nConnection: close\r\nContent-Length: "
           "%zu\r\n\r\n",
           path, strlen(body));
  ASSERT_LT(strlen(head) + strlen(body), 4096);
  {
    char all[4096];

    snprintf(all, sizeof(all), "%s%s", head, body);
    hd_send_all(fd, all, strlen(all)); /* one write: one read, one arrival */
  }
}

char *hd_read_all(int fd, int64_t **stamps, size_t *len, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  size_t cap = 1 << 16, n = 0, i;
  char *buf = malloc(cap);
  int64_t *ts = malloc(cap * sizeof(*ts)), t;
  struct pollfd p;
  ssize_t r;

  ASSERT(buf != NULL && ts != NULL);
  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    ASSERT_GT(poll(&p, 1, tc_left_ms(deadline)), 0);
    if (n + 4096 > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      ts = realloc(ts, cap * sizeof(*ts));
      ASSERT(buf != NULL && ts != NULL);
    }
    r = recv(fd, buf + n, cap - n - 1, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    t = hd_now_us();
    for (i = 0; i < (size_t)r; i++)
      ts[n + i] = t;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *stamps = ts;
  *len = n;
  return buf;
}

/* ---- responses on a kept-alive connection ------------------------------- */

typedef struct {
  hd_resp_t *r;   /* the responses expected */
  size_t n, done; /* expected, read whole */
  char field[32]; /* the header field being read (in pieces) */
  size_t flen;
  int in_value; /* the last header callback was a value's */
} reader_t;

#define READER_OF(p) ((reader_t *)(p)->data)

static int r_field(http_parser *p, const char *at, size_t n) {
  reader_t *rd = READER_OF(p);

  if (rd->in_value)
    rd->flen = 0;
  rd->in_value = 0;
  for (; n > 0; n--, at++)
    if (rd->flen + 1 < sizeof(rd->field))
      rd->field[rd->flen++] = *at;
  rd->field[rd->flen] = '\0';
  return 0;
}

static int r_value(http_parser *p, const char *at, size_t n) {
  reader_t *rd = READER_OF(p);
  char *ra;
  size_t k;

  rd->in_value = 1;
  if (strcasecmp(rd->field, "retry-after") != 0 || rd->done >= rd->n)
    return 0;
  ra = rd->r[rd->done].retry_after;
  k = strlen(ra);
  for (; n > 0 && k + 1 < sizeof(rd->r[0].retry_after); n--, at++)
    ra[k++] = *at;
  ra[k] = '\0';
  return 0;
}

static int r_headers(http_parser *p) {
  reader_t *rd = READER_OF(p);
  hd_resp_t *r;

  rd->flen = 0;
  rd->in_value = 0;
  if (p->status_code == 100)
    return 0;
  ASSERT_LT(rd->done, rd->n);
  r = &rd->r[rd->done];
  r->status = p->status_code;
  r->keep = http_should_keep_alive(p);
  r->chunked = (p->flags & F_CHUNKED) != 0;
  r->content_length =
      (p->flags & F_CONTENTLENGTH) ? (long)p->content_length : -1;
  return r->head ? 1 : 0; /* a HEAD response has no body */
}

static int r_body(http_parser *p, const char *at, size_t n) {
  reader_t *rd = READER_OF(p);
  hd_resp_t *r = &rd->r[rd->done];

  r->body = realloc(r->body, r->len + n + 1);
  ASSERT(r->body != NULL);
  memcpy(r->body + r->len, at, n);
  r->len += n;
  r->body[r->len] = '\0';
  return 0;
}

static int r_complete(http_parser *p) {
  reader_t *rd = READER_OF(p);

  if (p->status_code == 100)
    return 0;
  if (rd->r[rd->done].body == NULL) {
    rd->r[rd->done].body = calloc(1, 1);
    ASSERT(rd->r[rd->done].body != NULL);
  }
  rd->done++;
  return 0;
}

static const http_parser_settings rsettings = {
    .on_header_field = r_field,
    .on_header_value = r_value,
    .on_headers_complete = r_headers,
    .on_body = r_body,
    .on_message_complete = r_complete,
};

size_t hd_read_responses(int fd, hd_resp_t *r, size_t n, const int *head,
                         int timeout_ms, int *closed) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  http_parser p;
  reader_t rd;
  char buf[1];
  struct pollfd pf;
  size_t k, done;
  ssize_t got;

  memset(r, 0, n * sizeof(*r));
  for (k = 0; k < n && head != NULL; k++)
    r[k].head = head[k];
  memset(&rd, 0, sizeof(rd));
  rd.r = r;
  rd.n = n;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &rd;
  *closed = 0;
  /* One byte at a time: nothing past the n-th response is taken from the
   * socket, so that the caller can go on reading it. */
  while (rd.done < n) {
    pf.fd = fd;
    pf.events = POLLIN;
    ASSERT_GT(poll(&pf, 1, tc_left_ms(deadline)), 0);
    got = recv(fd, buf, 1, 0);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      http_parser_execute(&p, &rsettings, NULL, 0); /* a body ended by EOF */
      *closed = 1;
      break;
    }
    done = http_parser_execute(&p, &rsettings, buf, 1);
    ASSERT_EQ(HTTP_PARSER_ERRNO(&p), HPE_OK);
    ASSERT_EQ(done, 1);
  }
  return rd.done;
}

void hd_resp_free(hd_resp_t *r, size_t n) {
  size_t k;

  for (k = 0; k < n; k++) {
    free(r[k].body);
    r[k].body = NULL;
  }
}

void hd_expect_eof(int fd, int timeout_ms) {
  int64_t deadline = tc_now_ms() + timeout_ms;
  struct pollfd pf;
  char buf[256];
  ssize_t got;

  for (;;) {
    pf.fd = fd;
    pf.events = POLLIN;
    ASSERT_GT(poll(&pf, 1, tc_left_ms(deadline)), 0);
    got = recv(fd, buf, sizeof(buf), 0);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0 && errno == ECONNRESET)
      return;
    ASSERT_EQ(got, 0); /* nothing more may come before the close */
    return;
  }
}
