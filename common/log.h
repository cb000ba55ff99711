/* Logging for the long-running programs: one line per event, with a UTC
 * timestamp, the program's name and pid, and the level:
 *
 *   2026-01-02T03:04:05.678Z mlfqd[1234] info: listening on 127.0.0.1:7070
 *
 * Process-wide state, set once at start-up; call only from the thread that
 * owns the program's loop.
 */
#ifndef MLFQ_LOG_H
#define MLFQ_LOG_H

#include <stdio.h>

typedef enum {
  MLFQ_LOG_ERROR = 0,
  MLFQ_LOG_WARN = 1,
  MLFQ_LOG_INFO = 2,
  MLFQ_LOG_DEBUG = 3
} mlfq_log_level_t;

/* Logs of prog at level and above go to out (stderr when NULL). */
void mlfq_log_init(const char *prog, mlfq_log_level_t level, FILE *out);

/* Redirects the log to out (NULL: stderr), e.g. after opening --log-file. */
void mlfq_log_set_output(FILE *out);

/* "error", "warn", "info", "debug" to *l. Returns 0 or MLFQ_EINVAL. */
int mlfq_log_parse_level(const char *s, mlfq_log_level_t *l);

int mlfq_log_enabled(mlfq_log_level_t level);

void mlfq_log(mlfq_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
