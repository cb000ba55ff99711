/* Hostile ids: keys that collide in mlfqd's and mlfq-router's id maps. */
/* A client floods the server with ids that all had one home slot under the
 * old hash (oldhash.h) while another times its Stats round trips
 * (docs/RELIABILITY.md, "Hostile tests"). Each test failed on the code
 * before its fix. Every wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "wire/wire.h"

#include "client.h"
#include "oldhash.h"

#define IDS_N 100000 /* adversarial ids, all pending at the end */
#define IDS_ROUNDS 20
/* The victim's Stats round trips, times ids_scale. Their median is the
 * test: a slow round or two on a loaded machine is no failure, while the
 * old hash slows every round after the first few, more with each. At load
 * averages of 1.5 to 3 its medians were 557-703 ms in mlfqd and 522-902
 * ms through the router, the keyed hash's 6-7 and 9-12 ms. The largest
 * is only a guard against a hang. */
#define IDS_MEDIAN_MS 100
#define IDS_MAX_MS 3000
#define IDS_WAIT_MS 60000 /* bound of each wait (the stalled server) */

/* Reads and drops what fd has to read, without blocking. */
static void ids_drop_input(int fd) {
  char buf[65536];
  ssize_t n;

  for (;;) {
    n = read(fd, buf, sizeof(buf));
    if (n > 0)
      continue;
    if (n == 0)
      MLFQ_TEST_FAIL("the server closed the flooding connection");
    if (errno == EINTR)
      continue;
    ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
    return;
  }
}

static int ids_cmp_ms(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

  return (x > y) - (x < y);
}

/* TSan slows a loop more than ASan does. */
#if defined(__SANITIZE_THREAD__)
#define IDS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IDS_TSAN 1
#endif
#endif
#ifndef IDS_TSAN
#define IDS_TSAN 0
#endif

/* What the bounds are multiplied by. A round trip through the router is
 * two in a row (its Stats request to the replica goes behind the Submits
 * it forwarded), and the router keeps the client's ids in a map as mlfqd
 * does: its medians were 1.5 to 2 times mlfqd's with the keyed hash (and
 * about the same with the old one). A sanitizer slows both hashes: with
 * ASan+UBSan, medians of 14-22 ms in mlfqd (41-70 ms in earlier runs at a
 * load average of 10 to 16) and 20-47 ms through the router, against the
 * old hash's 1,026-1,666 and 1,281-2,070 ms; with TSan, 40-66 and
 * 61-116 ms (the old hash's, in mlfqd: 7,885 ms). */
static int64_t ids_scale(int router) {
  return (IDS_TSAN ? 6 : MLFQ_TEST_SANITIZED ? 3 : 1) * (router ? 2 : 1);
}

/* Sends IDS_N Submits on flood whose ids all had one home slot under the
 * old hash (oldhash.h) in every table up to 2^24 slots, each of a million
 * output tokens, so that they stay pending. They go in IDS_ROUNDS equal
 * parts; right after each part, victim sends a StatsRequest and times the
 * reply, while the flood's replies are read and dropped. Prints each round
 * trip, their median and the largest; asserts that the median is under
 * IDS_MEDIAN_MS and that none passes IDS_MAX_MS, both times scale. */
