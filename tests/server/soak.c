/* The soak's driver (soak.h): warm-up, the measured round, the checks. */
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "wire/wire.h"

#include "server/soak.h"

/* Waits until the server at target is idle with only st connected, and
 * has then given its freed heap back to the system (common/net/trim.c): a
 * probe connection opened and closed after the idle reply is activity
 * the server's next idle tick must trim after. Returns the idle reply. */
static Mlfq__ServerMessage *wait_trimmed(tc_client_t *st,
                                         const mlfq_test_daemon_t *target) {
  Mlfq__ServerMessage *idle = tc_wait_idle(st, 1, IDLE_MS), *m;
  int64_t deadline = tc_now_ms() + IDLE_MS;
  uint64_t k = idle->stats->heap_trims;

  tc_close(tc_open(target, 1));
  for (;;) {
    m = tc_stats(st);
    if (m->stats->heap_trims > k && m->stats->connections == 1) {
      mlfq__server_message__free_unpacked(m, NULL);
      return idle;
    }
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("no heap trim within %d ms of going idle (%llu)", IDLE_MS,
                     (unsigned long long)m->stats->heap_trims);
    mlfq__server_message__free_unpacked(m, NULL);
  }
}

/* The resident set (kB) and the open file descriptors of pid. */
static long rss_kb(int pid) { return mlfq_test_proc_kb(pid, "VmRSS"); }

