/* DESIGN
 *
 * A client's StatsRequest, answered for the whole router: each up replica
 * is asked on its connection, and the client gets one StatsReply once all
 * have answered, or once --stats-timeout has passed, with what came. A
 * replica that is down, or goes down meanwhile, is shown without its own
 * reply.
 *
 * Requests are answered in rounds, so that what the router asks of the
 * replicas does not grow with what clients ask of it: at most one round
 * is in flight, one StatsRequest to each up replica. A client's request
 * joins the next round: the one it starts if none is in flight, else the
 * one that starts when the current round ends (a request therefore waits
 * at most two timeouts). Each client keeps two counts, the replies it is
 * owed by the round in flight and by the next one, and sits in one list
 * while either is non-zero; a round's reply is built once and sent to
 * each waiting client as many times as it asked. A client that asks
 * without reading is disconnected by its output bound, as on mlfqd; a
 * replica never sees more than one round's request from the router.
 *
 * A replica answers its StatsRequests in order. Its health probes are
 * StatsRequests too (replica.c); their answers are taken out before they
 * reach stats_reply, which sees the rounds' answers alone, in order. When
 * a round expires, a replica that has not answered owes a reply to nobody
 * (stats_owed), and drops it when it comes, so its next reply belongs to
 * the next round. A stopped replica is answered for at the timeout, until
 * its probe's deadline takes it out of rotation.
 *
 * The reply sums the replicas' counters (queue lengths elementwise),
 * lists every replica's engines in worker_busy, takes the worst replica's
 * lateness figures, and adds the router's own view: its uptime, client
 * connections, draining, its rejections, the configuration clients are
 * told, and one ReplicaStats per replica.
 *
 * Each replica's own StatsReply carries its configuration, every profile
 * row included, so the reply holds replicas + 1 of them. A reply must fit
 * half of a client's output bound, as mlfqd's do (server_replies_check):
 * when it would not, the replicas' replies go without their configurations
 * (the one at the top, which each replica's Welcome was checked to fit,
 * stays), and the log says so when that starts and ends.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "router.h"
#include "wire/frame.h"

typedef struct stats_job_s stats_job_t;

typedef struct {
  stats_job_t *job;
  Mlfq__ServerMessage *reply; /* the replica's StatsReply, or NULL */
  mlfq_link_t link;           /* in its replica's stats while waiting */
} slot_t;

/* A round: one StatsRequest to each up replica. */
struct stats_job_s {
  router_t *rt;
  size_t waiting; /* slots still waiting */
  slot_t slots[]; /* one per replica */
};

#define CLIENT_OF_STATS(l) MLFQ_CONTAINER_OF(l, client_t, stats_link)

static void start_round(router_t *rt);

/* Whether m, framed, fits half of a client's output bound. */
static int fits(const router_t *rt, const Mlfq__ServerMessage *m) {
  return MLFQ_FRAME_HEADER + protobuf_c_message_get_packed_size(&m->base) <=
         rt->opt.srv.max_queued_bytes / 2;
}

/* What one reply points to, freed together. */
typedef struct {
  Mlfq__ReplicaStats *rs;   /* one per replica */
  Mlfq__ReplicaStats **rsp; /* to rs[i] */
  uint64_t *levels;         /* the summed queue lengths */
  double *busy;             /* every replica's engines */
  Mlfq__StatsReply *bare;   /* the replicas' replies without configuration */
} reply_bufs_t;

static void bufs_free(reply_bufs_t *b) {
  free(b->bare);
  free(b->rs);
  free(b->rsp);
  free(b->levels);
  free(b->busy);
}

/* Allocates b for what round j gathered; *nl is the most queue levels of
 * a reply. Returns 0 or MLFQ_ENOMEM (nothing allocated). */
