/* Labelled text datasets for classification: picks the text (and optional text-pair) and label
 * columns out of a CSV/TSV/JSONL/JSON/Parquet file and maps labels to class indices. */
#ifndef LB_DATA_DATASET_H
#define LB_DATA_DATASET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef struct lb_dataset {
    size_t n;
    char **texts;          /* [n] UTF-8, NUL-terminated */
    char **text_pairs;     /* [n] or NULL */
    int32_t *labels;       /* [n] class index in [0,num_labels), or -1 when the file has no label column */
    int num_labels;
    char **label_names;    /* [num_labels] or NULL (int labels without names) */
} lb_dataset;

typedef struct lb_dataset_opts {
    const char *text_column;       /* default "text" */
    const char *label_column;      /* default "label"; missing column -> labels all -1 unless require_labels */
    const char *text_pair_column;  /* NULL: single-text task */
    char *const *label_names;      /* known names (model's id2label) used to map string labels; may be NULL */
    int n_label_names;
    bool require_labels;
} lb_dataset_opts;

/* Loads path, choosing the reader by extension: .csv, .tsv, .jsonl, .json, .parquet.
 * opts may be NULL (all defaults). Labels:
 *  - integers (or, in CSV/TSV, strings that are all integers) are used as-is; they must be >= 0;
 *    num_labels = max + 1, or n_label_names when label_names is given (labels must be below it);
 *  - booleans are 0/1;
 *  - strings are mapped through label_names when given (an unknown one is an error naming the
 *    row and value), otherwise the sorted unique values become classes 0..k-1 (label_names kept);
 *  - a null label is an error when require_labels, else -1 for that row.
 * Rows in messages are 0-based data rows (the header is not counted). */
lb_status lb_dataset_load(const char *path, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err);
void lb_dataset_free(lb_dataset *d);

#endif
