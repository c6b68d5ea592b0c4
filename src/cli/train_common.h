/* Shared pieces of the train / eval / merge commands: a table-driven option parser that also
 * prints --help with defaults, model resolution (local path or hub id), label discovery for
 * adapters, and thread settings. Splits and labels are the data layer's (data/splits.h,
 * data/labels.h). */
#ifndef LB_CLI_TRAIN_COMMON_H
#define LB_CLI_TRAIN_COMMON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"
#include "base/strlist.h"
#include "cli/options.h"
#include "data/dataset.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

/* Local folder, or a hub repo id downloaded into the HF cache (weights, config, tokenizer). */
lb_status cli_resolve_model(const char *id_or_dir, char **dir, lb_error *err);
/* Prints "labels: 0=neg 1=pos" to f. */
void cli_print_labels(FILE *f, char *const *names, int n);
/* Tokenizes a loaded dataset for the model (pairs when it has text_pairs). */
lb_status cli_tokset(const lb_dataset *d, const lb_tokenizer *tok, int num_labels, int max_length, bool truncate_left,
                     const char *what, lb_tokset *out, lb_error *err);

/* Number of labels and their names for an adapter folder: labels.json, else the head's
 * classifier weight shape in adapter_model.safetensors; 0 when neither says. names may be NULL. */
lb_status cli_adapter_labels(const char *adapter_dir, int *num_labels, char ***names, lb_error *err);
/* Frees a NULL-terminated string list (base/strlist.h). */
static inline void cli_free_list(char **list) { lb_free_list(list); }
#endif
