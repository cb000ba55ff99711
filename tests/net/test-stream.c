/* common/net/stream.c on a real libuv loop over loopback TCP: frames split
 * at every byte and several in one read reach ops->frame whole and in
 * order, stop holds back the rest of a read, a bad header and the end of
 * the stream go to ops->failed, the output bound refuses a frame whole
 * (unbounded messages use the room), and a group flushes each dirty stream
 * once, in one write, at the end of a read. */
#include <uv.h>

#include "base/error.h"
#include "net/stream.h"
#include "task.h"
#include "tpeer.h"

typedef struct {
  mlfq_stream_t s;
  int reads, frames, failed, err, flushes, writes, stop_after;
  char got[256]; /* the payloads, in order */
  size_t gotlen;
} tstream_t;

static tstream_t ts;
static int settles;

static void on_read(mlfq_stream_t *s) {
  (void)s;
  ts.reads++;
}

static void on_frame(mlfq_stream_t *s, const uint8_t *p, size_t len) {
  ASSERT(s == &ts.s);
  ASSERT_LE(ts.gotlen + len, sizeof(ts.got));
  memcpy(ts.got + ts.gotlen, p, len);
  ts.gotlen += len;
  if (++ts.frames == ts.stop_after)
    s->stop = 1;
}

static void on_failed(mlfq_stream_t *s, int err) {
  ts.failed++;
  ts.err = err;
  mlfq_stream_read_stop(s);
}

static void on_flush(mlfq_stream_t *s) {
  ts.flushes++;
  ASSERT_OK(mlfq_stream_write(s));
}

static void on_written(mlfq_stream_t *s, int status) {
  (void)s;
  ASSERT_EQ(status, 0);
  ts.writes++;
}

static const mlfq_stream_ops_t ops = {on_read, on_frame, on_failed, on_flush,
                                      on_written};

static void on_settle(mlfq_stream_group_t *g) {
  settles++;
  mlfq_stream_group_flush(g);
}

/* ts.s accepts the connection of peer p on loop, reading frames of at most
 * 16 bytes, at most max_queued unwritten plus room. */
static void setup(uv_loop_t *loop, tpeer_t *p, mlfq_stream_group_t *g,
                  size_t max_queued, size_t room) {
  int port, lfd = tpeer_listen(&port), fd;

  memset(&ts, 0, sizeof(ts));
  settles = 0;
  ASSERT_OK(uv_loop_init(loop));
  tpeer_connect(p, loop, port);
  fd = accept(lfd, NULL, NULL);
  ASSERT(fd >= 0);
  close(lfd);
  mlfq_stream_init(&ts.s, g, &ops, 16, max_queued, room);
  ASSERT_OK(uv_tcp_init(loop, &ts.s.tcp));
  ASSERT_OK(uv_tcp_open(&ts.s.tcp, fd));
  ASSERT_OK(mlfq_stream_read_start(&ts.s));
}

static void teardown(uv_loop_t *loop, tpeer_t *p) {
  mlfq_stream_close(&ts.s, NULL);
  tpeer_close(p);
  tpeer_loop_close(loop);
  mlfq_stream_reset(&ts.s);
}

static int reads_at_least(void *arg) { return ts.reads >= *(int *)arg; }
static int failed(void *arg) {
  (void)arg;
  return ts.failed > 0;
}

TEST(stream, frames_split_at_every_byte_and_whole_in_one_read) {
  /* "abc" and "de", then "f" and "gh" in one send */
  static const uint8_t two[] = {0, 0, 0, 3, 'a', 'b', 'c',
                                0, 0, 0, 2, 'd', 'e'};
  static const uint8_t more[] = {0, 0, 0, 1, 'f', 0, 0, 0, 2, 'g', 'h'};
  uv_loop_t loop;
  tpeer_t p;
  size_t i;
  int want;

  setup(&loop, &p, NULL, 1024, 0);
  for (i = 0; i < sizeof(two); i++) {
    tpeer_send(&p, &two[i], 1);
    want = (int)i + 1;
    tpeer_run_until(&loop, reads_at_least, &want);
    ASSERT_EQ(ts.frames, i + 1 < 7 ? 0 : i + 1 < sizeof(two) ? 1 : 2);
  }
  tpeer_send(&p, more, sizeof(more));
  want = ts.reads + 1;
  tpeer_run_until(&loop, reads_at_least, &want);
  ASSERT_EQ(ts.frames, 4);
  ASSERT_EQ(ts.gotlen, 8);
  ASSERT(memcmp(ts.got, "abcdefgh", 8) == 0);
  ASSERT_EQ(ts.s.in.len, 0); /* nothing left of a frame */
  ASSERT_EQ(ts.failed, 0);
  teardown(&loop, &p);
}

TEST(stream, stop_holds_back_the_rest_of_a_read) {
  static const uint8_t three[] = {0, 0,   0, 1, 'x', 0, 0,  0,
                                  1, 'y', 0, 0, 0,   1, 'z'};
  uv_loop_t loop;
  tpeer_t p;
  int want = 1;

  setup(&loop, &p, NULL, 1024, 0);
  ts.stop_after = 1;
  tpeer_send(&p, three, sizeof(three));
  tpeer_run_until(&loop, reads_at_least, &want);
  ASSERT_EQ(ts.frames, 1);
  ASSERT_EQ(ts.got[0], 'x');
  teardown(&loop, &p);
}

