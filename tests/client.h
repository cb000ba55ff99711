/* The tests' protocol client: one connection to mlfqd (usually a test's own,
 * see mlfq_test_daemon_t in task.h) that records what it receives about each
 * of its requests, and the frames of hand-made writes. Nothing here returns
 * an error: what goes wrong fails the test, and every wait has a deadline
 * (TC_WAIT_MS unless the call takes one).
 */
#ifndef MLFQ_TEST_CLIENT_H
#define MLFQ_TEST_CLIENT_H

#include <stdint.h>

#include "base/buf.h"
#include "net/peer.h"
#include "task.h"

#define TC_MAXID 512         /* ids recorded: 0 .. TC_MAXID - 1 */
#define TC_WAIT_MS 5000      /* bound of every wait */
#define TC_ANY_ID UINT64_MAX /* tc_wait: about any id, or none */

/* A connection and what it has seen of each of its requests (messages
 * about ids of TC_MAXID and above are not recorded). */
typedef struct {
  mlfq_peer_t p;
  uint32_t accepted[TC_MAXID];
  uint32_t tokens[TC_MAXID];
  uint32_t done[TC_MAXID];
  int err[TC_MAXID];       /* code of the last Error for the id, 0 if none */
  int ended[TC_MAXID];     /* a final Error was seen (nothing may follow) */
  uint32_t late[TC_MAXID]; /* Accepted, Token or Done after a final Error */
} tc_client_t;

/* Connects to d (or host:port) and, if hello, sends Hello and waits for the
 * Welcome. Free with tc_close. */
tc_client_t *tc_open(const mlfq_test_daemon_t *d, int hello);
tc_client_t *tc_open_at(const char *host, int port, int hello);

/* Closes the connection and frees c. */
void tc_close(tc_client_t *c);

/* Sends one message. */
void tc_send(tc_client_t *c, const Mlfq__ClientMessage *m);

/* Sends Submit (id, in input tokens, out output tokens). An id that has
 * ended (Done or a final Error) may be reused: what was recorded of it is
 * forgotten first. */
void tc_submit(tc_client_t *c, uint64_t id, uint32_t in, uint32_t out);

/* Sends Cancel for id. */
void tc_cancel(tc_client_t *c, uint64_t id);

/* Receives the next message within timeout_ms, records it (tc_record) and
 * returns it (free it with mlfq__server_message__free_unpacked). A closed
 * connection or the deadline fails the test. */
Mlfq__ServerMessage *tc_recv(tc_client_t *c, int timeout_ms);

/* The request m is about (Accepted, Token, Done, Error), TC_ANY_ID for
 * none. */
uint64_t tc_msg_id(const Mlfq__ServerMessage *m);

/* Adds m to what c has seen of its id. Asserts that Tokens are numbered
 * 1, 2, ... and that Done counts them. */
void tc_record(tc_client_t *c, const Mlfq__ServerMessage *m);

/* Receives until a message of kind msg_case about id (any id if TC_ANY_ID)
 * and returns it; the messages before it are recorded and freed. */
Mlfq__ServerMessage *tc_wait(tc_client_t *c, int msg_case, uint64_t id);

/* tc_wait, freeing the message: only what it recorded is kept. */
void tc_wait_free(tc_client_t *c, int msg_case, uint64_t id);

/* Sends a StatsRequest and returns the Stats reply: the server's counts
 * once it has handled everything sent before on c. */
Mlfq__ServerMessage *tc_stats(tc_client_t *c);

/* What a loaded machine adds to a wall-clock check of server d, in ns: the
 * worst wake-up lateness of its engine threads, as d measured it (Stats),
 * plus one round trip to d now. The timing tests allow their bound plus
 * this, so that they test the daemon, not the machine's other load. */
uint64_t tc_slack_ns(const mlfq_test_daemon_t *d);

/* Receives until an Error about id and asserts that its code is code. */
void tc_expect_error(tc_client_t *c, uint64_t id, int code);

/* Asserts that the server closes c: the next receive finds the connection
 * closed (-EPIPE) rather than a message. */
void tc_expect_closed(tc_client_t *c);

/* Submits request id and receives until it ends; asserts that it completed:
 * Accepted once, out Tokens, Done, no Error. */
void tc_run(tc_client_t *c, uint64_t id, uint32_t in, uint32_t out);

/* Opens a connection to d that has had its Hello and one that has not had
 * it if !hello, writes bytes on the second and asserts that the server
 * answers with an Error about the connection (id 0) with code and closes
 * it, while the first still runs a request. */
void tc_expect_fatal(const mlfq_test_daemon_t *d, const void *bytes, size_t len,
                     int hello, int code);
/* A client that connects and sends nothing gets HELLO_FIRST (id 0) once
 * the server's --hello-timeout of timeout_ms has passed, not before, and
 * is closed; one that sent Hello, connected before it, keeps working. */
void tc_expect_hello_timeout(const mlfq_test_daemon_t *d, int timeout_ms);

