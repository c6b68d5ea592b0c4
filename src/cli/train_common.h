/* Shared pieces of the train / eval / merge commands: a table-driven option parser that also
 * prints --help with defaults, model and dataset resolution (local path or hub id), label
 * discovery for adapters, and thread settings. */
#ifndef LB_CLI_TRAIN_COMMON_H
#define LB_CLI_TRAIN_COMMON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

/* Local folder, or a hub repo id downloaded into the HF cache (weights, config, tokenizer). */
lb_status cli_resolve_model(const char *id_or_dir, char **dir, lb_error *err);
/* The files of one split of a dataset (a local file, a local HF dataset folder, or a hub dataset
 * id downloaded into the HF cache). In a folder, in this order: <split>.<ext> or <split>[-._]*.<ext>
 * at the top level, then data/, then the refs/convert/parquet layout <config>/<split>/NNNN.parquet
 * (config "default" first, else the first by name). Files named <split>-* are shards: all of
 * them, sorted by name, make the split. ext: parquet, csv, jsonl, json, tsv.
 * *paths is a NULL-terminated list (cli_free_list); *n its count. */
lb_status cli_resolve_split(const char *dataset, const char *split, char ***paths, int *n, lb_error *err);

/* Loads and concatenates the shards paths[0..n) (labels required). String labels become the
 * sorted union of the shards' values (out->label_names); integer labels are kept. */
lb_status cli_dataset_load(char *const *paths, int n, const char *text_col, const char *pair_col,
                           const char *label_col, lb_dataset *out, lb_error *err);
/* Chooses the class names of string-labelled datasets ds[0..nd): `names` [n_names] when they cover
 * every value, else the sorted union of the values; relabels every dataset to it. *out_names
 * (NULL-terminated, cli_free_list) and *out_n get the mapping; *out_names is NULL when the labels
 * are integers (nothing to map). */
lb_status cli_map_labels(lb_dataset *ds, int nd, char *const *names, int n_names, char ***out_names, int *out_n,
                         lb_error *err);
/* Prints "labels: 0=neg 1=pos" to f. */
void cli_print_labels(FILE *f, char *const *names, int n);
/* Tokenizes a loaded dataset for the model (pairs when it has text_pairs). */
lb_status cli_tokset(const lb_dataset *d, const lb_tokenizer *tok, int num_labels, int max_length, bool truncate_left,
                     const char *what, lb_tokset *out, lb_error *err);

/* Number of labels and their names for an adapter folder: labels.json, else the head's
 * classifier weight shape in adapter_model.safetensors; 0 when neither says. names may be NULL. */
lb_status cli_adapter_labels(const char *adapter_dir, int *num_labels, char ***names, lb_error *err);
/* Splits "a,b,c" into a malloc'd NULL-terminated list; *n gets the count. */
char **cli_split_list(const char *s, int *n);
void cli_free_list(char **list);
/* OpenMP + OpenBLAS threads (n <= 0: leave the defaults). */
void cli_set_threads(long n);
#endif
