/* Shared pieces of the train / eval / merge commands: a table-driven option parser that also
 * prints --help with defaults, model and dataset resolution (local path or hub id), label
 * discovery for adapters, and thread settings. */
#ifndef LB_CLI_TRAIN_COMMON_H
#define LB_CLI_TRAIN_COMMON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

typedef enum { OPT_STR, OPT_INT, OPT_F64, OPT_FLAG } opt_kind;
typedef struct cli_opt {
    const char *name;       /* "--epochs" */
    opt_kind kind;
    void *dest;             /* const char ** / long * / double * / bool * */
    const char *metavar;    /* "N" */
    const char *help;       /* one line; the default is printed from *dest */
    double min, max;        /* numeric range (inclusive) */
} cli_opt;

/* Parses argv[1..argc) against opts; "-h"/"--help" prints usage and sets *help_shown.
 * Returns 0 or LB_ERR_USAGE (message printed). */
int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int nopts, int argc, char **argv,
              bool *help_shown);

/* Local folder, or a hub repo id downloaded into the HF cache (weights, config, tokenizer). */
lb_status cli_resolve_model(const char *id_or_dir, char **dir, lb_error *err);
/* A split of a dataset: a local file, or a hub dataset id whose snapshot holds a file named
 * like <split>*.{parquet,csv,jsonl,json,tsv} (top level or data/). */
lb_status cli_resolve_split(const char *dataset, const char *split, char **path, lb_error *err);

/* Loads a labelled file and tokenizes it for the model (num_labels, label names). */
lb_status cli_load_tokset(const char *path, const char *text_col, const char *label_col, char **label_names,
                          int num_labels, const lb_tokenizer *tok, int max_length, bool truncate_left,
                          lb_tokset *out, lb_error *err);

/* Number of labels and their names for an adapter folder: labels.json, else the head's
 * classifier weight shape in adapter_model.safetensors; 0 when neither says. names may be NULL. */
lb_status cli_adapter_labels(const char *adapter_dir, int *num_labels, char ***names, lb_error *err);
/* Splits "a,b,c" into a malloc'd NULL-terminated list; *n gets the count. */
char **cli_split_list(const char *s, int *n);
void cli_free_list(char **list);
/* OpenMP + OpenBLAS threads (n <= 0: leave the defaults). */
void cli_set_threads(long n);
#endif
