/* Reading one labelled file (CSV/TSV, JSONL/JSON, Parquet) into an lb_dataset.
 *
 * Owns: choosing the reader by extension, picking the text, text-pair and label columns, and
 * applying the label rule of data/labels.h to the label column. Why apart from dataset.h: the
 * dataset value sits below the label rule (labels.c names rows through it), the loader above it.
 * Guarantees: a loaded dataset is whole (every row has its text, pair and label) or the call
 * fails with the file, row and column named. */
#ifndef LB_DATA_LOAD_H
#define LB_DATA_LOAD_H
#include <stdbool.h>
#include "base/error.h"
#include "data/dataset.h"
#include "data/table.h"

typedef struct lb_dataset_opts {
    const char *text_column;        /* default "text" */
    const char *label_column;       /* default "label"; missing column -> labels all -1 unless require_labels */
    const char *text_pair_column;   /* NULL: single-text task */
    const char *const *label_names; /* known names (model's id2label) used to map string labels; may be NULL */
    int n_label_names;
    const char *label_names_origin; /* where those names come from, for messages (NULL: "the given label names") */
    bool require_labels;
    lb_row_filter *rows; /* NULL: every row; else only the rows it keeps (rows->seen: the file's) */
    /* lb_problem_type. Multi-label: label_columns (>= 1 columns of 0/1: true/false, 0/1 numbers or
     * the strings "0"/"1") give each row's multi-hot targets, named by the columns. Regression:
     * the label column's numbers (typed, or strings strtod reads whole; finite) are the targets.
     * Every label is required then; a bad cell is LB_ERR_FORMAT naming file, row, column, value. */
    int problem;
    const char *const *label_columns; /* [n_label_columns] multi-label */
    int n_label_columns;
    /* Multi-label without label_columns: label_column holds each row's list of labels (names,
     * class ids, or a multi-hot vector: lb_targets_read_lists); label_multi_hot reads lists of
     * integers as 0/1 vectors instead of class ids. */
    bool label_multi_hot;
} lb_dataset_opts;

/* Loads path, choosing the reader by extension: .csv, .tsv, .jsonl, .json, .parquet.
 * opts may be NULL (all defaults). Labels follow the rule of data/labels.h (lb_labels_read):
 * class ids (typed integers, booleans 0/1, strings of canonical decimal digits) or label names
 * (any other string), never both in one column. Without label_names, class ids give
 * num_labels = max + 1 and names become classes in sorted order (label_names kept); with
 * label_names, the mapping is exact (lb_labels_map, LB_LABELS_EXACT): a name that is not one of
 * them, or a class id not below n_label_names, is an error naming its row.
 * A null label is an error when require_labels, else -1 for that row; without require_labels a
 * label column holding a list (multi-label data) is not read (every label -1).
 * Rows in messages are 0-based data rows (the header is not counted). */
lb_status lb_dataset_load(const char *path, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err);
#endif
