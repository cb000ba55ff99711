/* DESIGN
 *
 * The engine threads sleep to exact deadlines and the loop hands out the
 * next iteration as soon as one ends, so on a machine with time to spare
 * an end is handled tens of microseconds after its time, and the wall
 * clock follows the model. When the machine cannot keep up (too many
 * tokens a second for its cores, a --time-scale too small, other
 * processes), ends are handled later and later: model times stay exact,
 * but what a client sees on its own clock no longer follows them. This
 * file decides when that is so and says it: one warning when the server
 * falls behind, one line when it is back on time, and the lateness each
 * late end returns, which the server gives the requests of that iteration
 * (their Done, an HTTP header). Loop thread.
 */
#include "late.h"

#include "base/log.h"

void server_late_init(server_late_t *l, double fraction, uint64_t min_decode_ns,
                      double time_scale) {
  double limit = fraction * (double)min_decode_ns * time_scale;

  *l = (server_late_t){0};
  l->limit_ns =
      limit > SERVER_LATE_FLOOR_NS ? (uint64_t)limit : SERVER_LATE_FLOOR_NS;
}

int server_late_behind(server_late_t *l, uint64_t now) {
  if (l->behind && now - l->last_late > SERVER_LATE_CLEAR_NS) {
    l->behind = 0;
    mlfq_log(MLFQ_LOG_INFO,
             "back on the model's time: %llu late iterations, the worst "
             "%.3f ms late",
             (unsigned long long)l->since_ends, (double)l->worst_ns / 1e6);
  }
  return l->behind;
}

uint64_t server_late_note(server_late_t *l, uint64_t late_ns, uint64_t now) {
  if (late_ns <= l->limit_ns) {
    server_late_behind(l, now);
    return 0;
  }
  l->late_ends++;
  l->last_late = now;
  if (!l->behind) {
    l->behind = 1;
    l->worst_ns = 0;
    l->since_ends = 0;
    mlfq_log(MLFQ_LOG_WARN,
             "behind the model's time: an iteration ended %.3f ms late "
             "(limit %.3f ms, --late-warn-fraction): clients' wall-clock "
             "timings no longer follow the model; the machine is too busy "
             "for this load or --time-scale",
             (double)late_ns / 1e6, (double)l->limit_ns / 1e6);
  }
  l->since_ends++;
  if (late_ns > l->worst_ns)
    l->worst_ns = late_ns;
  return late_ns;
}
