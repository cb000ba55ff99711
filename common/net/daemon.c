#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/version.h"
#include "net/admit.h"
#include "net/daemon.h"
#include "net/peer.h"
#include "wire/frame.h"
#include "wire/wire.h"

int mlfq_daemon_parse_listen(const char *s, char *host, size_t hostlen,
                             int *port) {
  struct in6_addr a6;
  struct in_addr a4;
  char addr[INET6_ADDRSTRLEN + 1];
  size_t n;
  int rc = mlfq_peer_parse_addr(s, host, hostlen, port);

  if (rc)
    return rc;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return 0;
  /* An IPv6 address may carry a zone ("fe80::1%eth0"). */
  n = strcspn(host, "%");
  if (n >= sizeof(addr))
    return MLFQ_EINVAL;
  memcpy(addr, host, n);
  addr[n] = '\0';
  return inet_pton(AF_INET6, addr, &a6) == 1 ? 0 : MLFQ_EINVAL;
}

#define O(field) offsetof(mlfq_daemon_opts_t, field)

/* Where a server listens: first in its "Server" group. The help of
 * --listen is the program's (mlfq_daemon_cli_table). */
static const mlfq_cli_opt_t address_options[] = {
    {"listen", "HOST:PORT", NULL, mlfq_cli_set_str, O(listen), 0, 0, 0},
    {"port-file", "FILE", "write the bound HOST:PORT to FILE", mlfq_cli_set_str,
     O(port_file), 0, 0, 0}};

#define NADDRESS (sizeof(address_options) / sizeof(address_options[0]))

static const mlfq_cli_opt_t shared_options[] = {
    {"max-pending", "N",
     "requests in flight beyond which Submit is refused with OVERLOADED "
     "(default 100000)",
     mlfq_cli_set_size, O(max_pending), 0, 1, 1e9},
    {"max-pending-per-conn", "N",
     "requests in flight on one connection beyond which its Submit is "
     "refused with OVERLOADED (default: half of --max-pending); while other "
     "connections have requests in flight, one may also hold no more than "
     "there are free slots",
     mlfq_cli_set_size, O(max_pending_per_conn), 0, 1, 1e9},
    {"max-connections", "N", "client connections at once (default 1024)",
     mlfq_cli_set_uint, O(max_connections), 0, 1, 1e6},
    {"max-frame-bytes", "N", "largest client frame (default 65536)",
     mlfq_cli_set_uint, O(max_frame_bytes), 0, 16, 64 << 20},
    {"max-input-length", "N", "largest input_length (default 1048576)",
     mlfq_cli_set_uint, O(max_input_length), 0, 1, 4294967295.0},
    {"max-output-length", "N", "largest output_length (default 1048576)",
     mlfq_cli_set_uint, O(max_output_length), 0, 1, 4294967295.0},
    {"max-queued-bytes", "N",
     "unread output that disconnects a client; reading pauses at a quarter "
     "(default 8388608)",
     mlfq_cli_set_size, O(max_queued_bytes), 0, 4096, 1e12},
    {"drain-timeout", "S",
     "on SIGINT/SIGTERM, seconds to let requests finish before cancelling "
     "them (default 30)",
     mlfq_cli_set_double, O(drain_timeout), 0, 0, 1e6},
    {"hello-timeout", "S",
     "seconds a client has to send Hello after connecting; then it gets "
     "HELLO_FIRST and is disconnected (default 10)",
     mlfq_cli_set_double, O(hello_timeout), 0, 0.01, 86400},
    {"daemon", NULL, "detach and run in the background", mlfq_cli_set_flag,
     O(daemon), 0, 0, 0},
    {"pidfile", "FILE",
     "write the pid to FILE; refuse to start if it names a live process "
     "or is a symbolic link",
     mlfq_cli_set_str, O(pidfile), 0, 0, 0},
    {"log-file", "FILE",
     "append the log to FILE, a regular file or a character device such as "
     "/dev/null (not a symbolic link, a FIFO or a socket) (default: stderr)",
     mlfq_cli_set_str, O(log_file), 0, 0, 0},
    {"log-level", "LEVEL",
     "error, warn, info or debug (default info); lines about what clients "
     "do pass 20 at once, then 10 a second",
     mlfq_cli_set_str, O(log_level), 0, 0, 0}};

#define NSHARED (sizeof(shared_options) / sizeof(shared_options[0]))

