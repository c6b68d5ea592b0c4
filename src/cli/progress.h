/* What `lorabert train` shows while it runs, from the library's training callbacks.
 *
 * Owns: the terminal progress line (rewritten in place with \r when the stream is a terminal),
 * the plain progress lines of logs (about ten per epoch), the per-epoch table in HF's
 * notebook layout ("Epoch  Training Loss  Validation Loss  Accuracy ..."; with --eval-strategy
 * steps an epoch's row shows its last mid-epoch evaluation, "(eval at step N)"), and the library's
 * notices, one per line.
 * Why: the library never prints nor calls isatty(); the CLI decides how a run looks, and its
 * output is an interface (tests and users grep it).
 * Guarantees: everything goes to the one FILE * given, flushed after each line; a progress
 * line left open (terminal) is closed with a newline before any other output and by
 * cli_progress_end. */
#ifndef LB_CLI_PROGRESS_H
#define LB_CLI_PROGRESS_H
#include <stdbool.h>
#include <stdio.h>
#include "lorabert.h"

typedef struct cli_progress {
    FILE *f;
    bool tty;           /* rewrite one line in place */
    bool line_open;     /* a \r progress line without its newline yet */
    bool table_started; /* the table header has been printed */
    /* the last evaluation of --eval-strategy steps (on_evaluate), shown in its epoch's row */
    int eval_epoch; /* 0: none */
    int64_t eval_step;
    lb_eval_result eval;
} cli_progress;

/* Shows progress on f (terminal mode when f is a terminal). */
void cli_progress_init(cli_progress *p, FILE *f);
/* Callbacks printing to p; cancel (may be NULL) is passed through. */
lb_train_callbacks cli_progress_callbacks(cli_progress *p, volatile int *cancel);
/* Ends an open progress line (after the run, whatever its outcome). */
void cli_progress_end(cli_progress *p);

#endif
