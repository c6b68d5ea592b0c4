/* Labelled text datasets for classification: picks the text (and optional text-pair) and label
 * columns out of a CSV/TSV/JSONL/JSON/Parquet file and maps labels to class indices (the label
 * rule itself, and the mapping onto known label names, live in data/labels.h). */
#ifndef LB_DATA_DATASET_H
#define LB_DATA_DATASET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

/* What the label column held: nothing (no column, or only nulls), class ids, or label names. */
typedef enum lb_label_kind { LB_LABEL_KIND_NONE = 0, LB_LABEL_KIND_INT, LB_LABEL_KIND_STR } lb_label_kind;

typedef struct lb_dataset {
    size_t n;
    char **texts;          /* [n] UTF-8, NUL-terminated */
    char **text_pairs;     /* [n] or NULL */
    int32_t *labels;       /* [n] class index in [0,num_labels), or -1 when the file has no label column */
    int num_labels;
    char **label_names;    /* [num_labels] or NULL (int labels without names) */
    lb_label_kind label_kind;
    /* Where the rows came from, for messages: rows [source_start[i], source_start[i+1]) are data
     * rows 0.. of sources[i] (shards concatenated by lb_data_load_shards). */
    int n_sources;
    char **sources;        /* [n_sources] file paths */
    size_t *source_start;  /* [n_sources] */
} lb_dataset;

typedef struct lb_dataset_opts {
    const char *text_column;       /* default "text" */
    const char *label_column;      /* default "label"; missing column -> labels all -1 unless require_labels */
    const char *text_pair_column;  /* NULL: single-text task */
    char *const *label_names;      /* known names (model's id2label) used to map string labels; may be NULL */
    int n_label_names;
    const char *label_names_origin; /* where those names come from, for messages (NULL: "the given label names") */
    bool require_labels;
} lb_dataset_opts;

/* Loads path, choosing the reader by extension: .csv, .tsv, .jsonl, .json, .parquet.
 * opts may be NULL (all defaults). Labels follow the rule of data/labels.h (lb_labels_read):
 * class ids (typed integers, booleans 0/1, strings of canonical decimal digits) or label names
 * (any other string), never both in one column. Without label_names, class ids give
 * num_labels = max + 1 and names become classes in sorted order (label_names kept); with
 * label_names, the mapping is exact (lb_labels_map, LB_LABELS_EXACT): a name that is not one of
 * them, or a class id not below n_label_names, is an error naming its row.
 * A null label is an error when require_labels, else -1 for that row.
 * Rows in messages are 0-based data rows (the header is not counted). */
lb_status lb_dataset_load(const char *path, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err);
void lb_dataset_free(lb_dataset *d);
/* "PATH: row R" of dataset row i (its file and 0-based data row there) into buf. */
void lb_dataset_where(const lb_dataset *d, size_t i, char *buf, size_t cap);

#endif
