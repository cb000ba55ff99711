/* A fake protocol server: what clients do with a peer that is not mlfqd. */
/* It runs on a thread, accepts one connection on an ephemeral port of
 * 127.0.0.1 and, each time bytes arrive from it, writes its next reply
 * (the first answers Hello), then reads until the client closes, the test
 * says stop, or TC_FAKE_WAIT_MS. Nothing here returns an error: what goes
 * wrong fails the test. */
#ifndef MLFQ_TEST_FAKE_H
#define MLFQ_TEST_FAKE_H

#include <pthread.h>

#include "base/buf.h"
#include "wire/wire.h"

#define TC_FAKE_STEPS 4       /* replies, at most */
#define TC_FAKE_WAIT_MS 30000 /* bound of the fake's whole life */

/* Zero it (memset) before adding replies; tc_fake_stop zeroes it again. */
typedef struct {
  int lfd, port; /* port: where it listens, once started */
  int stop[2];   /* a pipe: the test writes a byte to stop the thread */
  mlfq_buf_t reply[TC_FAKE_STEPS];
  size_t nreply;
  pthread_t th;
} tc_fake_t;

/* Starts the fake's thread, listening; the replies added before are what
 * it answers with. */
void tc_fake_start(tc_fake_t *f);

/* Stops and joins the thread, closes its sockets and frees the replies. */
void tc_fake_stop(tc_fake_t *f);

/* Adds an empty reply, for tc_fake_append. */
void tc_fake_step(tc_fake_t *f);

/* Appends the frame of m to the last reply. */
void tc_fake_append(tc_fake_t *f, const Mlfq__ServerMessage *m);

/* Adds n raw bytes as the next reply. */
void tc_fake_add_raw(tc_fake_t *f, const void *p, size_t n);

/* Adds the frame of m as the next reply. */
void tc_fake_add_msg(tc_fake_t *f, const Mlfq__ServerMessage *m);

/* Adds a Welcome like mlfqd's (linear cost, fcfs), with time_scale ts, as
 * the next reply. */
void tc_fake_add_welcome(tc_fake_t *f, double ts);

#endif
