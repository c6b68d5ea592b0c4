/* The one option parser of every lorabert command.
 *
 * Owns: turning argv into option values and positional arguments, and printing --help from the
 * same table (each option's help line with its default), so a command's options, their checks
 * and their documentation cannot drift apart. Rules: "--name VALUE" or "--name=VALUE"; a flag
 * takes no value; numbers are checked against [min, max] (integers must be whole); "--" ends the
 * options; "-" alone and anything not starting with '-' is positional. Errors print one line
 * ("lorabert CMD: ... (see 'lorabert CMD --help')") and give LB_ERR_USAGE. */
#ifndef LB_CLI_OPTIONS_H
#define LB_CLI_OPTIONS_H
#include <stdbool.h>
#include "lorabert.h"

typedef enum { OPT_STR, OPT_INT, OPT_F64, OPT_FLAG, OPT_MULTI } opt_kind;

/* OPT_MULTI's destination: every value of a repeatable option, in order (v freed by the caller). */
typedef struct cli_strlist {
    const char **v;
    int n;
} cli_strlist;

typedef struct cli_opt {
    const char *name; /* "--epochs" */
    opt_kind kind;
    void *dest;          /* const char ** / long * / double * / bool * / cli_strlist * */
    const char *metavar; /* "N" */
    const char *help;    /* one line; the default is printed from *dest */
    double min, max;     /* numeric range (inclusive) */
} cli_opt;

typedef struct cli_command {
    const char *name;  /* "predict" */
    const char *usage; /* "usage: lorabert predict ...\n\nWhat it does.\n" */
    const cli_opt *opts;
    int nopts;
    const char *positional; /* metavar of positional arguments ("TEXT"), NULL: none accepted */
    int max_positional;     /* 0: any number */
    const char *epilog;     /* after the options (NULL: the exit statuses of train/eval) */
} cli_command;

/* Parses argv[1..argc). Positional arguments go to *pos / *npos (malloc'd array of argv
 * pointers, free()d by the caller; NULL when none). "-h"/"--help" prints the help and sets
 * *help_shown. Returns 0 or LB_ERR_USAGE (message printed). */
int cli_parse_command(const cli_command *cmd, int argc, char **argv, char ***pos, int *npos, bool *help_shown);
/* cli_parse_command for a command without positional arguments and the default epilog. */
int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int nopts, int argc, char **argv,
              bool *help_shown);

/* An option whose value must be one of a set of names, or (names NULL) must not be empty; a
 * table of them is checked in one call. */
typedef struct cli_choice {
    const char *value;        /* the parsed value; NULL: not given, nothing to check */
    const char *const *names; /* the accepted values, NULL-terminated; NULL: any but "" */
    const char *msg;          /* the usage error when value is none of them */
} cli_choice;
/* The choices in table order: the first whose value is refused prints its msg as cmd's usage
 * error (cli_usage_error) and gives LB_ERR_USAGE; 0 when all are fine. */
int cli_check_choices(const char *cmd, const cli_choice *choices, int n);

/* "a,b,c" -> a malloc'd NULL-terminated list of malloc'd strings; *n gets the count. Empty items
 * are kept ("a,,b" has 3). NULL (and *n = 0) for NULL or "", or when out of memory. */
char **cli_split_list(const char *s, int *n);
/* Frees a cli_split_list result (NULL is fine). */
void cli_free_list(char **list);
#endif