static int bufs_alloc(reply_bufs_t *b, const stats_job_t *j, size_t *nl) {
  const router_t *rt = j->rt;
  const Mlfq__StatsReply *x;
  size_t i, nb = 0;

  memset(b, 0, sizeof(*b));
  *nl = 0;
  for (i = 0; i < rt->nreplicas; i++) {
    if (j->slots[i].reply == NULL)
      continue;
    x = j->slots[i].reply->stats;
    *nl = x->n_level_lengths > *nl ? x->n_level_lengths : *nl;
    nb += x->n_worker_busy;
  }
  b->rs = calloc(rt->nreplicas, sizeof(*b->rs));
  b->rsp = calloc(rt->nreplicas, sizeof(*b->rsp));
  b->levels = calloc(*nl + 1, sizeof(*b->levels));
  b->busy = calloc(nb + 1, sizeof(*b->busy));
  if (b->rs == NULL || b->rsp == NULL || b->levels == NULL || b->busy == NULL) {
    bufs_free(b);
    return MLFQ_ENOMEM;
  }
  return 0;
}

#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))

/* Adds replica reply x to s: its counters, its queue lengths to levels,
 * its engines to busy[*nb..), and its lateness where it is the worst. */
static void add_replica(Mlfq__StatsReply *s, const Mlfq__StatsReply *x,
                        uint64_t *levels, double *busy, size_t *nb) {
  size_t k;

  for (k = 0; k < x->n_level_lengths; k++)
    levels[k] += x->level_lengths[k];
  for (k = 0; k < x->n_worker_busy; k++)
    busy[(*nb)++] = x->worker_busy[k];
  s->running += x->running;
  s->waiting += x->waiting;
  s->submitted += x->submitted;
  s->completed += x->completed;
  s->cancelled += x->cancelled;
  s->rejected += x->rejected;
  s->tokens += x->tokens;
  s->iterations += x->iterations;
  s->demotions += x->demotions;
  s->promotions += x->promotions;
  s->preemptions += x->preemptions;
  s->swapped_tokens += x->swapped_tokens;
  s->kv_used_tokens += x->kv_used_tokens;
  /* the highest replica's, as mlfqsim --replicas reports it: each replica
   * has its own cache of the capacity clients are told */
  s->kv_peak_tokens = MAX_OF(x->kv_peak_tokens, s->kv_peak_tokens);
  s->lateness_p50_us = MAX_OF(x->lateness_p50_us, s->lateness_p50_us);
  s->lateness_p99_us = MAX_OF(x->lateness_p99_us, s->lateness_p99_us);
  s->lateness_max_us = MAX_OF(x->lateness_max_us, s->lateness_max_us);
}

/* Replica i's row of the reply, with its own reply of round j if any. */
static void replica_row(const stats_job_t *j, size_t i,
                        Mlfq__ReplicaStats *rs) {
  const router_t *rt = j->rt;
  const replica_t *r = &rt->replicas[i];

  mlfq__replica_stats__init(rs);
  rs->address = (char *)r->addr;
  rs->up = r->state == REPLICA_UP;
  rs->outstanding_requests = rt->bal.replicas[i].requests;
  rs->outstanding_tokens = rt->bal.replicas[i].tokens;
  rs->routed = r->routed;
  rs->lost = r->lost;
  if (j->slots[i].reply != NULL)
    rs->stats = j->slots[i].reply->stats;
}

/* When m does not fit, its replicas' replies go without their
 * configurations (copies in b->bare); the log says so when that starts
 * and when it ends. Returns 0 or MLFQ_ENOMEM. */
