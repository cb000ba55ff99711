#include <stdio.h>
#include <string.h>

#include "fzrouter.h"
#include "harness.h"

void fz_router_start(router_t *rt, uv_loop_t *loop, int replica_port,
                     int *port) {
  const char *addrs[1];
  char addr[64], err[512], bound[300];
  const char *colon;
  router_opts_t o;

  memset(&o, 0, sizeof(o));
  if (mlfq_balance_parse("least-tokens", &o.policy) != 0)
    fz_die("balance policy");
  o.seed = 1;
  o.stats_timeout_ms = 2;
  /* no health probe: the harnesses' replicas answer only what they are
   * fed */
  o.probe_interval_ms = 86400000;
  o.probe_timeout_ms = 86400000;
  o.replica_queued_bytes = 1 << 20;
  mlfq_daemon_opts_init(&o.srv, "127.0.0.1:0");
  o.srv.max_pending = 64;
  o.srv.max_pending_per_conn = 64;
  o.srv.max_connections = 8;
  o.srv.max_frame_bytes = 4096;
  o.srv.max_input_length = 4096;
  o.srv.max_output_length = 32;
  o.srv.max_queued_bytes = 1 << 20;
  o.srv.drain_timeout = 1;
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", replica_port);
  addrs[0] = addr;
  if (router_init(rt, loop, &o, addrs, 1, err, sizeof(err)) != 0 ||
      router_listen(rt, "127.0.0.1", 0, bound, sizeof(bound), err,
                    sizeof(err)) != 0)
    fz_die("router: %s", err);
  colon = strrchr(bound, ':');
  if (colon == NULL || sscanf(colon + 1, "%d", port) != 1)
    fz_die("router: bound address '%s'", bound);
}

client_t *fz_router_client(router_t *rt) {
  if (mlfq_list_empty(&rt->clients))
    return NULL;
  return MLFQ_CONTAINER_OF(rt->clients.next, client_t, link);
}

size_t fz_stream_unread(mlfq_stream_t *s) {
  uv_os_fd_t fd;

  if (uv_fileno((uv_handle_t *)&s->tcp, &fd) != 0)
    return 0;
  return fz_unread(fd);
}