TEST(stream, bad_header_and_end_go_to_failed) {
  static const uint8_t empty[] = {0, 0, 0, 0};
  static const uint8_t big[] = {0, 0, 0, 17}; /* over max_frame 16 */
  static const uint8_t ok[] = {0, 0, 0, 1, 'a'};
  uv_loop_t loop;
  tpeer_t p;

  setup(&loop, &p, NULL, 1024, 0);
  tpeer_send(&p, ok, sizeof(ok));
  tpeer_send(&p, empty, sizeof(empty));
  tpeer_run_until(&loop, failed, NULL);
  ASSERT_EQ(ts.frames, 1); /* the frame before the bad header */
  ASSERT_EQ(ts.err, MLFQ_EFRAMEEMPTY);
  teardown(&loop, &p);

  setup(&loop, &p, NULL, 1024, 0);
  tpeer_send(&p, big, sizeof(big)); /* known bad with its header alone */
  tpeer_run_until(&loop, failed, NULL);
  ASSERT_EQ(ts.err, MLFQ_EFRAMESIZE);
  ASSERT_EQ(ts.s.pos, 0); /* the owner can show the bytes from there */
  teardown(&loop, &p);

  setup(&loop, &p, NULL, 1024, 0);
  ASSERT_EQ(shutdown(p.fd, SHUT_WR), 0);
  tpeer_run_until(&loop, failed, NULL);
  ASSERT_EQ(ts.err, UV_EOF);
  teardown(&loop, &p);
}

/* A framed Cancel of request id (a few bytes). */
static void cancel_msg(Mlfq__ClientMessage *m, Mlfq__Cancel *k, uint64_t id) {
  mlfq__client_message__init(m);
  mlfq__cancel__init(k);
  k->id = id;
  m->msg_case = MLFQ__CLIENT_MESSAGE__MSG_CANCEL;
  m->cancel = k;
}

TEST(stream, output_bound_refuses_whole_frames_and_keeps_room) {
  Mlfq__ClientMessage m;
  Mlfq__Cancel k;
  uv_loop_t loop;
  tpeer_t p;
  size_t one, n = 0;

  cancel_msg(&m, &k, 1);
  one = MLFQ_FRAME_HEADER + mlfq__client_message__get_packed_size(&m);
  setup(&loop, &p, NULL, 3 * one, one);
  while (mlfq_stream_put_client(&ts.s, &m) == 0)
    n++;
  ASSERT_EQ(n, 3);
  ASSERT_EQ(ts.s.out.len, 3 * one); /* the refused frame was taken back */
  ASSERT_EQ(mlfq_stream_put_client(&ts.s, &m), MLFQ_ERANGE);
  ASSERT_OK(mlfq_stream_put_client_unbounded(&ts.s, &m)); /* the room */
  ASSERT_EQ(mlfq_stream_put_client_unbounded(&ts.s, &m), MLFQ_ERANGE);
  ASSERT_OK(mlfq_stream_write(&ts.s));
  ASSERT_EQ(ts.s.out.len, 0);
  ASSERT_EQ(ts.s.queued, 4 * one); /* written, not yet called back */
  /* Queued bytes count against the bound until their write ends. */
  ASSERT_EQ(mlfq_stream_put_client(&ts.s, &m), MLFQ_ERANGE);
  teardown(&loop, &p);
}

static tpeer_t *peer;
static size_t peer_wants;

static int peer_has(void *arg) {
  (void)arg;
  return peer->in.len >= peer_wants && ts.writes >= 1;
}

TEST(stream, group_flushes_each_dirty_stream_once_after_a_read) {
  static const uint8_t hi[] = {0, 0, 0, 1, 'h'};
  Mlfq__ClientMessage m;
  Mlfq__Cancel k;
  mlfq_stream_group_t g;
  uv_loop_t loop;
  tpeer_t p;
  int want = 1;

  mlfq_stream_group_init(&g, on_settle);
  setup(&loop, &p, &g, 1024, 0);
  cancel_msg(&m, &k, 7);
  ASSERT_OK(mlfq_stream_put_client(&ts.s, &m));
  ASSERT_OK(mlfq_stream_put_client(&ts.s, &m));
  ASSERT(mlfq_list_linked(&ts.s.dirty));
  ASSERT_EQ(ts.flushes, 0); /* nothing is written before the settle */
  tpeer_send(&p, hi, sizeof(hi));
  tpeer_run_until(&loop, reads_at_least, &want);
  ASSERT_GE(settles, 1); /* the read's, and the write's if it ended */
  ASSERT_EQ(ts.flushes, 1);
  ASSERT(!mlfq_list_linked(&ts.s.dirty));
  peer = &p;
  peer_wants =
      2 * (MLFQ_FRAME_HEADER + mlfq__client_message__get_packed_size(&m));
  tpeer_run_until(&loop, peer_has, NULL);
  ASSERT_EQ(p.in.len, peer_wants);
  ASSERT_EQ(ts.writes, 1); /* both frames in one write */
  ASSERT_EQ(ts.s.queued, 0);
  teardown(&loop, &p);
}