void mlfq_daemon_cli_table(mlfq_cli_opt_t *t, const char *listen_help,
                           const mlfq_cli_opt_t *own, size_t nown,
                           size_t base) {
  size_t i, n = 0;

  if (nown > MLFQ_DAEMON_CLI_OWN ||
      NADDRESS + nown + NSHARED >= MLFQ_DAEMON_CLI_MAX) {
    /* a program's table outgrew the room: a bug, found at its start */
    fprintf(stderr, "mlfq_daemon_cli_table: %zu own options, room for %d\n",
            nown, MLFQ_DAEMON_CLI_OWN);
    abort();
  }
  for (i = 0; i < NADDRESS; i++) {
    t[n] = address_options[i];
    t[n++].off += base;
  }
  t[0].help = listen_help;
  for (i = 0; i < nown; i++)
    t[n++] = own[i];
  for (i = 0; i < NSHARED; i++) {
    t[n] = shared_options[i];
    t[n++].off += base;
  }
  memset(&t[n], 0, sizeof(t[0]));
}

int mlfq_daemon_cli_info(int rc, const char *prog, const char *usage,
                         const mlfq_cli_group_t *groups, size_t ngroups) {
  char version[128];

  snprintf(version, sizeof(version), "%s %s (protocol %d)", prog, MLFQ_VERSION,
           MLFQ_PROTOCOL_VERSION);
  return mlfq_cli_info(rc, usage, groups, ngroups, MLFQ_DAEMON_FOOTER, version);
}

void mlfq_daemon_opts_init(mlfq_daemon_opts_t *o, const char *listen) {
  memset(o, 0, sizeof(*o));
  o->listen = listen;
  o->log_level = "info";
  o->max_pending = 100000;
  o->max_connections = 1024;
  o->max_frame_bytes = MLFQ_FRAME_DEFAULT_MAX;
  o->max_input_length = 1048576;
  o->max_output_length = 1048576;
  o->max_queued_bytes = 8 << 20;
  o->drain_timeout = 30;
  o->hello_timeout = 10;
}

int mlfq_daemon_opts_check(mlfq_daemon_opts_t *o, mlfq_log_level_t *level,
                           char *host, size_t hostlen, int *port, char *err,
                           size_t errlen) {
  if (o->max_pending_per_conn == 0)
    o->max_pending_per_conn = mlfq_admit_default_per_conn(o->max_pending);
  if (o->max_pending_per_conn > o->max_pending)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--max-pending-per-conn: %zu is over --max-pending (%zu)",
                     o->max_pending_per_conn, o->max_pending);
  if (mlfq_log_parse_level(o->log_level, level) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--log-level: '%s' is not error, warn, info or debug",
                     o->log_level);
  if (mlfq_daemon_parse_listen(o->listen, host, hostlen, port) != 0)
    return mlfq_fail(err, errlen, MLFQ_EINVAL,
                     "--listen: '%s' is not HOST:PORT", o->listen);
  return 0;
}

/* The mode of the files mlfq_daemon_publish writes: 0666 less the umask,
 * as open(2) would create them; set by mlfq_daemon_begin. */
static mode_t files_mode = 0644;

/* 1 if path holds the pid of a live process (its pid in *pid), else 0.
 * A symbolic link there is not followed (mlfq_daemon_begin refuses one; a
 * link planted after that is replaced by the rename of
 * mlfq_daemon_publish), nor is a FIFO waited on. */
static int pidfile_live(const char *path, long *pid) {
  char buf[32] = {0};
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  ssize_t n;
  char *end;

  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  *pid = strtol(buf, &end, 10);
  if (end == buf || *pid <= 0)
    return 0;
  return kill((pid_t)*pid, 0) == 0 || errno == EPERM;
}

/* Writes text to path through a temporary file and a rename, so readers
 * never see it half written. The temporary file has an unpredictable name
 * in path's directory and is created there (mkstemp: O_CREAT | O_EXCL), so
 * a symbolic link planted beside path is never followed; rename replaces
 * path itself, even a symbolic link, never its target. The file gets
 * files_mode, not mkstemp's 0600: pid and port files are there for other
 * programs to read. Returns 0 or a negated errno. */
static int write_atomic(const char *path, const char *text) {
  char tmp[PATH_MAX];
  size_t left = strlen(text);
  ssize_t n;
  int fd, rc = 0;

  if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
    return -ENAMETOOLONG;
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (fchmod(fd, files_mode) != 0)
    rc = -errno;
  while (rc == 0 && left > 0) {
    n = write(fd, text, left);
    if (n < 0 && errno != EINTR)
      rc = -errno;
    if (n > 0) {
      text += n;
      left -= (size_t)n;
    }
  }
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc)
    unlink(tmp);
  return rc;
}