/* Sends StatsRequests on c until the server says it is draining: it has
 * handled its signal. */
void tc_wait_draining(tc_client_t *c);

/* Polls Stats on c until the server has taken at least n requests. */
void tc_wait_submitted(tc_client_t *c, uint64_t n);

/* Polls Stats on c until the server has nothing running or waiting and
 * conns connections, within timeout_ms; returns that reply (free it). */
Mlfq__ServerMessage *tc_wait_idle(tc_client_t *c, uint64_t conns,
                                  int timeout_ms);

/* A slow reader of d (mlfqd, or a router: name says which): a client s
 * submits 256 requests of a million tokens in one write and never reads.
 * Asserts that d disconnects it, logging "slow reader", and cancels all
 * 256, as *b (a client of its own, opened first) sees in Stats; and that
 * d's peak RSS grows by at most 16 MB (but under a sanitizer). Returns s,
 * closed by d but not yet by the caller, who also closes *b. */
tc_client_t *tc_slow_reader(const mlfq_test_daemon_t *d, const char *name,
                            tc_client_t **b);

/* How each request ended, as a client sees it through the router. */
typedef struct {
  int ends[TC_MAXID];    /* Done or a request Error */
  int after[TC_MAXID];   /* messages about it after its end */
  int lost[TC_MAXID];    /* REPLICA_LOST errors */
  int code[TC_MAXID];    /* the Error's code */
  int replica[TC_MAXID]; /* Done.replica */
  int64_t last_lost;     /* tc_now_ms() of the last REPLICA_LOST */
  char lost_name[160];   /* what a REPLICA_LOST message must name */
} tc_seen_t;

/* Receives one message on c before deadline (a tc_now_ms time) and
 * records it in s as well as in c. Asserts that it is no connection error
 * and that a REPLICA_LOST names s->lost_name. */
void tc_take(tc_client_t *c, tc_seen_t *s, int64_t deadline);

/* Sends Submits for ids first..last in one write, each of in input tokens
 * and out output tokens. */
void tc_submit_burst(tc_client_t *c, uint64_t first, uint64_t last, uint32_t in,
                     uint32_t out);

/* tc_submit_burst where request id asks for out[(id - first) % n] output
 * tokens: a cycle of n lengths, as round-robin deals requests out over n
 * replicas. */
void tc_submit_cycle(tc_client_t *c, uint64_t first, uint64_t last, uint32_t in,
                     const uint32_t *out, size_t n);

/* Polls the router's Stats on c until replica i (0-based) is up (want 1)
 * or down (want 0), within timeout_ms. */
void tc_wait_replica(tc_client_t *c, size_t i, int want, int timeout_ms);

/* A socket listening on 127.0.0.1 and an ephemeral port (which a server
 * told to listen there cannot take); returns the fd (close it) and puts
 * the port in *port. */
int tc_listen_any(int *port);

/* Makes a fresh directory /tmp/NAME-XXXXXX for a test's files and puts
 * its path in dir (len bytes). */
void tc_tmpdir(char *dir, size_t len, const char *name);

/* Removes the files names (NULL-terminated, relative to dir) and then the
 * directory dir, ignoring what is not there. */
void tc_rmtree(const char *dir, const char *const *names);

/* Append the frame of a Hello speaking protocol version, for tests
 * that write several frames, or parts of one, at once. */
void tc_put_hello(mlfq_buf_t *b, uint32_t version);

/* Append the frame of a Submit, a Cancel or a StatsRequest to b, for tests
 * that write several frames, or parts of one, at once. */
void tc_put_submit(mlfq_buf_t *b, uint64_t id, uint32_t in, uint32_t out);
void tc_put_cancel(mlfq_buf_t *b, uint64_t id);
void tc_put_stats(mlfq_buf_t *b);

/* MLFQ_BIN_DIR/PROG with args, started in two steps so that a test knows
 * its pid before it runs: tc_hold forks a child that waits on a pipe (its
 * stdin /dev/null, its stdout a pipe, its stderr errfd) and tracks it
 * (mlfq_test_track); tc_release lets it exec and waits (at most 10 s) for
 * the address it prints, as mlfq_test_server_start does, and fills d for
 * mlfq_test_daemon_stop. */
typedef struct {
  int pid;
  int go;  /* write end: one byte lets the child exec */
  int out; /* read end of its stdout */
} tc_held_t;

void tc_hold(tc_held_t *h, const char *prog, const char *const *args,
             int errfd);
void tc_release(tc_held_t *h, mlfq_test_daemon_t *d);

/* Writes a profile of n rows (input lengths 1..n) to a fresh file and
 * copies its path to path (len bytes). The caller removes it. */
void tc_profile(size_t n, char *path, size_t len);

/* Waits (at most 10 s) for d's log to hold want; returns the log (free
 * it). For a line that is the only sign of an event. */
char *tc_wait_log(const mlfq_test_daemon_t *d, const char *want);

#endif
