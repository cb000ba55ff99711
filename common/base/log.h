/* Logging for the long-running programs: one line per event, with a UTC
 * timestamp, the program's name and pid, and the level:
 *
 *   2026-01-02T03:04:05.678Z mlfqd[1234] info: listening on 127.0.0.1:7070
 *
 * Process-wide state. mlfq_log_init is called once at start-up, before
 * any thread; a line is then written at once (the calling thread may
 * block in write(2)) until mlfq_log_start hands the writing to a thread
 * of its own, after which logging never blocks (log.c). A daemon starts
 * the writer once it has detached and stops it before it exits.
 */
#ifndef MLFQ_LOG_H
#define MLFQ_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  MLFQ_LOG_ERROR = 0,
  MLFQ_LOG_WARN = 1,
  MLFQ_LOG_INFO = 2,
  MLFQ_LOG_DEBUG = 3
} mlfq_log_level_t;

/* Bytes of lines waiting for the writer thread; a line that does not fit
 * is dropped and counted. */
#define MLFQ_LOG_QUEUE_BYTES (64 * 1024)
/* Longest line; a longer one is cut. */
#define MLFQ_LOG_LINE_BYTES 1024
/* Lines about what peers do (mlfq_log_peer): at most a burst of
 * MLFQ_LOG_PEER_BURST, then MLFQ_LOG_PEER_PER_S a second. */
#define MLFQ_LOG_PEER_BURST 20
#define MLFQ_LOG_PEER_PER_S 10

/* Logs of prog at level and above go to fd (-1: stderr), which the caller
 * keeps open until the log is stopped. Before any thread. */
void mlfq_log_init(const char *prog, mlfq_log_level_t level, int fd);

/* Redirects the log to fd (-1: stderr). Not while a writer thread runs. */
void mlfq_log_set_output(int fd);

/* "error", "warn", "info", "debug" to *l. Returns 0 or MLFQ_EINVAL. */
int mlfq_log_parse_level(const char *s, mlfq_log_level_t *l);

int mlfq_log_enabled(mlfq_log_level_t level);

/* The writer thread's name (ps -L, /proc/PID/task/TID/comm). */
#define MLFQ_LOG_THREAD_NAME "mlfq-log"

/* From now on lines go through a queue of MLFQ_LOG_QUEUE_BYTES to a writer
 * thread (named MLFQ_LOG_THREAD_NAME), which may block; the callers of
 * mlfq_log never do. Call once,
 * from the main thread, after any fork. Returns 0 or a negated errno
 * (the log stays synchronous). */
int mlfq_log_start(void);

/* Writes what the queue holds (and the count of lines suppressed by
 * mlfq_log_peer), waiting at most timeout_s, and ends the writer thread.
 * Returns 0 once it has ended (or if none ran): the log is synchronous
 * again and its fd may be closed. Returns -ETIMEDOUT if the writer is
 * still blocked: it is left to the process's exit, and the fd must stay
 * open (once it has written the queue it ends, and lines are written at
 * once again). From the thread that called mlfq_log_start. */
int mlfq_log_stop(double timeout_s);

/* Logs a line at level. Any thread. */
void mlfq_log(mlfq_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* mlfq_log for a line a peer can cause as often as it likes (a bad frame,
 * a refused or slow client): every such line of the process shares one
 * token bucket (MLFQ_LOG_PEER_*); a line over the limit is counted, and
 * "(N similar lines suppressed)" is logged before the next one that
 * passes, or when the log stops. Any thread. */
void mlfq_log_peer(mlfq_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Bytes of a peer's string, escaped, that a line shows; the rest is cut. */
#define MLFQ_LOG_SHOW_BYTES 256

/* Copies the n bytes at p into out (outlen bytes, NUL-terminated) as
 * printable ASCII, for a string a peer chose (a client's name, a reply)
 * to be logged inside a line without making lines of its own: newline,
 * carriage return, tab and backslash as \n, \r, \t and \\, other
 * control bytes and every byte from 0x7f as \xHH. What does not fit is
 * cut, at a whole escape, and "..." ends out. Returns out. Any thread. */
const char *mlfq_log_escape(const void *p, size_t n, char *out, size_t outlen);

/* A token bucket: burst tokens, refilled at per_s a second. */
typedef struct {
  double burst;
  double per_s;
  double tokens;
  uint64_t last_ns;
  uint64_t suppressed; /* takes refused since the last that passed */
} mlfq_log_bucket_t;

/* A full bucket. */
void mlfq_log_bucket_init(mlfq_log_bucket_t *b, double burst, double per_s);

/* Takes a token at monotonic time now_ns: returns 1, or 0 (and counts it
 * in suppressed) if the bucket is empty. */
int mlfq_log_bucket_take(mlfq_log_bucket_t *b, uint64_t now_ns);

#endif