/* What --log-file may be: a regular file, or a character device. */
#define LOG_FILE_KIND(m) (S_ISREG(m) || S_ISCHR(m))

/* What a file of mode m that is not a regular file is, for a message. */
static const char *file_kind(mode_t m) {
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISSOCK(m))
    return "a socket";
  if (S_ISCHR(m))
    return "a character device";
  if (S_ISBLK(m))
    return "a block device";
  if (S_ISLNK(m))
    return "a symbolic link";
  return "not a regular file";
}

/* Opens --log-file path to append to, creating it. Only a regular file
 * or a character device (/dev/null): not through a symbolic link (one
 * planted at the path would have the server append to, or create,
 * whatever file it names), and not a FIFO, a socket or a directory. The
 * open does not wait (O_NONBLOCK: a FIFO with no reader fails at once,
 * ENXIO); the log is written blocking (by its writer thread, log.c).
 * Returns the descriptor, or -1 after saying why on stderr. */
static int open_log(const char *prog, const char *path) {
  struct stat st;
  int fd, flags, err;

  fd = open(path,
            O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
            0666);
  err = errno;
  if (fd < 0 && err == ELOOP) {
    fprintf(stderr,
            "%s: --log-file: %s is a symbolic link, which is not followed\n",
            prog, path);
    return -1;
  }
  if (fd < 0 && lstat(path, &st) == 0 && !LOG_FILE_KIND(st.st_mode)) {
    fprintf(stderr, "%s: --log-file: %s is %s, not a regular file\n", prog,
            path, file_kind(st.st_mode));
    return -1;
  }
  if (fd < 0) {
    fprintf(stderr, "%s: --log-file: cannot open %s: %s\n", prog, path,
            strerror(err));
    return -1;
  }
  if (fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: --log-file: cannot stat %s: %s\n", prog, path,
            strerror(errno));
    close(fd);
    return -1;
  }
  if (!LOG_FILE_KIND(st.st_mode)) {
    fprintf(stderr, "%s: --log-file: %s is %s, not a regular file\n", prog,
            path, file_kind(st.st_mode));
    close(fd);
    return -1;
  }
  flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    fprintf(stderr, "%s: --log-file: %s: %s\n", prog, path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Detaches: the parent waits until the child reports its bound address
 * (or an error) through a pipe, prints it and exits 0 (or 1). Returns in
 * the child, with *notify the pipe's write end, or a negated errno. */
static int daemonize(const char *prog, int *notify) {
  char buf[512];
  ssize_t n, got = 0;
  int fds[2], null;
  pid_t pid;

  if (pipe(fds) != 0)
    return -errno;
  pid = fork();
  if (pid < 0)
    return -errno;
  if (pid > 0) {
    close(fds[1]);
    while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 ||
           (n < 0 && errno == EINTR))
      if (n > 0)
        got += n;
    buf[got] = '\0';
    if (got > 0 && buf[0] == '+') {
      fputs(buf + 1, stdout);
      exit(0);
    }
    if (got > 1)
      fputs(buf + 1, stderr);
    else
      fprintf(stderr, "%s: failed to start\n", prog);
    exit(1);
  }
  close(fds[0]);
  if (setsid() < 0)
    return -errno;
  null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2); /* the log goes to --log-file, or nowhere */
    if (null > 2)
      close(null);
  }
  *notify = fds[1];
  return 0;
}

int mlfq_daemon_begin(mlfq_daemon_t *d, const char *prog, const char *pidfile,
                      const char *log_file, mlfq_log_level_t level,
                      int detach) {
  struct stat st;
  char err[600];
  mode_t mask;
  long pid;
  int rc;

  memset(d, 0, sizeof(*d));
  d->prog = prog;
  d->pidfile = pidfile;
  d->log_fd = -1;
  d->notify = -1;
  mlfq_log_init(prog, level, -1); /* stderr, until the log file is open */
  /* Reading the umask sets it: before any thread could create a file. */
  mask = umask(0);
  umask(mask);
  files_mode = 0666 & ~mask;
  /* A symbolic link at the pidfile's path is not read (pidfile_live), so
   * the live instance whose pidfile it names would not stop this one, and
   * the rename would replace the link: refused. */
  if (pidfile != NULL && lstat(pidfile, &st) == 0 && S_ISLNK(st.st_mode)) {
    fprintf(stderr,
            "%s: --pidfile: %s is a symbolic link, which is not followed\n",
            prog, pidfile);
    return 2;
  }
  if (pidfile != NULL && pidfile_live(pidfile, &pid)) {
    snprintf(err, sizeof(err), "%s names process %ld, which is running",
             pidfile, pid);
    return mlfq_daemon_fail(d, err);
  }
  if (log_file != NULL) {
    d->log_fd = open_log(prog, log_file);
    if (d->log_fd < 0)
      return 2;
    mlfq_log_set_output(d->log_fd);
  }
  if (detach) {
    rc = daemonize(prog, &d->notify);
    if (rc) {
      snprintf(err, sizeof(err), "cannot detach: %s", strerror(-rc));
      return mlfq_daemon_fail(d, err);
    }
  }
  /* After the fork: a thread does not survive it. */
  rc = mlfq_log_start();
  if (rc) {
    snprintf(err, sizeof(err), "cannot start the log thread: %s",
             strerror(-rc));
    return mlfq_daemon_fail(d, err);
  }
  return 0;
}

