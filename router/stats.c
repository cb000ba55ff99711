/* DESIGN
 *
 * A client's StatsRequest, answered for the whole router: each up replica
 * is asked on its connection, and the client gets one StatsReply once all
 * have answered, or once --stats-timeout has passed, with what came. A
 * replica that is down, or goes down meanwhile, is shown without its own
 * reply.
 *
 * A replica answers its StatsRequests in order, so each replica keeps the
 * requests waiting for it in a FIFO of slots and its next StatsReply
 * belongs to the oldest slot. Every request has the same timeout and they
 * are kept oldest first, so the one that expires is always the oldest
 * everywhere: its slots are the heads of their FIFOs, and each replica
 * only has to remember how many replies it still owes to requests that
 * gave up (stats_owed), to drop them when they come. One timer serves all
 * requests: it is armed for the oldest one's deadline.
 *
 * The reply sums the replicas' counters (queue lengths elementwise),
 * lists every replica's engines in worker_busy, takes the worst replica's
 * lateness figures, and adds the router's own view: its uptime, client
 * connections, draining, its rejections, the configuration clients are
 * told, and one ReplicaStats per replica.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "router.h"

typedef struct stats_job_s stats_job_t;

typedef struct {
  stats_job_t *job;
  Mlfq__ServerMessage *reply; /* the replica's StatsReply, or NULL */
  mlfq_link_t link;           /* in its replica's stats while waiting */
} slot_t;

struct stats_job_s {
  router_t *rt;
  client_t *client; /* NULL once it has gone */
  uint64_t deadline_ms;
  size_t waiting;   /* slots still waiting */
  mlfq_link_t link; /* in rt->stats_jobs */
  slot_t slots[];   /* one per replica */
};

#define JOB_OF(l) MLFQ_CONTAINER_OF(l, stats_job_t, link)

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

/* Sums what came into one reply to the client and sends it. Returns 0 or
 * MLFQ_ENOMEM. */
static int send_reply(stats_job_t *j) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__StatsReply s = MLFQ__STATS_REPLY__INIT;
  router_t *rt = j->rt;
  Mlfq__ReplicaStats *rs, **rsp;
  const Mlfq__StatsReply *x;
  uint64_t *levels;
  double *busy;
  size_t i, k, nl = 0, nb = 0;
  Mlfq__Config cfg;

  for (i = 0; i < rt->nreplicas; i++) {
    if (j->slots[i].reply == NULL)
      continue;
    x = j->slots[i].reply->stats;
    nl = x->n_level_lengths > nl ? x->n_level_lengths : nl;
    nb += x->n_worker_busy;
  }
  rs = calloc(rt->nreplicas, sizeof(*rs));
  rsp = calloc(rt->nreplicas, sizeof(*rsp));
  levels = calloc(nl + 1, sizeof(*levels));
  busy = calloc(nb + 1, sizeof(*busy));
  if (rs == NULL || rsp == NULL || levels == NULL || busy == NULL) {
    free(rs);
    free(rsp);
    free(levels);
    free(busy);
    return MLFQ_ENOMEM;
  }
  nb = 0;
  for (i = 0; i < rt->nreplicas; i++) {
    const replica_t *r = &rt->replicas[i];

    mlfq__replica_stats__init(&rs[i]);
    rsp[i] = &rs[i];
    rs[i].address = (char *)r->addr;
    rs[i].up = r->state == REPLICA_UP;
    rs[i].outstanding_requests = rt->bal.replicas[i].requests;
    rs[i].outstanding_tokens = rt->bal.replicas[i].tokens;
    rs[i].routed = r->routed;
    rs[i].lost = r->lost;
    if (j->slots[i].reply == NULL)
      continue;
    x = j->slots[i].reply->stats;
    rs[i].stats = (Mlfq__StatsReply *)x;
    for (k = 0; k < x->n_level_lengths; k++)
      levels[k] += x->level_lengths[k];
    for (k = 0; k < x->n_worker_busy; k++)
      busy[nb++] = x->worker_busy[k];
    s.running += x->running;
    s.waiting += x->waiting;
    s.submitted += x->submitted;
    s.completed += x->completed;
    s.cancelled += x->cancelled;
    s.rejected += x->rejected;
    s.tokens += x->tokens;
    s.iterations += x->iterations;
    s.demotions += x->demotions;
    s.promotions += x->promotions;
    s.preemptions += x->preemptions;
    s.swapped_tokens += x->swapped_tokens;
    s.kv_used_tokens += x->kv_used_tokens;
    s.kv_peak_tokens += x->kv_peak_tokens;
    s.lateness_p50_us = x->lateness_p50_us > s.lateness_p50_us
                            ? x->lateness_p50_us
                            : s.lateness_p50_us;
    s.lateness_p99_us = x->lateness_p99_us > s.lateness_p99_us
                            ? x->lateness_p99_us
                            : s.lateness_p99_us;
    s.lateness_max_us = x->lateness_max_us > s.lateness_max_us
                            ? x->lateness_max_us
                            : s.lateness_max_us;
  }
  s.n_level_lengths = nl;
  s.level_lengths = levels;
  s.n_worker_busy = nb;
  s.worker_busy = busy;
  s.rejected += rt->rejected;
  s.uptime_s = (double)(uv_hrtime() - rt->t0) / 1e9;
  s.connections = rt->nclients;
  s.draining = rt->draining != 0;
  s.config = (Mlfq__Config *)router_config(rt, &cfg);
  s.n_replicas = rt->nreplicas;
  s.replicas = rsp;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  client_send(j->client, &m);
  free(rs);
  free(rsp);
  free(levels);
  free(busy);
  return 0;
}

