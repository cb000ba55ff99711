#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

static const char *const names[] = {"error", "warn", "info", "debug"};

static struct {
  const char *prog;
  mlfq_log_level_t level;
  FILE *out;
} g = {"mlfq", MLFQ_LOG_INFO, NULL};

void mlfq_log_init(const char *prog, mlfq_log_level_t level, FILE *out) {
  g.prog = prog;
  g.level = level;
  g.out = out;
}

void mlfq_log_set_output(FILE *out) { g.out = out; }

int mlfq_log_parse_level(const char *s, mlfq_log_level_t *l) {
  int i;

  for (i = 0; i <= MLFQ_LOG_DEBUG; i++) {
    if (strcmp(s, names[i]) == 0) {
      *l = (mlfq_log_level_t)i;
      return 0;
    }
  }
  return MLFQ_EINVAL;
}

int mlfq_log_enabled(mlfq_log_level_t level) { return level <= g.level; }

void mlfq_log(mlfq_log_level_t level, const char *fmt, ...) {
  FILE *out = g.out ? g.out : stderr;
  struct timeval tv;
  struct tm tm;
  char stamp[32];
  va_list ap;

  if (level > g.level)
    return;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(out, "%s.%03dZ %s[%d] %s: ", stamp, (int)(tv.tv_usec / 1000), g.prog,
          (int)getpid(), names[level]);
  va_start(ap, fmt);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
  fflush(out);
}
