/* Whether mlfqd keeps the model's time (docs/HTTP.md, "When the server
 * falls behind"). An engine's iteration end that the loop handles later
 * than a limit (a fraction of the model's smallest decode time, and never
 * under SERVER_LATE_FLOOR_NS of wall time) is late: the server is then
 * behind, says so once in its log, and marks the requests in that
 * iteration; it is back on time after SERVER_LATE_CLEAR_NS without a late
 * end. Loop thread. */
#ifndef MLFQ_SERVER_LATE_H
#define MLFQ_SERVER_LATE_H

#include <stdint.h>

/* Wall time below which lateness is never flagged: ten times the p99 of
 * the engine threads' wake-up lateness on an idle machine
 * (docs/BENCHMARKS.md, section 4). */
#define SERVER_LATE_FLOOR_NS 1000000u
/* Wall time without a late end after which the server is on time again. */
#define SERVER_LATE_CLEAR_NS 1000000000u

typedef struct {
  uint64_t limit_ns;   /* wall ns: an end handled later than this is late */
  uint64_t late_ends;  /* late ends so far */
  uint64_t worst_ns;   /* the worst lateness since the server fell behind */
  uint64_t since_ends; /* late ends since then */
  uint64_t last_late;  /* uv_hrtime() of the latest late end */
  int behind;
} server_late_t;

/* Sets l up: an end is late past fraction x min_decode_ns of model time
 * (time_scale wall ns per model ns), or SERVER_LATE_FLOOR_NS if that is
 * more. */
void server_late_init(server_late_t *l, double fraction, uint64_t min_decode_ns,
                      double time_scale);

/* An iteration end handled late_ns of wall time after its time, at wall
 * time now (uv_hrtime). Returns late_ns when it counts as late, else 0. */
uint64_t server_late_note(server_late_t *l, uint64_t late_ns, uint64_t now);

/* Whether the server is behind at now: a late end within
 * SERVER_LATE_CLEAR_NS. */
int server_late_behind(server_late_t *l, uint64_t now);

#endif