int mlfq_daemon_write_port_file(const char *path, const char *opt,
                                const char *bound, char *err, size_t errlen) {
  char line[600];
  int rc;

  snprintf(line, sizeof(line), "%s\n", bound);
  rc = write_atomic(path, line);
  if (rc)
    return mlfq_fail(err, errlen, rc, "%s: cannot write %s: %s", opt, path,
                     strerror(-rc));
  return 0;
}

int mlfq_daemon_publish(mlfq_daemon_t *d, const char *bound,
                        const char *port_file, char *err, size_t errlen) {
  char line[600];
  int rc;

  if (port_file != NULL) {
    rc = mlfq_daemon_write_port_file(port_file, "--port-file", bound, err,
                                     errlen);
    if (rc)
      return rc;
  }
  if (d->pidfile != NULL) {
    snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    rc = write_atomic(d->pidfile, line);
    if (rc)
      return mlfq_fail(err, errlen, rc, "--pidfile: cannot write %s: %s",
                       d->pidfile, strerror(-rc));
    d->pidfile_written = 1;
  }
  return 0;
}

void mlfq_daemon_ready(mlfq_daemon_t *d, const char *bound) {
  char line[600];

  snprintf(line, sizeof(line), "+%s\n", bound);
  if (d->notify >= 0) {
    (void)!write(d->notify, line, strlen(line));
    close(d->notify);
    d->notify = -1;
  } else {
    fputs(line + 1, stdout);
    fflush(stdout);
  }
}

int mlfq_daemon_signal(mlfq_daemon_t *d, int signum) {
  if (++d->signals > 1) {
    mlfq_log(MLFQ_LOG_WARN, "second signal %d: exiting at once", signum);
    if (d->pidfile_written)
      unlink(d->pidfile);
    (void)mlfq_log_stop(MLFQ_DAEMON_LOG_FLUSH_S);
    _exit(1);
  }
  mlfq_log(MLFQ_LOG_INFO, "signal %d: draining", signum);
  return 1;
}

/* Writes out what the log holds (for at most MLFQ_DAEMON_LOG_FLUSH_S) and
 * closes the log file, unless its writer is still blocked in it. */
static void close_log(mlfq_daemon_t *d) {
  if (mlfq_log_stop(MLFQ_DAEMON_LOG_FLUSH_S) != 0)
    return;
  if (d->log_fd >= 0) {
    mlfq_log_set_output(-1);
    close(d->log_fd);
  }
  d->log_fd = -1;
}

int mlfq_daemon_fail(mlfq_daemon_t *d, const char *err) {
  char line[700];

  /* Through the log when it is a file, or stderr: after the lines it
   * holds, and written by its writer within the bound of close_log (a
   * stderr nobody reads is left behind). Detached, stderr is /dev/null. */
  if (d->log_fd >= 0 || d->notify < 0)
    mlfq_log(MLFQ_LOG_ERROR, "%s", err);
  if (d->notify >= 0) {
    snprintf(line, sizeof(line), "-%s: %s\n", d->prog, err);
    (void)!write(d->notify, line, strlen(line));
  } else if (d->log_fd >= 0) {
    fprintf(stderr, "%s: %s\n", d->prog, err);
  }
  if (d->pidfile_written)
    unlink(d->pidfile);
  close_log(d);
  return 1;
}

int mlfq_daemon_end(mlfq_daemon_t *d, int status) {
  if (d->pidfile_written)
    unlink(d->pidfile);
  mlfq_log(MLFQ_LOG_INFO, "stopped");
  close_log(d);
  return status;
}
