/* The fake protocol server of fake.h: a thread, a connection, replies. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "fake.h"

/* Waits for fd to be readable or the stop pipe. Returns 1 if fd is. */
static int fake_wait(tc_fake_t *f, int fd, int64_t deadline) {
  struct pollfd p[2];

  p[0].fd = fd;
  p[0].events = POLLIN;
  p[1].fd = f->stop[0];
  p[1].events = POLLIN;
  if (poll(p, 2, tc_left_ms(deadline)) <= 0 || (p[1].revents & POLLIN))
    return 0;
  return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

static void *fake_main(void *arg) {
  tc_fake_t *f = arg;
  int64_t deadline = tc_now_ms() + TC_FAKE_WAIT_MS;
  char buf[4096];
  size_t step = 0;
  ssize_t n;
  int fd;

  if (!fake_wait(f, f->lfd, deadline))
    return NULL;
  fd = accept(f->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  while (fake_wait(f, fd, deadline)) {
    n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    if (step < f->nreply) {
      if (send(fd, f->reply[step].data, f->reply[step].len, MSG_NOSIGNAL) < 0)
        break;
      step++;
    }
  }
  close(fd);
  return NULL;
}

void tc_fake_start(tc_fake_t *f) {
  f->lfd = tc_listen_any(&f->port);
  ASSERT_EQ(pipe(f->stop), 0);
  ASSERT_EQ(pthread_create(&f->th, NULL, fake_main, f), 0);
}

void tc_fake_stop(tc_fake_t *f) {
  size_t i;

  ASSERT_EQ(write(f->stop[1], "x", 1), 1);
  ASSERT_EQ(pthread_join(f->th, NULL), 0);
  close(f->lfd);
  close(f->stop[0]);
  close(f->stop[1]);
  for (i = 0; i < f->nreply; i++)
    mlfq_buf_free(&f->reply[i]);
  memset(f, 0, sizeof(*f));
}

void tc_fake_step(tc_fake_t *f) {
  ASSERT(f->nreply < TC_FAKE_STEPS);
  mlfq_buf_init(&f->reply[f->nreply++], 1 << 20);
}

void tc_fake_append(tc_fake_t *f, const Mlfq__ServerMessage *m) {
  ASSERT(f->nreply > 0);
  ASSERT_OK(mlfq_wire_put_server(&f->reply[f->nreply - 1], m));
}

void tc_fake_add_raw(tc_fake_t *f, const void *p, size_t n) {
  mlfq_buf_t *b;
  uint8_t *d;

  tc_fake_step(f);
  b = &f->reply[f->nreply - 1];
  d = mlfq_buf_reserve(b, n, NULL);
  ASSERT(d != NULL);
  memcpy(d, p, n);
  mlfq_buf_commit(b, n);
}

void tc_fake_add_msg(tc_fake_t *f, const Mlfq__ServerMessage *m) {
  tc_fake_step(f);
  tc_fake_append(f, m);
}

void tc_fake_add_welcome(tc_fake_t *f, double ts) {
  Mlfq__ServerMessage m = MLFQ__SERVER_MESSAGE__INIT;
  Mlfq__Welcome w = MLFQ__WELCOME__INIT;
  mlfq_limits_t lim = {1, 1000, 1u << 20, 1u << 20, 65536, 500};
  mlfq_sched_config_t cfg;
  mlfq_sched_params_t params;
  mlfq_wire_config_t wc;
  mlfq_cost_t cost;
  char err[256];

  mlfq_sched_config_init(&cfg);
  cfg.policy = "fcfs";
  ASSERT_OK(mlfq_cost_linear(&cost, 0, 0.09, 5.5));
  ASSERT_OK(mlfq_sched_resolve(&params, &cfg, &cost, err, sizeof(err)));
  ASSERT_OK(mlfq_wire_config_init(&wc, &cfg, &params, &cost, &lim));
  wc.config.time_scale = ts;
  w.protocol_version = MLFQ_PROTOCOL_VERSION;
  w.server_id = "fake";
  w.server_version = "0";
  w.config = &wc.config;
  m.msg_case = MLFQ__SERVER_MESSAGE__MSG_WELCOME;
  m.welcome = &w;
  tc_fake_add_msg(f, &m);
  mlfq_wire_config_free(&wc);
  mlfq_cost_free(&cost);
}
