/* Table-driven command-line parsing.
 *
 * A program lists its options in groups of mlfq_cli_opt_t, each group
 * writing into one struct; the same tables print --help, so the help always
 * matches what is parsed. Options are GNU-style long options, "--name VALUE"
 * or "--name=VALUE"; -h/--help and -V/--version are built in.
 */
#ifndef MLFQ_CLI_H
#define MLFQ_CLI_H

#include <stddef.h>
#include <stdio.h>

typedef struct mlfq_cli_opt_s mlfq_cli_opt_t;

/* Stores val into field (the option's member of the group's struct).
 * Returns 0, or a negative code with a message in err that does not repeat
 * the option's name. */
typedef int (*mlfq_cli_set_fn)(const mlfq_cli_opt_t *o, void *field,
                               const char *val, char *err, size_t errlen);

struct mlfq_cli_opt_s {
  const char *name; /* without "--"; NULL ends a table */
  const char *arg;  /* the value's name in --help, NULL for a flag */
  const char *help; /* one line, with the default and the unit */
  mlfq_cli_set_fn set;
  size_t off;   /* of the field in the group's struct */
  size_t given; /* offset + 1 of an int set to 1 when given; 0: none */
  double min;   /* numeric setters: accepted range */
  double max;
};

typedef struct {
  const char *title;
  const mlfq_cli_opt_t *opts;
  void *base;
} mlfq_cli_group_t;

#define MLFQ_CLI_GIVEN(type, field) (offsetof(type, field) + 1)

/* A repeatable option's values, in order (mlfq_cli_set_list). */
#define MLFQ_CLI_LIST_MAX 16
typedef struct {
  const char *v[MLFQ_CLI_LIST_MAX];
  size_t n;
} mlfq_cli_list_t;

/* Setters: an unsigned (field unsigned), a size_t, a uint64_t, a double
 * (accepts "inf" when max is INFINITY), a string (kept by pointer into
 * argv), a flag (int set to 1; the option takes no value). */
int mlfq_cli_set_uint(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen);
int mlfq_cli_set_size(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen);
int mlfq_cli_set_u64(const mlfq_cli_opt_t *o, void *field, const char *val,
                     char *err, size_t errlen);
int mlfq_cli_set_double(const mlfq_cli_opt_t *o, void *field, const char *val,
                        char *err, size_t errlen);
int mlfq_cli_set_str(const mlfq_cli_opt_t *o, void *field, const char *val,
                     char *err, size_t errlen);
/* Appends to an mlfq_cli_list_t (at most MLFQ_CLI_LIST_MAX values). */
int mlfq_cli_set_list(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen);
int mlfq_cli_set_flag(const mlfq_cli_opt_t *o, void *field, const char *val,
                      char *err, size_t errlen);

enum { MLFQ_CLI_RUN = 0, MLFQ_CLI_HELP = 1, MLFQ_CLI_VERSION = 2 };

/* Parses argv[1..argc) into the groups. Arguments that are not options are
 * collected, in order, into pos[0..*npos) (at most maxpos; NULL/0 refuses
 * them). Returns MLFQ_CLI_RUN, MLFQ_CLI_HELP or MLFQ_CLI_VERSION, or a
 * negative code with "--name: what is wrong" in err. */
int mlfq_cli_parse(int argc, char **argv, const mlfq_cli_group_t *groups,
                   size_t ngroups, char **pos, size_t maxpos, size_t *npos,
                   char *err, size_t errlen);

/* Prints every group's options with their help to f, then -h and -V. */
void mlfq_cli_help(FILE *f, const mlfq_cli_group_t *groups, size_t ngroups);

/* Answers --help and --version, which mlfq_cli_parse returned as rc: for
 * MLFQ_CLI_HELP prints usage, the options of groups[0..ngroups) and footer
 * on stdout; for MLFQ_CLI_VERSION prints the line version and a newline.
 * Returns 1 when it printed (the program exits 0), else 0. */
int mlfq_cli_info(int rc, const char *usage, const mlfq_cli_group_t *groups,
                  size_t ngroups, const char *footer, const char *version);

#endif
