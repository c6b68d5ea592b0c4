/* The lorabert command line: one file per subcommand, each `int cmd_X(int argc, char **argv)`
 * returning the process exit status (an lb_status value). */
#ifndef LB_CLI_CLI_H
#define LB_CLI_CLI_H
#include <stdio.h>
#include "lorabert.h"

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* The process's OpenMP team size, which OpenBLAS's OpenMP build follows too (n <= 0: leave
 * the default), for commands whose library calls take no thread count. */
void cli_set_threads(long n);
/* Prints "lorabert: <msg>" on stderr and returns err->code (the exit status). */
int cli_fail(const lb_error *err);
/* Sets err to code + a printf-formatted message (the CLI's own errors); returns code. */
lb_status cli_err(lb_error *err, lb_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints "lorabert <cmd>: <msg>" plus a --help hint and returns LB_ERR_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s as a JSON string (UTF-8 passes through; quotes, backslashes, controls escaped). */
void cli_put_json_string(FILE *out, const char *s);

#endif
