/* common/net/flow.c: the flow control of one peer's output, step by step as a
 * connection drives it (flush, writes ending), against the rules of
 * docs/PROTOCOL.md: reading stops above a quarter of the bound and starts
 * again at half of that, the bound drops the peer, and a lingering
 * connection closes once everything is written. */
#include "net/flow.h"
#include "task.h"

TEST(flow, pause_then_resume_at_half) {
  mlfq_flow_t f;

  mlfq_flow_init(&f, 1000, 250);
  ASSERT(mlfq_flow_admit(&f, 1000));
  ASSERT_EQ(mlfq_flow_flushing(&f), MLFQ_FLOW_KEEP);
  ASSERT_EQ(mlfq_flow_flushed(&f, 250), MLFQ_FLOW_KEEP); /* not above */
  ASSERT_EQ(mlfq_flow_flushed(&f, 251), MLFQ_FLOW_PAUSE);
  ASSERT_EQ(mlfq_flow_flushed(&f, 400), MLFQ_FLOW_KEEP); /* paused already */
  ASSERT_EQ(mlfq_flow_written(&f, 126, 0), MLFQ_FLOW_KEEP);
  ASSERT_EQ(mlfq_flow_written(&f, 125, 7), MLFQ_FLOW_RESUME);
  ASSERT_EQ(mlfq_flow_written(&f, 0, 0), MLFQ_FLOW_KEEP); /* open: stays */
  ASSERT_EQ(f.end, MLFQ_FLOW_OPEN);
}

TEST(flow, never_pauses_without_a_pause_mark) {
  mlfq_flow_t f;

  mlfq_flow_init(&f, 1000, 0);
  ASSERT_EQ(mlfq_flow_flushed(&f, 999), MLFQ_FLOW_KEEP);
  ASSERT_EQ(mlfq_flow_written(&f, 0, 0), MLFQ_FLOW_KEEP);
}

TEST(flow, over_the_bound_drops_the_peer) {
  mlfq_flow_t f;

  mlfq_flow_init(&f, 1000, 250);
  ASSERT(!mlfq_flow_admit(&f, 1001));
  ASSERT_EQ(f.end, MLFQ_FLOW_DROP);
  ASSERT(!mlfq_flow_admit(&f, 1)); /* nothing more, once dropped */
  mlfq_flow_linger(&f);            /* stays dropped */
  ASSERT_EQ(f.end, MLFQ_FLOW_DROP);
  ASSERT_EQ(mlfq_flow_flushing(&f), MLFQ_FLOW_CLOSE);

  mlfq_flow_init(&f, 1000, 250);
  mlfq_flow_drop(&f);
  ASSERT_EQ(mlfq_flow_flushing(&f), MLFQ_FLOW_CLOSE);
}

TEST(flow, linger_closes_once_all_is_written) {
  mlfq_flow_t f;

  mlfq_flow_init(&f, 1000, 250);
  ASSERT_EQ(mlfq_flow_flushed(&f, 300), MLFQ_FLOW_PAUSE);
  mlfq_flow_linger(&f);
  ASSERT_EQ(mlfq_flow_flushing(&f), MLFQ_FLOW_KEEP); /* its answer goes */
  ASSERT_EQ(mlfq_flow_flushed(&f, 300), MLFQ_FLOW_KEEP);
  ASSERT_EQ(mlfq_flow_written(&f, 10, 0), MLFQ_FLOW_KEEP); /* no resume */
  ASSERT_EQ(mlfq_flow_written(&f, 0, 5), MLFQ_FLOW_KEEP);  /* more to go */
  ASSERT_EQ(mlfq_flow_written(&f, 0, 0), MLFQ_FLOW_CLOSE);

  mlfq_flow_init(&f, 1000, 250);
  mlfq_flow_linger(&f);
  ASSERT_EQ(mlfq_flow_flushed(&f, 0), MLFQ_FLOW_CLOSE); /* written at once */
}