static int nfds(int pid) {
  char path[64];
  struct dirent *e;
  int n = 0;
  DIR *d;

  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  d = opendir(path);
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

void soak_raise_nofile(void) {
  rlim_t need = 2 * SOAK_CONNS + 1024;
  struct rlimit rl;

  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur >= need)
    return;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
    MLFQ_TEST_FAIL("the soak needs %lu file descriptors; the hard limit is "
                   "%lu (ulimit -Hn)",
                   (unsigned long)need, (unsigned long)rl.rlim_max);
  rl.rlim_cur = need;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static double soak_seconds(void) {
  const char *e = getenv("MLFQ_SOAK_SECONDS");
  double v;

  if (e == NULL || *e == '\0')
    return SANITIZED ? 10 : 20;
  v = atof(e);
  if (!(v > 0 && v <= 86400))
    MLFQ_TEST_FAIL("MLFQ_SOAK_SECONDS='%s': not a number of seconds", e);
  return v;
}

static void print_counts(const char *what, const counts_t *n) {
  printf("soak: %s: sessions %llu (good %llu, invalid %llu, vanish %llu, "
         "slow %llu), peak %u connections\n",
         what,
         (unsigned long long)(n->sessions[0] + n->sessions[1] + n->sessions[2] +
                              n->sessions[3]),
         (unsigned long long)n->sessions[GOOD],
         (unsigned long long)n->sessions[INVALID],
         (unsigned long long)n->sessions[VANISH],
         (unsigned long long)n->sessions[SLOW], n->peak);
  printf("soak: %s: invalid: garbage %llu, oversized %llu, before_hello "
         "%llu, bad_version %llu, bad_requests %llu\n",
         what, (unsigned long long)n->invalid[0],
         (unsigned long long)n->invalid[1], (unsigned long long)n->invalid[2],
         (unsigned long long)n->invalid[3], (unsigned long long)n->invalid[4]);
  printf("soak: %s: tracked requests %llu, accepted %llu, done %llu, "
         "cancelled %llu (+%llu Done before the Cancel), tokens %llu\n",
         what, (unsigned long long)n->submitted,
         (unsigned long long)n->accepted, (unsigned long long)n->done,
         (unsigned long long)n->cancelled, (unsigned long long)n->unknown,
         (unsigned long long)n->tokens);
  printf("soak: %s: slow readers disconnected %llu (reset %llu, end of "
         "stream %llu), vanished with a reset %llu\n",
         what, (unsigned long long)(n->slow_reset + n->slow_eof),
         (unsigned long long)n->slow_reset, (unsigned long long)n->slow_eof,
         (unsigned long long)n->vanish_rst);
}

void soak(const char *name, const mlfq_test_daemon_t *target,
          const mlfq_test_daemon_t *others, int nothers) {
  double seconds = soak_seconds(), warm = seconds;
  soak_t *s = calloc(1, sizeof(*s));
  long rss0, rss1, anon0, anon1, prev;
  int fd0, fd1, ofd0[4], i, rounds = 0;
  Mlfq__ServerMessage *m;
  tc_client_t *st;
  int64_t t0, t1;

  ASSERT(s != NULL && nothers <= 4);
  s->host = target->host;
  s->port = target->port;
  s->ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(s->ep, 0);
  mlfq_rng_seed(&s->rng, 20240601, 0);
  st = tc_open(target, 1);
  s->st = st;

  /* Settled: warm-up rounds until one adds at most 2% to the idle RSS
   * (the allocator's caches and the heap's page scatter converge over a
   * few rounds), at most SETTLE_ROUNDS; one round under a sanitizer. */
  rss0 = 0;
  do {
    prev = rss0;
    soak_round(s, warm);
    mlfq__server_message__free_unpacked(wait_trimmed(st, target), NULL);
    rss0 = rss_kb(target->pid);
    rounds++;
  } while (!SANITIZED && rounds < SETTLE_ROUNDS &&
           (prev == 0 || (rss0 - prev) * 50 > prev));
  printf("soak: warm-up: %d rounds of %.0f s, idle RSS %ld kB\n", rounds, warm,
         rss0);
  print_counts("warm-up", &s->n);
  anon0 = mlfq_test_proc_kb(target->pid, "RssAnon");
  fd0 = nfds(target->pid);
  for (i = 0; i < nothers; i++)
    ofd0[i] = nfds(others[i].pid);

  memset(&s->n, 0, sizeof(s->n));
  t0 = tc_now_ms();
  soak_round(s, seconds);
  t1 = tc_now_ms();
  m = wait_trimmed(st, target);
  rss1 = rss_kb(target->pid);
  anon1 = mlfq_test_proc_kb(target->pid, "RssAnon");
  fd1 = nfds(target->pid);

  printf("soak: %s: %d connections for %.0f s (warm-up %d x %.0f s), wall "
         "%.1f s to the last close\n",
         name, SOAK_CONNS, seconds, rounds, warm, (double)(t1 - t0) / 1000);
  print_counts(name, &s->n);
  printf("soak: %s: server: submitted %llu, completed %llu, cancelled %llu, "
         "rejected %llu, tokens %llu\n",
         name, (unsigned long long)m->stats->submitted,
         (unsigned long long)m->stats->completed,
         (unsigned long long)m->stats->cancelled,
         (unsigned long long)m->stats->rejected,
         (unsigned long long)m->stats->tokens);
  printf("soak: %s: RSS settled %ld kB (%ld anonymous), after %ld kB (%ld "
         "anonymous; %+.1f%%); fds %d, after %d\n",
         name, rss0, anon0, rss1, anon1,
         100.0 * (double)(rss1 - rss0) / (double)rss0, fd0, fd1);
  fflush(stdout);
  mlfq__server_message__free_unpacked(m, NULL);

  /* Every request tracked ended exactly once (checked as they came). */
  ASSERT_EQ_U64(s->n.done + s->n.cancelled + s->n.invalid[INV_REQUESTS],
                s->n.submitted);
  ASSERT_EQ_U64(s->n.accepted, s->n.submitted - s->n.invalid[INV_REQUESTS]);
  ASSERT_GT(s->n.sessions[SLOW], 0);
  ASSERT_EQ_U64(s->n.slow_reset + s->n.slow_eof, s->n.sessions[SLOW]);
  ASSERT_EQ(fd1, fd0);
  for (i = 0; i < nothers; i++)
    ASSERT_EQ(nfds(others[i].pid), ofd0[i]);
  if (!SANITIZED)
    ASSERT_LE(labs(rss1 - rss0) * 10, rss0);
  tc_close(st);
  close(s->ep);
  free(s);
}