static void ids_flood(tc_client_t *flood, tc_client_t *victim, const char *what,
                      int64_t scale) {
  int64_t ms[IDS_ROUNDS], t0, deadline, median;
  struct pollfd p[2];
  mlfq_buf_t b, st;
  Mlfq__ServerMessage *m;
  size_t sent = 0, target;
  ssize_t n;
  uint64_t i;
  int k;

  mlfq_buf_init(&b, 64 << 20);
  for (i = 1; i <= IDS_N; i++)
    tc_put_submit(&b, tc_oldhash_invert(i << 24), 1, 1000000);
  mlfq_buf_init(&st, 1 << 16);
  tc_put_stats(&st);
  ASSERT_EQ(
      fcntl(flood->p.fd, F_SETFL, fcntl(flood->p.fd, F_GETFL) | O_NONBLOCK), 0);
  p[0].fd = flood->p.fd;
  p[1].fd = victim->p.fd;
  for (k = 0; k < IDS_ROUNDS; k++) {
    /* A part of the flood, whole frames or not. */
    target = b.len / IDS_ROUNDS * (size_t)(k + 1);
    if (k == IDS_ROUNDS - 1)
      target = b.len;
    deadline = tc_now_ms() + IDS_WAIT_MS;
    while (sent < target) {
      p[0].events = POLLIN | POLLOUT;
      ASSERT_GT(poll(p, 1, tc_left_ms(deadline)), 0);
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        ids_drop_input(flood->p.fd);
      if (p[0].revents & POLLOUT) {
        n = write(flood->p.fd, b.data + sent, target - sent);
        ASSERT(n > 0 || errno == EAGAIN || errno == EINTR);
        if (n > 0)
          sent += (size_t)n;
      }
    }
    /* The victim's round trip, behind that part. */
    t0 = tc_now_ms();
    ASSERT_OK(mlfq_peer_send_raw(&victim->p, st.data, st.len));
    for (;;) {
      p[0].events = POLLIN;
      p[1].events = POLLIN;
      ASSERT_GT(poll(p, 2, tc_left_ms(deadline)), 0);
      if (p[0].revents)
        ids_drop_input(flood->p.fd);
      if (p[1].revents)
        break;
    }
    m = tc_wait(victim, MLFQ__SERVER_MESSAGE__MSG_STATS, TC_ANY_ID);
    ms[k] = tc_now_ms() - t0;
    mlfq__server_message__free_unpacked(m, NULL);
    fprintf(stderr, "%s: %d ids in, Stats round trip %" PRId64 " ms\n", what,
            IDS_N / IDS_ROUNDS * (k + 1), ms[k]);
  }
  qsort(ms, IDS_ROUNDS, sizeof(ms[0]), ids_cmp_ms);
  median = (ms[IDS_ROUNDS / 2 - 1] + ms[IDS_ROUNDS / 2]) / 2;
  fprintf(stderr,
          "%s: Stats round trips: median %" PRId64 " ms, max %" PRId64 " ms\n",
          what, median, ms[IDS_ROUNDS - 1]);
  ASSERT_LT(median, IDS_MEDIAN_MS * scale);
  ASSERT_LT(ms[IDS_ROUNDS - 1], IDS_MAX_MS * scale);
  mlfq_buf_free(&b);
  mlfq_buf_free(&st);
}

/* Polls Stats on c until n requests are in flight, none rejected. */
static void ids_wait_held(tc_client_t *c, uint64_t n) {
  int64_t deadline = tc_now_ms() + IDS_WAIT_MS;
  Mlfq__ServerMessage *m;
  uint64_t held, rejected;

  for (;;) {
    m = tc_stats(c);
    held = m->stats->running + m->stats->waiting;
    rejected = m->stats->rejected;
    mlfq__server_message__free_unpacked(m, NULL);
    ASSERT_EQ_U64(rejected, 0);
    if (held == n)
      return;
    if (tc_now_ms() > deadline)
      MLFQ_TEST_FAIL("%" PRIu64 " of %d requests in flight", held, IDS_N);
  }
}

TEST(hostile, colliding_ids_do_not_stall_mlfqd) {
  /* One connection may hold every request (--max-pending-per-conn). */
  const char *args[] = {"--max-pending", "200000", "--max-pending-per-conn",
                        "200000", NULL};
  mlfq_test_daemon_t d;
  tc_client_t *flood, *victim;
  Mlfq__ServerMessage *m;

  mlfq_test_daemon_start(&d, args);
  flood = tc_open(&d, 1);
  victim = tc_open(&d, 1);
  ids_flood(flood, victim, "mlfqd", ids_scale(0));
  ids_wait_held(victim, IDS_N);
  tc_close(flood); /* its requests are cancelled */
  m = tc_wait_idle(victim, 1, IDS_WAIT_MS);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(victim);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 30), 0);
}

TEST(hostile, colliding_ids_do_not_stall_the_router) {
  /* The router keeps the client's ids in a map of the client, and its own
   * upstream ids (which it numbers) in another. */
  const char *rargs[] = {"--max-pending", "200000", "--max-pending-per-conn",
                         "200000", NULL};
  /* A replica busy with the flood must not be lost to a slow probe
   * answer: this test is not about liveness. */
  const char *argv[] = {"--replica",
                        NULL,
                        "--max-pending",
                        "200000",
                        "--max-pending-per-conn",
                        "200000",
                        "--probe-timeout",
                        "60000",
                        NULL};
  mlfq_test_daemon_t rep, rt;
  tc_client_t *flood, *victim;
  Mlfq__ServerMessage *m;

  mlfq_test_daemon_start(&rep, rargs);
  argv[1] = rep.addr;
  mlfq_test_server_start(&rt, MLFQ_BIN_DIR "/mlfq-router", argv);
  flood = tc_open(&rt, 1);
  victim = tc_open(&rt, 1);
  ids_flood(flood, victim, "mlfq-router", ids_scale(1));
  ids_wait_held(victim, IDS_N);
  tc_close(flood);
  m = tc_wait_idle(victim, 1, IDS_WAIT_MS);
  mlfq__server_message__free_unpacked(m, NULL);
  tc_close(victim);
  ASSERT_EQ(mlfq_test_daemon_stop(&rt, SIGTERM, 30), 0);
  ASSERT_EQ(mlfq_test_daemon_stop(&rep, SIGTERM, 30), 0);
}
