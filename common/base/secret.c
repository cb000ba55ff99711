/* DESIGN: the secret is read once, under pthread_once, so that a key is
 * never drawn from a half-written secret whichever thread asks first.
 * getrandom(2) waits, at boot only, until the kernel's pool is
 * initialised, and then never fails for 16 bytes but on kernels before
 * 3.17 (ENOSYS) or under a seccomp filter (EPERM); /dev/urandom is the
 * fallback then. Keys are SipHash-2-4(secret, 2i) and SipHash-2-4(secret,
 * 2i + 1) for the i-th call: distinct tables get independent keys, and learning
 * one table's layout tells nothing of another's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/error.h"
#include "base/secret.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static mlfq_siphash_key_t secret;
static int secret_err;
static atomic_uint_fast64_t next_key;

static int from_getrandom(unsigned char *b, size_t len) {
  ssize_t n;
  size_t got = 0;

  while (got < len) {
    n = getrandom(b + got, len - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    got += (size_t)n;
  }
  return 0;
}

static int from_urandom(unsigned char *b, size_t len) {
  ssize_t n;
  size_t got = 0;
  int fd, err = 0;

  do
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  while (got < len) {
    n = read(fd, b + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = n < 0 ? -errno : MLFQ_EIO;
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  return err;
}

static uint64_t load_le(const unsigned char *p) {
  uint64_t w = 0;
  int i;

  for (i = 0; i < 8; i++)
    w |= (uint64_t)p[i] << (8 * i);
  return w;
}

static void read_secret(void) {
  unsigned char b[16];

  secret_err = from_getrandom(b, sizeof(b));
  if (secret_err)
    secret_err = from_urandom(b, sizeof(b));
  if (secret_err == 0) {
    secret.k0 = load_le(b);
    secret.k1 = load_le(b + 8);
  }
}

int mlfq_secret_init(void) {
  pthread_once(&once, read_secret);
  return secret_err;
}

/* SipHash-2-4 under the secret of the 8 little-endian bytes of w. */
static uint64_t derive(uint64_t w) {
  unsigned char b[8];
  int i;

  for (i = 0; i < 8; i++)
    b[i] = (unsigned char)(w >> (8 * i));
  return mlfq_siphash24(&secret, b, sizeof(b));
}

int mlfq_secret_key(mlfq_siphash_key_t *k) {
  uint64_t i;
  int err;

  err = mlfq_secret_init();
  if (err)
    return err;
  i = atomic_fetch_add(&next_key, 1);
  k->k0 = derive(2 * i);
  k->k1 = derive(2 * i + 1);
  return 0;
}