static int leave_out_configs(router_t *rt, const Mlfq__ServerMessage *m,
                             reply_bufs_t *b) {
  size_t i;

  if (!fits(rt, m)) {
    b->bare = calloc(rt->nreplicas, sizeof(*b->bare));
    if (b->bare == NULL)
      return MLFQ_ENOMEM;
    for (i = 0; i < rt->nreplicas; i++) {
      if (b->rs[i].stats == NULL)
        continue;
      b->bare[i] = *b->rs[i].stats;
      b->bare[i].config = NULL;
      b->rs[i].stats = &b->bare[i];
    }
  }
  if ((b->bare != NULL) != rt->stats_bare) {
    if (b->bare != NULL)
      mlfq_log(MLFQ_LOG_WARN,
               "stats: a reply with every replica's configuration would be "
               "over half of --max-queued-bytes (%zu): the replicas' "
               "configurations are left out",
               rt->opt.srv.max_queued_bytes);
    else
      mlfq_log(MLFQ_LOG_INFO, "stats: the replicas' configurations fit again");
    rt->stats_bare = b->bare != NULL;
  }
  return 0;
}

/* Sums what round j gathered into one reply and sends it to every client
 * waiting for j, as many times as each asked. Returns 0 or MLFQ_ENOMEM
 * (nothing is sent). */
static int send_replies(stats_job_t *j) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__StatsReply s = MLFQ__STATS_REPLY__INIT;
  router_t *rt = j->rt;
  reply_bufs_t b;
  mlfq_link_t *l;
  client_t *c;
  unsigned n;
  size_t i, nl, nb = 0;
  Mlfq__Config cfg;
  int rc;

  rc = bufs_alloc(&b, j, &nl);
  if (rc)
    return rc;
  for (i = 0; i < rt->nreplicas; i++) {
    b.rsp[i] = &b.rs[i];
    replica_row(j, i, &b.rs[i]);
    if (b.rs[i].stats != NULL)
      add_replica(&s, b.rs[i].stats, b.levels, b.busy, &nb);
  }
  s.n_level_lengths = nl;
  s.level_lengths = b.levels;
  s.n_worker_busy = nb;
  s.worker_busy = b.busy;
  s.rejected += rt->rejected;
  s.uptime_s = (double)(uv_hrtime() - rt->t0) / 1e9;
  s.heap_trims = rt->trim.trims;
  s.connections = rt->nclients;
  s.draining = rt->draining != 0;
  s.config = (Mlfq__Config *)router_config(rt, &cfg);
  s.n_replicas = rt->nreplicas;
  s.replicas = b.rsp;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_STATS;
  m.stats = &s;
  rc = leave_out_configs(rt, &m, &b);
  for (l = rt->stats_clients.next; rc == 0 && l != &rt->stats_clients;
       l = l->next) {
    c = CLIENT_OF_STATS(l);
    for (n = 0; n < c->stats_now && !c->s.closing; n++)
      client_send(c, &m);
  }
  bufs_free(&b);
  return rc;
}

/* Every client that waits for the round in flight (or, with all, for any
 * round) is told the router ran out of memory and disconnected. */
static void fail_waiting(router_t *rt) {
  client_t *c;

  while (!mlfq_list_empty(&rt->stats_clients)) {
    c = CLIENT_OF_STATS(rt->stats_clients.next);
    mlfq_list_remove(&c->stats_link);
    c->stats_now = c->stats_next = 0;
    mlfq_log(MLFQ_LOG_ERROR, "conn %llu %s: stats: out of memory",
             (unsigned long long)c->s.id, c->s.peer);
    mlfq_session_error(&c->s, 0, MLFQ__ERROR_CODE__INTERNAL, "out of memory");
    client_linger(c);
  }
}

/* Round j has every reply it will get: answers its clients, frees j, and
 * starts the next round if a client waits for one. */
static void finish(stats_job_t *j) {
  router_t *rt = j->rt;
  mlfq_link_t *l, *next;
  client_t *c;
  size_t i;

  rt->stats_round = NULL;
  uv_timer_stop(&rt->stats_timer);
  if (send_replies(j) != 0) {
    fail_waiting(rt);
  } else {
    for (l = rt->stats_clients.next; l != &rt->stats_clients; l = next) {
      next = l->next;
      c = CLIENT_OF_STATS(l);
      c->stats_now = 0;
      if (c->stats_next == 0)
        mlfq_list_remove(&c->stats_link);
    }
  }
  for (i = 0; i < rt->nreplicas; i++)
    if (j->slots[i].reply != NULL)
      mlfq__server_message__free_unpacked(j->slots[i].reply, NULL);
  free(j);
  if (!mlfq_list_empty(&rt->stats_clients) && !rt->stopping)
    start_round(rt);
}

