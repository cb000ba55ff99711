/* A main for the fuzz harnesses without libFuzzer: feeds each file named
 * on the command line (each file of a directory named) to
 * LLVMFuzzerTestOneInput once, so that any compiler builds the harnesses
 * and ctest replays the seed corpora and the regressions. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  uint8_t *buf;
  size_t n = 0;
  long len;
  FILE *f = fopen(path, "rb");

  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    if (f != NULL)
      fclose(f);
    return -1;
  }
  /* One byte more than the file, so that an empty input is not NULL. */
  buf = malloc((size_t)len + 1);
  if (buf == NULL) {
    fclose(f);
    return -1;
  }
  if (len > 0)
    n = fread(buf, 1, (size_t)len, f);
  fclose(f);
  if (n != (size_t)len) {
    free(buf);
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int compare(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a file, or every regular file of a directory in name order.
 * Returns how many, or -1 on error. */
static long replay_path(const char *path) {
  struct stat st;
  struct dirent *e;
  char **names = NULL, full[4096];
  size_t n = 0, cap = 0, i;
  long count = 0;
  DIR *d;

  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: no such file: %s\n", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return replay_file(path) == 0 ? 1 : -1;
  d = opendir(path);
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **nn;

      cap = cap ? 2 * cap : 64;
      nn = realloc(names, cap * sizeof(*names));
      if (nn == NULL)
        break;
      names = nn;
    }
    names[n] = strdup(e->d_name);
    if (names[n] != NULL)
      n++;
  }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof(*names), compare);
  for (i = 0; i < n; i++) {
    snprintf(full, sizeof(full), "%s/%s", path, names[i]);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
      if (replay_file(full) != 0)
        count = -1;
      else if (count >= 0)
        count++;
    }
    free(names[i]);
  }
  free(names);
  return count;
}

int main(int argc, char **argv) {
  long n, total = 0;
  int i, status = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    n = replay_path(argv[i]);
    if (n < 0)
      status = 1;
    else
      total += n;
  }
  printf("replayed %ld inputs\n", total);
  return status;
}
