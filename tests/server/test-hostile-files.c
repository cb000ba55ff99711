/* Planted symlinks, FIFOs, the umask: the files the servers write. */
/* The hostile suite (docs/RELIABILITY.md, "Hostile tests"): each test
 * failed on the code before its fix. Every wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

static void files_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT_EQ(fclose(f), 0);
}

/* Asserts that path is a regular file (not a symbolic link) holding text. */
static void files_expect_regular(const char *path, const char *text) {
  struct stat st;
  char *s;

  ASSERT_EQ(lstat(path, &st), 0);
  if (!S_ISREG(st.st_mode))
    MLFQ_TEST_FAIL("%s is not a regular file (mode %o)", path,
                   (unsigned)st.st_mode);
  s = mlfq_test_slurp(path);
  ASSERT_STR_EQ(s, text);
  free(s);
}

/* The pidfile and the port files were written through "FILE.tmpPID",
 * opened with fopen(.., "w"): a symbolic link planted there, at a name
 * known as soon as the pid is, had the daemon truncate and overwrite the
 * file it named (and then rename the link over FILE). Now the temporary
 * file's name cannot be guessed and it is created, never opened; a link
 * at FILE itself is replaced, not followed. */
TEST(hostile, planted_symlinks_are_not_followed) {
  static const char *const names[] = {"victim", "stderr",    "pid",
                                      "port",   "http-port", NULL};
  char dir[64], victim[128], errpath[128], pidfile[128], portfile[128];
  char httpfile[128], link[160], text[160], *s;
  const char *args[] = {"--listen",      "127.0.0.1:0", "--pidfile",
                        pidfile,         "--port-file", portfile,
                        "--http-listen", "127.0.0.1:0", "--http-port-file",
                        httpfile,        NULL};
  const char *files[3];
  mlfq_test_daemon_t d;
  tc_held_t h;
  int errfd, i;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(victim, sizeof(victim), "%s/victim", dir);
  snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  snprintf(httpfile, sizeof(httpfile), "%s/http-port", dir);
  files[0] = pidfile;
  files[1] = portfile;
  files[2] = httpfile;
  files_write(victim, "precious\n");
  errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(errfd, 0);
  tc_hold(&h, "mlfqd", args, errfd);
  close(errfd);
  for (i = 0; i < 3; i++) {
    snprintf(link, sizeof(link), "%s.tmp%d", files[i], (int)h.pid);
    ASSERT_EQ(symlink(victim, link), 0);
  }
  ASSERT_EQ(symlink(victim, portfile), 0); /* FILE itself */
  tc_release(&h, &d);

  s = mlfq_test_slurp(victim);
  ASSERT_STR_EQ(s, "precious\n");
  free(s);
  snprintf(text, sizeof(text), "%d\n", (int)d.pid);
  files_expect_regular(pidfile, text);
  snprintf(text, sizeof(text), "%s\n", d.addr);
  files_expect_regular(portfile, text);
  s = mlfq_test_slurp(httpfile);
  ASSERT_CONTAINS(s, "127.0.0.1:");
  free(s);
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  s = mlfq_test_slurp(victim);
  ASSERT_STR_EQ(s, "precious\n");
  free(s);
  for (i = 0; i < 3; i++) {
    snprintf(link, sizeof(link), "%s.tmp%d", files[i], (int)h.pid);
    unlink(link);
  }
  tc_rmtree(dir, names);
}

/* Runs mlfqd (prog 0) or mlfq-router (prog 1) with opt path and asserts
 * that it refuses it as a bad option: exit 2, nothing on stdout, one line
 * on stderr naming the path and saying why. */