/* Slot sl of j stops waiting (its reply came, or will not); j finishes
 * when none waits. */
static void slot_done(stats_job_t *j, slot_t *sl) {
  mlfq_list_remove(&sl->link);
  j->waiting--;
  if (j->waiting == 0)
    finish(j);
}

/* Ends the round in flight with what came: each replica still owing it a
 * reply drops that reply when it comes. */
static void expire(stats_job_t *j) {
  size_t i;

  for (i = 0; i < j->rt->nreplicas; i++) {
    if (!mlfq_list_linked(&j->slots[i].link))
      continue;
    mlfq_list_remove(&j->slots[i].link);
    j->rt->replicas[i].stats_owed++;
  }
  j->waiting = 0;
  finish(j);
}

/* The stats timer fired: the round in flight ends with what came. */
static void stats_on_timer(uv_timer_t *t) {
  router_t *rt = MLFQ_CONTAINER_OF(t, router_t, stats_timer);

  if (rt->stats_round != NULL)
    expire(rt->stats_round);
  router_settle(rt);
}

/* Starts a round for every client waiting for the next one. */
static void start_round(router_t *rt) {
  mlfq_link_t *l;
  stats_job_t *j;
  client_t *c;
  replica_t *r;
  size_t i;
  int rc;

  for (l = rt->stats_clients.next; l != &rt->stats_clients; l = l->next) {
    c = CLIENT_OF_STATS(l);
    c->stats_now = c->stats_next;
    c->stats_next = 0;
  }
  j = calloc(1, sizeof(*j) + rt->nreplicas * sizeof(slot_t));
  if (j == NULL) {
    fail_waiting(rt);
    return;
  }
  j->rt = rt;
  for (i = 0; i < rt->nreplicas; i++) {
    r = &rt->replicas[i];
    j->slots[i].job = j;
    mlfq_list_init(&j->slots[i].link);
    if (r->state != REPLICA_UP || replica_ask_stats(r) != 0)
      continue;
    mlfq_list_push_tail(&r->stats, &j->slots[i].link);
    j->waiting++;
  }
  rt->stats_round = j;
  if (j->waiting == 0) {
    finish(j);
    return;
  }
  rc = uv_timer_start(&rt->stats_timer, stats_on_timer,
                      rt->opt.stats_timeout_ms, 0);
  if (rc) {
    mlfq_log(MLFQ_LOG_ERROR, "stats timer: %s", uv_strerror(rc));
    expire(j);
  }
}

void stats_request(router_t *rt, client_t *c) {
  if (c->stats_now == 0 && c->stats_next == 0)
    mlfq_list_push_tail(&rt->stats_clients, &c->stats_link);
  c->stats_next++;
  if (rt->stats_round == NULL)
    start_round(rt);
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
  slot_done(sl->job, sl); /* may finish the round, and free m with it */
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
  (void)rt;
  if (c->stats_now == 0 && c->stats_next == 0)
    return;
  mlfq_list_remove(&c->stats_link);
  c->stats_now = c->stats_next = 0;
}

void stats_flush_all(router_t *rt) {
  mlfq_link_t *l;
  client_t *c;

  /* The router stops: what the next round would have answered, this one
   * answers. */
  for (l = rt->stats_clients.next; l != &rt->stats_clients; l = l->next) {
    c = CLIENT_OF_STATS(l);
    c->stats_now += c->stats_next;
    c->stats_next = 0;
  }
  if (rt->stats_round != NULL)
    expire(rt->stats_round);
  uv_timer_stop(&rt->stats_timer);
}
