/* How a label column's values become class ids: the one rule every command uses.
 *
 * 1. Class ids. A value is a class id when it is a typed integer (JSON, Parquet), a boolean
 *    (false = 0, true = 1) or a string of canonical decimal digits: "0" or [1-9][0-9]*, nothing
 *    else. "+1", " 1", "1 ", "01", "0x1", "1.0", "1e0", "-1", "NaN" are not class ids. Typed
 *    negative integers are an error; floats are unsupported (exit 5).
 * 2. Label names. Every other string is a label name (compared byte for byte).
 * 3. One column, one kind: a column (or a split's shards, or train + validation) that holds class
 *    ids and label names together is an error naming a row of each. Nulls are missing labels.
 * 4. Class ids are used as they are and must be below the number of classes (the known names'
 *    count, e.g. the model's num_labels).
 * 5. Label names map onto known names (the model's id2label, an adapter's labels.json, train's
 *    --labels) by exact match:
 *      LB_LABELS_EXACT (eval, train with an explicit --labels): a name that is not one of the
 *        known names is an error naming the value, its file and row, and the known names;
 *      LB_LABELS_DEFAULT_NAMES (train's default --labels): when the known names do not cover
 *        every value, the sorted unique values (byte order) become classes 0..k-1 instead and
 *        the caller is told (*sorted_fallback) so it can say so.
 *    Without known names, the sorted unique values are the classes.
 * Errors are LB_ERR_FORMAT (exit 4) unless stated. */
#ifndef LB_DATA_LABELS_H
#define LB_DATA_LABELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "data/dataset.h"
#include "data/table.h"

/* True when s[0..len) is a canonical decimal class id ("0" or [1-9][0-9]*); *v gets its value,
 * saturated at INT64_MAX for longer digit strings (out of range for any model). */
bool lb_label_is_class_id(const char *s, size_t len, int64_t *v);

/* Reads column col of t (file path, for messages) into d->labels: class ids as they are,
 * label names as indices into their sorted unique values (d->label_names). Sets d->label_kind
 * and d->num_labels (max id + 1, or the number of distinct names). Nulls: an error when
 * require, else -1. */
lb_status lb_labels_read(const char *path, const lb_table *t, long col, bool require, lb_dataset *d, lb_error *err);

/* Reads the targets of a multi-label (cols [ncols], each 0/1) or regression (one column of
 * numbers) set (lb_dataset_opts.problem) into d->targets / n_targets / target_names; d->labels
 * become 0 [t->nrows]. Null, non-numeric, non-finite or (multi-label) other than 0/1 values are
 * LB_ERR_FORMAT naming path, row, column and value. */
lb_status lb_targets_read(const char *path, const lb_table *t, const long *cols, int ncols, int problem, lb_dataset *d,
                          lb_error *err);

/* Reads multi-label targets from column col of t, whose every cell is a list (a JSON array, a
 * Parquet LIST) into d->targets / n_targets / target_names / target_list:
 *   - a list of strings: label names (each row's set of labels); the targets are the sorted
 *     unique names of the file (target_names), mapped onto a model's labels by name later;
 *   - a list of integers: class ids (>= 0, below LB_MAX_LABELS); n_targets = the largest + 1;
 *   - a list of floats or booleans, or of integers when multi_hot: a multi-hot vector of 0/1
 *     (0.0/1.0, false/true), every row the same length (1..LB_MAX_LABELS).
 * Lists may be empty except multi-hot ones. Refused (LB_ERR_FORMAT, naming path, row, column and
 * what was expected vs found): a cell that is not a list (null included), a null element, a list
 * or a column mixing kinds (a row of each named), a name or id twice in one list, an empty name,
 * a negative or too large id, a multi-hot value other than 0/1 or of another length than row 0's,
 * a string in multi_hot mode. d->labels become 0. Every row is checked. */
lb_status lb_targets_read_lists(const char *path, const lb_table *t, long col, bool multi_hot, lb_dataset *d,
                                lb_error *err);

/* Brings the list targets of ds[0..nd) (all read by lb_targets_read_lists, e.g. a split's shards)
 * onto one set of targets, so that their rows can be concatenated: names onto their sorted union,
 * ids onto the largest count; multi-hot vectors must have one length. Sets without any label (all
 * lists empty) take the others' kind. Datasets of different kinds are LB_ERR_FORMAT naming a row
 * of each. */
lb_status lb_targets_unify(lb_dataset *ds, int nd, lb_error *err);

/* The list targets of d (lb_targets_read_lists) in the order of labels[0..L) (a model's labels;
 * origin names them in messages) into out [d->n * L]: names matched exactly by name (a label
 * absent from the data is 0 in every row; a name not among labels is an error), class ids used
 * as they are (an id >= L is an error), multi-hot vectors as they are (another length than L is
 * an error). Errors are LB_ERR_FORMAT naming the file and row (lb_dataset_where). */
lb_status lb_targets_to_labels(const lb_dataset *d, const char *const *labels, int L, const char *origin, float *out,
                               lb_error *err);

typedef enum lb_label_policy {
    LB_LABELS_EXACT,         /* names are the classes: unknown label names are errors */
    LB_LABELS_DEFAULT_NAMES, /* names are a default: sorted values when they do not cover the labels */
} lb_label_policy;

typedef struct lb_label_spec {
    const char *const *names; /* known names in class order, or NULL */
    int n_names;
    lb_label_policy policy;
    const char *origin; /* where the names come from, for messages ("--labels", ...) */
} lb_label_spec;

/* Maps the labels of ds[0..nd) (loaded without names) onto one set of classes, by the rule
 * above, and relabels every dataset to it (label_names, num_labels). *out_names gets the class
 * names when the labels are names (a NULL-terminated list, lb_free_list; *out_n their count),
 * NULL when they are class ids or absent (*out_n then: n_names, or max id + 1 without names).
 * *sorted_fallback (nullable) is set when LB_LABELS_DEFAULT_NAMES fell back to sorted values. */
lb_status lb_labels_map(lb_dataset *ds, int nd, const lb_label_spec *spec, char ***out_names, int *out_n,
                        bool *sorted_fallback, lb_error *err);

#endif
