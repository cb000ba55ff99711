/* The test framework of both runners (tests/README.md): the tests of
 * tests/LAYER and tests/PROGRAM, one concern per file.
 *
 * A test is `TEST(area, name) { ... }`. CMake finds every TEST line in the
 * test files, lists it in the runner and registers it with ctest as
 * "area/name", so `ctest -R area` runs one area. Asserts are typed and print
 * both values; the first failing assert ends the test process with status 1.
 */
#ifndef MLFQ_TASK_H
#define MLFQ_TASK_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define TEST(area, name)                                                       \
  void test_##area##_##name(void);                                             \
  void test_##area##_##name(void)

/* Where the build put the programs and where the project's data lives;
 * set by tests/CMakeLists.txt. */
#ifndef MLFQ_BIN_DIR
#define MLFQ_BIN_DIR "."
#endif
#ifndef MLFQ_DATA_DIR
#define MLFQ_DATA_DIR "data"
#endif

#define MLFQ_TEST_FAIL(...)                                                    \
  do {                                                                         \
    fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__);          \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

#define ASSERT(expr)                                                           \
  do {                                                                         \
    if (!(expr))                                                               \
      MLFQ_TEST_FAIL("%s", #expr);                                             \
  } while (0)

#define MLFQ_ASSERT_CMP(type, fmt, a, op, b)                                   \
  do {                                                                         \
    type a_ = (type)(a);                                                       \
    type b_ = (type)(b);                                                       \
    if (!(a_ op b_))                                                           \
      MLFQ_TEST_FAIL("%s %s %s (%" fmt " vs %" fmt ")", #a, #op, #b, a_, b_);  \
  } while (0)

#define ASSERT_EQ(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, ==, b)
#define ASSERT_NE(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, !=, b)
#define ASSERT_LT(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, <, b)
#define ASSERT_LE(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, <=, b)
#define ASSERT_GT(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, >, b)
#define ASSERT_GE(a, b) MLFQ_ASSERT_CMP(int64_t, PRId64, a, >=, b)
#define ASSERT_EQ_U64(a, b) MLFQ_ASSERT_CMP(uint64_t, PRIu64, a, ==, b)
#define ASSERT_LE_U64(a, b) MLFQ_ASSERT_CMP(uint64_t, PRIu64, a, <=, b)
#define ASSERT_LT_DBL(a, b) MLFQ_ASSERT_CMP(double, ".17g", a, <, b)
#define ASSERT_LE_DBL(a, b) MLFQ_ASSERT_CMP(double, ".17g", a, <=, b)

#define ASSERT_NEAR(a, b, eps)                                                 \
  do {                                                                         \
    double a_ = (double)(a);                                                   \
    double b_ = (double)(b);                                                   \
    double e_ = (double)(eps);                                                 \
    if (!(fabs(a_ - b_) <= e_))                                                \
      MLFQ_TEST_FAIL("%s ~ %s (%.17g vs %.17g, eps %g)", #a, #b, a_, b_, e_);  \
  } while (0)

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    int r_ = (expr);                                                           \
    if (r_ != 0)                                                               \
      MLFQ_TEST_FAIL("%s returned %d (%s)", #expr, r_, mlfq_strerror(r_));     \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
  do {                                                                         \
    const char *a_ = (a);                                                      \
    const char *b_ = (b);                                                      \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                       \
      MLFQ_TEST_FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b,                    \
                     a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
  } while (0)

/* Asserts that haystack contains needle. */
#define ASSERT_CONTAINS(haystack, needle)                                      \
  do {                                                                         \
    const char *h_ = (haystack);                                               \
    const char *n_ = (needle);                                                 \
    if (h_ == NULL || strstr(h_, n_) == NULL)                                  \
      MLFQ_TEST_FAIL("%s contains \"%s\" (it is \"%s\")", #haystack, n_,       \
                     h_ ? h_ : "(null)");                                      \
  } while (0)

/* The monotonic clock in ms and in ns (both runners have them: runner.c). */
int64_t tc_now_ms(void);
uint64_t tc_now_ns(void);

/* The ms left until deadline (a tc_now_ms time), 0 once it has passed. */
int tc_left_ms(int64_t deadline);

/* Runs argv (argv[0] a path) with stdin from /dev/null, captures stdout and
 * stderr into malloc'ed NUL-terminated strings (either may be NULL to
 * discard) and returns the exit status, or -1 if it did not exit normally.
 * Gives up and fails the test after timeout_s seconds. */
int mlfq_test_run(char *const argv[], char **out, char **err, int timeout_s);

/* Forks and runs argv (argv[0] a path) with stdin from /dev/null, stdout
 * on outfd and stderr on errfd; if gofd >= 0, the child first waits for a
 * byte on it (a test that must know the pid before the program runs).
 * Returns the pid; the caller waits for it (and tracks it if it must be
 * killed when the test fails: mlfq_test_track). Fails the test if fork
 * does. */
int mlfq_test_spawn(char *const argv[], int gofd, int outfd, int errfd);

/* Copies the line of out that starts with prefix into line (len bytes);
 * fails the test if there is none. */
void mlfq_test_find_line(const char *out, const char *prefix, char *line,
                         size_t len);

/* Writes text to a fresh temporary file and returns its path (static
 * storage per call index: the caller copies it if it needs several). */
const char *mlfq_test_tmpfile(const char *suffix, const char *text);

/* A real mlfqd started by a test on an ephemeral port. */
typedef struct {
  int pid;
  char host[32];
  int port;
  char addr[128];
  char log[64]; /* its stderr */
} mlfq_test_daemon_t;

/* Starts MLFQ_BIN_DIR/mlfqd with args (NULL-terminated) and --listen
 * 127.0.0.1:0, and waits (at most 10 s) for the address it prints. If the
 * test fails (a failing assert exits), every daemon it started is killed if
 * still running and its log printed; the logs are removed when the test
 * ends either way. */
void mlfq_test_daemon_start(mlfq_test_daemon_t *d, const char *const *args);

/* The same for the server program at path (mlfq-router): it must print
 * the address it listens on as its first line of stdout. */
void mlfq_test_server_start(mlfq_test_daemon_t *d, const char *path,
                            const char *const *args);

/* Sends sig (0: none) and waits at most timeout_s for the daemon to exit;
 * returns its exit status, or -1 if a signal ended it. Kills it and fails
 * the test on timeout. */
int mlfq_test_daemon_stop(mlfq_test_daemon_t *d, int sig, int timeout_s);

/* Another process the test started (pid): if the test fails before
 * mlfq_test_untrack(pid), it is killed, and reaped if it is a child. */
void mlfq_test_track(int pid);
void mlfq_test_untrack(int pid);

/* The contents of the file at path, in a malloc'ed NUL-terminated string;
 * fails the test if it cannot be read. */
char *mlfq_test_slurp(const char *path);

/* A kB figure of process pid from /proc/PID/status: field "VmRSS" (its
 * resident set now) or "VmHWM" (the most it has been). Fails the test if
 * it cannot be read. */
long mlfq_test_proc_kb(int pid, const char *field);

/* 1 in a build with AddressSanitizer or ThreadSanitizer, whose allocators
 * make a process's memory figures meaningless. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MLFQ_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MLFQ_TEST_SANITIZED 1
#endif
#endif
#ifndef MLFQ_TEST_SANITIZED
#define MLFQ_TEST_SANITIZED 0
#endif

#endif
