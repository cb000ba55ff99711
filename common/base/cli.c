#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/units.h"

static int range_error(const mlfq_cli_opt_t *o, const char *val, char *err,
                       size_t errlen) {
  if (isinf(o->max))
    return mlfq_fail(err, errlen, MLFQ_ERANGE, "%s is below %g", val, o->min);
  return mlfq_fail(err, errlen, MLFQ_ERANGE, "%s is not in [%g, %g]", val,
                   o->min, o->max);
}

static int parse_u64(const mlfq_cli_opt_t *o, const char *val, uint64_t max,
                     uint64_t *out, char *err, size_t errlen) {
  int rc = mlfq_parse_u64(val, strlen(val), max, out);

  if (rc == MLFQ_EPARSE)
    return mlfq_fail(err, errlen, rc, "'%s' is not a whole number", val);
  if (rc || (double)*out < o->min || (double)*out > o->max)
    return range_error(o, val, err, errlen);
  return 0;
}

int mlfq_cli_set_uint(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen) {
  uint64_t v;
  int rc = parse_u64(o, val, UINT_MAX, &v, err, errlen);

  if (rc == 0)
    *(unsigned *)field = (unsigned)v;
  return rc;
}

int mlfq_cli_set_size(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen) {
  uint64_t v;
  int rc = parse_u64(o, val, SIZE_MAX, &v, err, errlen);

  if (rc == 0)
    *(size_t *)field = (size_t)v;
  return rc;
}

int mlfq_cli_set_u64(const mlfq_cli_opt_t *o, void *field, const char *val,
                     char *err, size_t errlen) {
  uint64_t v;
  int rc = parse_u64(o, val, UINT64_MAX, &v, err, errlen);

  if (rc == 0)
    *(uint64_t *)field = v;
  return rc;
}

int mlfq_cli_set_double(const mlfq_cli_opt_t *o, void *field, const char *val,
                        char *err, size_t errlen) {
  double v;

  if (isinf(o->max) &&
      (strcmp(val, "inf") == 0 || strcmp(val, "infinity") == 0)) {
    *(double *)field = INFINITY;
    return 0;
  }
  if (mlfq_parse_double(val, &v))
    return mlfq_fail(err, errlen, MLFQ_EPARSE, "'%s' is not a number", val);
  if (v < o->min || v > o->max)
    return range_error(o, val, err, errlen);
  *(double *)field = v;
  return 0;
}

int mlfq_cli_set_str(const mlfq_cli_opt_t *o, void *field, const char *val,
                     char *err, size_t errlen) {
  (void)o;
  if (*val == '\0')
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "empty value");
  *(const char **)field = val;
  return 0;
}

int mlfq_cli_set_list(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen) {
  mlfq_cli_list_t *l = field;

  (void)o;
  if (*val == '\0')
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "empty value");
  if (l->n == MLFQ_CLI_LIST_MAX)
    return mlfq_fail(err, errlen, MLFQ_EINVAL, "given more than %d times",
                     MLFQ_CLI_LIST_MAX);
  l->v[l->n++] = val;
  return 0;
}

int mlfq_cli_set_flag(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen) {
  (void)o;
  (void)val;
  (void)err;
  (void)errlen;
  *(int *)field = 1;
  return 0;
}

static const mlfq_cli_opt_t *find(const mlfq_cli_group_t *groups,
                                  size_t ngroups, const char *name, size_t len,
                                  void **base) {
  const mlfq_cli_opt_t *o;
  size_t g;

  for (g = 0; g < ngroups; g++) {
    for (o = groups[g].opts; o->name != NULL; o++) {
      if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
        *base = groups[g].base;
        return o;
      }
    }
  }
  return NULL;
}

int mlfq_cli_parse(int argc, char **argv, const mlfq_cli_group_t *groups,
                   size_t ngroups, char **pos, size_t maxpos, size_t *npos,
                   char *err, size_t errlen) {
  const mlfq_cli_opt_t *o;
  const char *name, *eq, *val;
  char msg[256];
  size_t len;
  void *base;
  int i, rc, only_pos = 0;

  if (npos != NULL)
    *npos = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];

    if (only_pos || a[0] != '-' || a[1] == '\0') {
      if (npos == NULL || *npos >= maxpos)
        return mlfq_fail(err, errlen, MLFQ_EINVAL, "unexpected argument '%s'",
                         a);
      pos[(*npos)++] = argv[i];
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
      return MLFQ_CLI_HELP;
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
      return MLFQ_CLI_VERSION;
    if (a[1] != '-')
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "unknown option '%s' (options are long: see --help)", a);
    name = a + 2;
    eq = strchr(name, '=');
    len = eq ? (size_t)(eq - name) : strlen(name);
    o = find(groups, ngroups, name, len, &base);
    if (o == NULL)
      return mlfq_fail(err, errlen, MLFQ_EINVAL,
                       "unknown option '--%.*s' (see --help)", (int)len, name);
    if (o->arg == NULL) {
      if (eq != NULL)
        return mlfq_fail(err, errlen, MLFQ_EINVAL, "--%s takes no value",
                         o->name);
      val = "";
    } else if (eq != NULL) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      return mlfq_fail(err, errlen, MLFQ_EINVAL, "--%s needs a value (%s)",
                       o->name, o->arg);
    }
    rc = o->set(o, (char *)base + o->off, val, msg, sizeof(msg));
    if (rc)
      return mlfq_fail(err, errlen, rc, "--%s: %s", o->name, msg);
    if (o->given != 0)
      *(int *)((char *)base + o->given - 1) = 1;
  }
  return MLFQ_CLI_RUN;
}

/* Prints text word-wrapped to lines of at most width columns, the first
 * continuing the current line and the others indented by indent. */
static void wrap(FILE *f, const char *text, int indent, int width) {
  const char *p = text, *word;
  int col = 0, len;

  while (*p != '\0') {
    while (*p == ' ')
      p++;
    word = p;
    while (*p != '\0' && *p != ' ')
      p++;
    len = (int)(p - word);
    if (len == 0)
      break;
    if (col > 0 && col + 1 + len > width) {
      fprintf(f, "\n%*s", indent, "");
      col = 0;
    } else if (col > 0) {
      fputc(' ', f);
      col++;
    }
    fwrite(word, 1, (size_t)len, f);
    col += len;
  }
  fputc('\n', f);
}

void mlfq_cli_help(FILE *f, const mlfq_cli_group_t *groups, size_t ngroups) {
  const mlfq_cli_opt_t *o;
  char left[64];
  size_t g;

  for (g = 0; g < ngroups; g++) {
    fprintf(f, "\n%s:\n", groups[g].title);
    for (o = groups[g].opts; o->name != NULL; o++) {
      snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
               o->arg ? o->arg : "");
      if (strlen(left) <= 26)
        fprintf(f, "  %-27s ", left);
      else
        fprintf(f, "  %s\n  %-27s ", left, "");
      wrap(f, o->help, 30, 49);
    }
  }
  fprintf(f, "\n  %-27s %s\n  %-27s %s\n", "-h, --help", "show this help",
          "-V, --version", "show the version");
}

int mlfq_cli_info(int rc, const char *usage, const mlfq_cli_group_t *groups,
                  size_t ngroups, const char *footer, const char *version) {
  if (rc == MLFQ_CLI_HELP) {
    fputs(usage, stdout);
    mlfq_cli_help(stdout, groups, ngroups);
    fputs(footer, stdout);
    return 1;
  }
  if (rc == MLFQ_CLI_VERSION) {
    printf("%s\n", version);
    return 1;
  }
  return 0;
}