/* Answers j's client (if it is still there) and frees j; j is in no
 * list and none of its slots waits. */
static void answer(stats_job_t *j) {
  client_t *c = j->client;
  size_t i;

  if (c != NULL && !c->closing && send_reply(j) != 0) {
    mlfq_log(MLFQ_LOG_ERROR, "conn %llu %s: stats: out of memory",
             (unsigned long long)c->id, c->peer);
    client_error(c, 0, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    client_linger(c);
  }
  for (i = 0; i < j->rt->nreplicas; i++)
    if (j->slots[i].reply != NULL)
      mlfq__server_message__free_unpacked(j->slots[i].reply, NULL);
  free(j);
}

/* Slot sl of j stops waiting (its reply came, or will not); j is answered
 * when none waits. */
static void slot_done(stats_job_t *j, slot_t *sl) {
  mlfq_list_remove(&sl->link);
  j->waiting--;
  if (j->waiting == 0 && mlfq_list_linked(&j->link)) {
    mlfq_list_remove(&j->link);
    answer(j);
  }
}

static void arm(router_t *rt) {
  uint64_t now = now_ms(), due;
  int rc;

  if (mlfq_list_empty(&rt->stats_jobs) || rt->stopping)
    return;
  due = JOB_OF(rt->stats_jobs.next)->deadline_ms;
  rc = uv_timer_start(&rt->stats_timer, stats_on_timer,
                      due > now ? due - now : 0, 0);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "stats timer: %s", uv_strerror(rc));
    stats_flush_all(rt);
  }
}

/* Expires j: each replica still owing it a reply drops that reply when
 * it comes. */
static void expire(stats_job_t *j) {
  size_t i;

  mlfq_list_remove(&j->link);
  for (i = 0; i < j->rt->nreplicas; i++) {
    if (!mlfq_list_linked(&j->slots[i].link))
      continue;
    mlfq_list_remove(&j->slots[i].link);
    j->rt->replicas[i].stats_owed++;
  }
  j->waiting = 0;
  answer(j);
}

void stats_on_timer(uv_timer_t *t) {
  router_t *rt = MLFQ_CONTAINER_OF(t, router_t, stats_timer);
  uint64_t now = now_ms();
  stats_job_t *j;

  while (!mlfq_list_empty(&rt->stats_jobs)) {
    j = JOB_OF(rt->stats_jobs.next);
    if (j->deadline_ms > now)
      break;
    expire(j);
  }
  arm(rt);
  router_settle(rt);
}

void stats_request(router_t *rt, client_t *c) {
  Mlfq__ClientMessage m = MLFQ__CLIENT_MESSAGE__INIT;
  Mlfq__StatsRequest req = MLFQ__STATS_REQUEST__INIT;
  stats_job_t *j;
  replica_t *r;
  size_t i;

  j = calloc(1, sizeof(*j) + rt->nreplicas * sizeof(slot_t));
  if (j == NULL) {
    mlfq_log(MLFQ_LOG_ERROR, "conn %llu %s: stats: out of memory",
             (unsigned long long)c->id, c->peer);
    client_error(c, 0, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    client_linger(c);
    return;
  }
  j->rt = rt;
  j->client = c;
  j->deadline_ms = now_ms() + rt->opt.stats_timeout_ms;
  mlfq_list_init(&j->link);
  m.msg_case = MLFQ__CLIENT_MESSAGE__MSG_STATS;
  m.stats = &req;
  for (i = 0; i < rt->nreplicas; i++) {
    r = &rt->replicas[i];
    j->slots[i].job = j;
    mlfq_list_init(&j->slots[i].link);
    if (r->state != REPLICA_UP || stream_put_client(&r->s, &m) != 0)
      continue;
    mlfq_list_push_tail(&r->stats, &j->slots[i].link);
    j->waiting++;
  }
  if (j->waiting == 0) {
    answer(j);
    return;
  }
  mlfq_list_push_tail(&rt->stats_jobs, &j->link);
  if (!uv_is_active((uv_handle_t *)&rt->stats_timer))
    arm(rt);
}

int stats_reply(replica_t *r, Mlfq__ServerMessage *m) {
  slot_t *sl;
  int kept;

  if (r->stats_owed > 0) {
    r->stats_owed--;
    return 0;
  }
  if (mlfq_list_empty(&r->stats))
    return 0;
  sl = MLFQ_CONTAINER_OF(r->stats.next, slot_t, link);
  kept = m->stats != NULL;
  sl->reply = kept ? m : NULL;
  slot_done(sl->job, sl); /* may answer and free the job, and m with it */
  return kept;
}

void stats_replica_lost(replica_t *r) {
  slot_t *sl;

  r->stats_owed = 0;
  while (!mlfq_list_empty(&r->stats)) {
    sl = MLFQ_CONTAINER_OF(r->stats.next, slot_t, link);
    slot_done(sl->job, sl);
  }
}

void stats_client_gone(router_t *rt, client_t *c) {
  mlfq_link_t *l;

  for (l = rt->stats_jobs.next; l != &rt->stats_jobs; l = l->next)
    if (JOB_OF(l)->client == c)
      JOB_OF(l)->client = NULL;
}

void stats_flush_all(router_t *rt) {
  while (!mlfq_list_empty(&rt->stats_jobs))
    expire(JOB_OF(rt->stats_jobs.next));
  uv_timer_stop(&rt->stats_timer);
}
