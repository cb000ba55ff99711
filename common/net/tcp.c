/* TCP plumbing shared by the servers and loadgen (tcp.h). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "net/tcp.h"

int mlfq_tcp_listen(uv_loop_t *loop, uv_tcp_t *listener, int *open,
                    const char *host, int port, uv_connection_cb on_connection,
                    char *bound, size_t boundlen, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int rc, len = sizeof(ss);

  rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc)
    rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
  if (rc)
    return mlfq_fail(err, errlen, rc, "--listen: '%s' is not an IP address",
                     host);
  rc = uv_tcp_init(loop, listener);
  if (rc)
    return mlfq_fail(err, errlen, rc, "listen: %s", uv_strerror(rc));
  *open = 1;
  rc = uv_tcp_bind(listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(listener, (struct sockaddr *)&ss, &len);
  if (rc)
    return mlfq_fail(err, errlen, rc, "cannot listen on %s:%d: %s", host, port,
                     uv_strerror(rc));
  mlfq_tcp_addr_name((struct sockaddr *)&ss, bound, boundlen);
  return 0;
}

void mlfq_tcp_addr_name(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[64];

  if (sa->sa_family == AF_INET6) {
    if (uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip)) != 0)
      snprintf(ip, sizeof(ip), "?");
    snprintf(buf, len, "[%s]:%d", ip,
             ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
  } else {
    if (uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip)) != 0)
      snprintf(ip, sizeof(ip), "?");
    snprintf(buf, len, "%s:%d", ip,
             ntohs(((const struct sockaddr_in *)sa)->sin_port));
  }
}

int mlfq_tcp_resolve(const char *host, int port, struct sockaddr_storage *ss,
                     char *err, size_t errlen) {
  struct addrinfo hints, *ai = NULL;
  char portstr[16];
  int rc;

  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(portstr, sizeof(portstr), "%d", port);
  rc = getaddrinfo(host, portstr, &hints, &ai);
  if (rc != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "%s: %s", host,
                     gai_strerror(rc));
  memset(ss, 0, sizeof(*ss));
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  return 0;
}

int mlfq_tcp_write_buf(uv_stream_t *stream, mlfq_buf_t *out, void *owner,
                       uv_write_cb cb, size_t *queued) {
  mlfq_tcp_write_t *w;
  uv_buf_t b;
  int rc;

  if (out->len == 0)
    return 0;
  w = malloc(sizeof(*w) + out->len);
  if (w == NULL)
    return UV_ENOMEM;
  w->owner = owner;
  w->len = out->len;
  memcpy(w->data, out->data, out->len);
  mlfq_buf_consume(out, out->len);
  b = uv_buf_init((char *)w->data, (unsigned)w->len);
  rc = uv_write(&w->req, stream, &b, 1, cb);
  if (rc) { /* its callback will not run */
    free(w);
    return rc;
  }
  *queued += w->len;
  return 0;
}