static void files_refused(int prog, const char *opt, const char *path,
                          const char *why) {
  char *mlfqd[] = {MLFQ_BIN_DIR "/mlfqd", "--listen",   "127.0.0.1:0",
                   (char *)opt,           (char *)path, NULL};
  char *router[] = {MLFQ_BIN_DIR "/mlfq-router",
                    "--listen",
                    "127.0.0.1:0",
                    "--replica",
                    "127.0.0.1:1",
                    (char *)opt,
                    (char *)path,
                    NULL};
  char **argv = prog == 0 ? mlfqd : router;
  char *out, *err;
  int status;

  status = mlfq_test_run(argv, &out, &err, 10);
  if (status != 2)
    MLFQ_TEST_FAIL("%s: exit %d, expected 2 (stdout: %s, stderr: %s)", argv[0],
                   status, out, err);
  ASSERT_STR_EQ(out, "");
  ASSERT_CONTAINS(err, path);
  ASSERT_CONTAINS(err, why);
  ASSERT(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
  free(out);
  free(err);
}

/* Both mlfqd and mlfq-router refuse --log-file logfile (files_refused). */
static void files_log_file_refused(const char *logfile, const char *why) {
  files_refused(0, "--log-file", logfile, why);
  files_refused(1, "--log-file", logfile, why);
}

/* --log-file was opened with fopen(.., "a"), following a symbolic link
 * planted at its path: mlfqd and mlfq-router appended their log to the
 * file it named. Now they refuse it as a bad option (exit 2, one line
 * naming the path), and the file is untouched. */
TEST(hostile, log_file_symlink_refused) {
  static const char *const names[] = {"victim", "log", NULL};
  char dir[64], victim[128], logfile[128];
  char *s;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(victim, sizeof(victim), "%s/victim", dir);
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  files_write(victim, "precious\n");
  ASSERT_EQ(symlink(victim, logfile), 0);
  files_log_file_refused(logfile, "symbolic link");
  s = mlfq_test_slurp(victim);
  ASSERT_STR_EQ(s, "precious\n");
  free(s);
  tc_rmtree(dir, names);
}

/* --log-file was opened with O_WRONLY and no O_NONBLOCK: a FIFO at its
 * path, with nobody reading it, held mlfqd and mlfq-router in open(2)
 * before they listened, for ever. Now the open does not wait, and
 * anything but a regular file is refused as a bad option (exit 2, one
 * line naming the path and what it is). */
TEST(hostile, log_file_fifo_refused) {
  static const char *const names[] = {"log", NULL};
  char dir[64], logfile[128];

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(logfile, sizeof(logfile), "%s/log", dir);
  ASSERT_EQ(mkfifo(logfile, 0600), 0);
  files_log_file_refused(logfile, "is a FIFO, not a regular file");
  tc_rmtree(dir, names);
}

/* A pidfile that was a symbolic link was opened with O_NOFOLLOW and read
 * as naming no process: with the link pointing at a running instance's
 * pidfile, a second instance started anyway and replaced the link. Now
 * mlfqd and mlfq-router refuse it (exit 2, one line naming the path); the
 * first instance, its pidfile and the link are as they were. */
TEST(hostile, pidfile_symlink_refused) {
  static const char *const names[] = {"pid", "link", NULL};
  char dir[64], pidfile[128], link[128], text[32];
  const char *args[] = {"--pidfile", pidfile, NULL};
  mlfq_test_daemon_t d;
  struct stat st;
  int i;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(link, sizeof(link), "%s/link", dir);
  mlfq_test_daemon_start(&d, args);
  snprintf(text, sizeof(text), "%d\n", d.pid);
  ASSERT_EQ(symlink(pidfile, link), 0);
  for (i = 0; i < 2; i++) {
    files_refused(i, "--pidfile", link, "symbolic link");
    ASSERT_EQ(lstat(link, &st), 0);
    ASSERT(S_ISLNK(st.st_mode));
    files_expect_regular(pidfile, text);
  }
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  tc_rmtree(dir, names);
}

/* The pidfile and the port files were made 0644 by fchmod, whatever the
 * umask (fopen had respected it): under umask 077 other users could read
 * them. Now they get 0666 less the umask, as a created file does. */
TEST(hostile, daemon_files_respect_the_umask) {
  static const char *const names[] = {"pid", "port", NULL};
  char dir[64], pidfile[128], portfile[128];
  const char *args[] = {"--pidfile", pidfile, "--port-file", portfile, NULL};
  const char *files[2] = {pidfile, portfile};
  mlfq_test_daemon_t d;
  struct stat st;
  mode_t old;
  int i;

  tc_tmpdir(dir, sizeof(dir), "mlfq-files");
  snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
  snprintf(portfile, sizeof(portfile), "%s/port", dir);
  old = umask(077);
  mlfq_test_daemon_start(&d, args);
  umask(old);
  for (i = 0; i < 2; i++) {
    ASSERT_EQ(stat(files[i], &st), 0);
    if ((st.st_mode & 0777) != 0600)
      MLFQ_TEST_FAIL("%s has mode %o under umask 077, expected 600", files[i],
                     (unsigned)(st.st_mode & 0777));
  }
  ASSERT_EQ(mlfq_test_daemon_stop(&d, SIGTERM, 10), 0);
  tc_rmtree(dir, names);
}
