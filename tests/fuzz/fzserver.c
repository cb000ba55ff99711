#include <stdio.h>
#include <string.h>

#include "core/cost.h"
#include "fzserver.h"
#include "harness.h"
#include "http.h"

void fz_server_start(server_t *sv, uv_loop_t *loop, int variant, int *port) {
  server_opts_t o;
  char err[512], bound[300];
  const char *colon;

  memset(&o, 0, sizeof(o));
  mlfq_sched_config_init(&o.sched);
  if (variant == 1) {
    o.sched.workers = 2;
    o.sched.max_batch = 4;
    o.sched.preempt = MLFQ_PREEMPT_QUANTUM;
    o.sched.kv_capacity_tokens = 512;
    o.sched.on_full = MLFQ_ON_FULL_RECOMPUTE;
    o.sched.starve_limit_ms = 1;
  }
  /* Microseconds of model time per token, a thousandth of that on the
   * wall: a request of the largest size takes well under a millisecond. */
  if (mlfq_cost_linear(&o.cost, 0.01, 0.0001, 0.005) != 0)
    fz_die("cost model");
  o.lim.time_scale = 0.001;
  o.lim.max_pending = 64;
  o.lim.max_pending_per_conn = 64;
  o.lim.max_input_length = 4096;
  o.lim.max_output_length = 32;
  o.lim.max_frame_bytes = 4096;
  o.max_connections = 8;
  o.max_queued_bytes = 1 << 20;
  o.drain_timeout_s = 1;
  o.model_name = "mlfqd";
  o.http_max_tokens = 4;
  o.http_max_body_bytes = 8192;
  o.http_read_timeout_s = 30;
  o.late_fraction = 0.1;
  o.http_idle_timeout_s = 30;
  o.http_max_requests = 8; /* a long pipeline meets the cap */
  o.hello_timeout_s = 30;
  if (server_init(sv, loop, &o, err, sizeof(err)) != 0 ||
      server_listen(sv, "127.0.0.1", 0, bound, sizeof(bound), err,
                    sizeof(err)) != 0)
    fz_die("server: %s", err);
  colon = strrchr(bound, ':');
  if (colon == NULL || sscanf(colon + 1, "%d", port) != 1)
    fz_die("server: bound address '%s'", bound);
}

void fz_server_http(server_t *sv, int *port) {
  char err[512], bound[300];
  const char *colon;
  int rc;

  rc = http_listen(sv, "127.0.0.1", 0, bound, sizeof(bound), err, sizeof(err));
  if (rc != 0)
    fz_die("http: %s", err);
  colon = strrchr(bound, ':');
  if (colon == NULL || sscanf(colon + 1, "%d", port) != 1)
    fz_die("http: bound address '%s'", bound);
}

int fz_server_idle(const server_t *sv) {
  const mlfq_link_t *l;
  const conn_t *c;
  unsigned e, workers = mlfq_sched_params(sv->sched)->workers;

  if (sv->inflight != 0 || !mlfq_list_empty(&sv->pending) ||
      !mlfq_list_empty(&sv->dirty) || !mlfq_list_empty(&sv->streams.dirty) ||
      (sv->http != NULL && !mlfq_list_empty(&sv->http->ready)))
    return 0;
  for (e = 0; e < workers; e++)
    if (mlfq_point_end(&sv->pt, e) != MLFQ_POINT_NONE)
      return 0;
  for (l = sv->conns.next; l != &sv->conns; l = l->next) {
    c = MLFQ_CONTAINER_OF(l, conn_t, link);
    if (c->s.stream.queued != 0 || c->s.stream.out.len != 0)
      return 0;
  }
  return 1;
}
