/* The public dataset handle: a split's files (local file, HF dataset folder or hub dataset id)
 * loaded once with the data layer's rule (data/labels.h). Labels stay as the file says (class ids,
 * or names indexed by their sorted values); evaluation and training map them onto a model's
 * classes through a view (lb_api_dataset_view), so one opened dataset serves several models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/strlist.h"
#include "data/labels.h"
#include "data/splits.h"
#include "train/tokset.h"

lb_status lb_dataset_open(const char *path_or_id, const lb_dataset_options *opts, lb_dataset **out, lb_error *err) {
    lb_dataset_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(out);
    *out = NULL;
    if (!path_or_id || !*path_or_id) return lb_err(err, LB_ERR_USAGE, "dataset: empty name");
    if (o.revision && strcmp(o.revision, "main"))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "dataset %s: revision %s: only the main revision of hub datasets is "
                      "supported",
                      path_or_id, o.revision);
    lb_dataset *d = calloc(1, sizeof *d);
    if (!d) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    char **paths = NULL;
    int n = 0;
    lb_dataset_opts dop = {.text_column = o.text_column ? o.text_column : "text",
                           .label_column = o.label_column ? o.label_column : "label",
                           .text_pair_column = o.text_pair_column,
                           .require_labels = !o.labels_optional};
    lb_row_filter keep = {
        .block = o.shard_block > 0 ? o.shard_block : 1, .count = o.shard_count, .index = o.shard_index};
    if (o.shard_count > 1) dop.rows = &keep;
    lb_status st = LB_OK;
    if (o.shard_count < 0 || o.shard_block < 0 ||
        (o.shard_count > 1 && (o.shard_index < 0 || o.shard_index >= o.shard_count)))
        st = lb_err(err, LB_ERR_USAGE,
                    "lb_dataset_open: shard %d of %d (block %d): expected 0 <= shard_index < shard_count",
                    o.shard_index, o.shard_count, o.shard_block);
    char **lcols = NULL;
    int nl = 0;
    if (!st && ((unsigned)o.problem_type > LB_PROBLEM_REGRESSION ||
                (o.label_columns && o.problem_type != LB_PROBLEM_MULTI_LABEL)))
        st = lb_err(err, LB_ERR_USAGE,
                    "lb_dataset_open: problem_type %d%s: expected an lb_problem_type; label_columns are for "
                    "multi-label data",
                    (int)o.problem_type, o.label_columns ? " with label_columns" : "");
    if (!st && o.label_columns) {
        lcols = lb_split_list(o.label_columns, &nl);
        if (!lcols && *o.label_columns) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        for (int i = 0; !st && i < nl; i++)
            if (!*lcols[i])
                st = lb_err(err, LB_ERR_USAGE, "label columns '%s': name %d is empty", o.label_columns, i + 1);
        if (!st && nl < 1) st = lb_err(err, LB_ERR_USAGE, "label columns '%s': no column named", o.label_columns);
    }
    if (!st && ((unsigned)o.label_format > LB_LABEL_FORMAT_MULTI_HOT ||
                (o.label_format && (o.problem_type != LB_PROBLEM_MULTI_LABEL || o.label_columns))))
        st = lb_err(err, LB_ERR_USAGE,
                    "lb_dataset_open: label_format %d: expected an lb_label_format; multi-hot is for a multi-label "
                    "list column (problem_type multi-label without label_columns)",
                    (int)o.label_format);
    dop.label_multi_hot = o.label_format == LB_LABEL_FORMAT_MULTI_HOT;
    dop.problem = (int)o.problem_type;
    dop.label_columns = (const char *const *)lcols;
    dop.n_label_columns = nl;
    if (!st) st = lb_data_resolve_split(path_or_id, o.split ? o.split : "train", &paths, &n, err);
    if (!st) st = lb_data_load_shards(paths, n, &dop, d, err);
    lb_free_list(paths);
    lb_free_list(lcols);
    if (st) {
        lb_dataset_free(d);
        free(d);
        return st;
    }
    if (o.shard_count > 1)
        d->shard_count = o.shard_count, d->shard_index = o.shard_index, d->shard_block = (int)keep.block;
    *out = d;
    return LB_OK;
}

void lb_dataset_close(lb_dataset *d) {
    if (!d) return;
    lb_dataset_free(d);
    free(d);
}

size_t lb_dataset_size(const lb_dataset *d) { return d ? d->n : 0; }
const char *lb_dataset_text(const lb_dataset *d, size_t i) { return d && i < d->n ? d->texts[i] : NULL; }
const char *lb_dataset_text_pair(const lb_dataset *d, size_t i) {
    return d && i < d->n && d->text_pairs ? d->text_pairs[i] : NULL;
}
int lb_dataset_num_labels(const lb_dataset *d) { return d ? d->num_labels : 0; }
int32_t lb_dataset_label(const lb_dataset *d, size_t i) { return d && i < d->n ? d->labels[i] : -1; }
const char *lb_dataset_label_name(const lb_dataset *d, int k) {
    return d && d->label_names && k >= 0 && k < d->num_labels ? d->label_names[k] : NULL;
}
lb_label_list lb_dataset_label_list(const lb_dataset *d, int *n_targets) {
    const lb_label_list k = d ? (lb_label_list)d->target_list : LB_LABEL_LIST_NONE;
    if (n_targets) *n_targets = k ? d->n_targets : 0;
    return k;
}
const char *lb_dataset_target_name(const lb_dataset *d, int k) {
    return d && d->target_list == LB_TARGET_LIST_NAMES && d->target_names && k >= 0 && k < d->n_targets
               ? d->target_names[k]
               : NULL;
}
const char *lb_dataset_file(const lb_dataset *d, int i) {
    return d && d->sources && i >= 0 && i < d->n_sources ? d->sources[i] : NULL;
}

lb_status lb_api_dataset_view(const lb_dataset *d, lb_dataset *view, lb_error *err) {
    *view = *d; /* texts, pairs and sources are shared, read-only */
    view->labels = malloc((d->n ? d->n : 1) * sizeof *view->labels);
    view->label_names = d->label_names ? lb_copy_list((const char *const *)d->label_names, d->num_labels) : NULL;
    if (!view->labels || (d->label_names && !view->label_names)) {
        free(view->labels);
        lb_free_list(view->label_names);
        memset(view, 0, sizeof *view);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    if (d->n) memcpy(view->labels, d->labels, d->n * sizeof *view->labels);
    return LB_OK;
}

void lb_api_dataset_view_free(lb_dataset *view) {
    free(view->labels);
    if (view->label_names)
        for (int i = 0; i < view->num_labels; i++) free(view->label_names[i]);
    free(view->label_names);
    memset(view, 0, sizeof *view);
}

lb_status lb_dataset_classes(const lb_dataset *const *ds, int nd, const char *const *names, int n_names,
                             bool names_are_default, const char *names_origin, char ***classes, int *n,
                             bool *sorted_fallback, lb_error *err) {
    LB_API_NOT_NULL(classes);
    LB_API_NOT_NULL(n);
    *classes = NULL;
    *n = 0;
    if (sorted_fallback) *sorted_fallback = false;
    if (nd < 1 || nd > 8 || !ds)
        return lb_err(err, LB_ERR_USAGE, "dataset classes: 1..8 datasets expected, got %d", nd);
    if (names && (n_names < 1 || n_names > LB_MAX_LABELS))
        return lb_err(err, LB_ERR_USAGE, "dataset classes: %d names given, expected 1..%d", n_names, LB_MAX_LABELS);
    for (int i = 0; names && i < n_names; i++)
        if (!names[i] || !*names[i]) return lb_err(err, LB_ERR_USAGE, "dataset classes: name %d is empty", i);
    lb_dataset views[8];
    memset(views, 0, sizeof views);
    int made = 0;
    lb_status st = LB_OK;
    for (; made < nd && !st; made++)
        if (!ds[made]) st = lb_err(err, LB_ERR_USAGE, "dataset classes: dataset %d is NULL", made);
        else if ((st = lb_api_dataset_view(ds[made], &views[made], err))) break;
    if (!st) {
        lb_label_spec spec = {.names = names,
                              .n_names = names ? n_names : 0,
                              .policy = names_are_default ? LB_LABELS_DEFAULT_NAMES : LB_LABELS_EXACT,
                              .origin = names_origin        ? names_origin
                                        : names_are_default ? "the default label names"
                                                            : "the given label names"};
        st = lb_labels_map(views, nd, &spec, classes, n, sorted_fallback, err);
        if (!st && *n > LB_MAX_LABELS) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: %d distinct labels (at most %d)",
                        views[0].n_sources ? views[0].sources[0] : "dataset", *n, LB_MAX_LABELS);
            lb_free_list(*classes);
            *classes = NULL;
            *n = 0;
        }
    }
    for (int i = 0; i < nd; i++)
        if (views[i].labels) lb_api_dataset_view_free(&views[i]);
    return st;
}

void lb_free_strings(char **list) { lb_free_list(list); }

/* "a, b, c" of names[0..n) into buf. */
static void join_names(char *buf, size_t cap, const char *const *names, int n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && used + 4 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
}

lb_status lb_api_set_targets(const lb_dataset *d, int problem, int num_labels, const char *const *labels,
                             const char *what, lb_tokset *ts, lb_error *err) {
    const char *pn = lb_problem_type_name((lb_problem_type)problem);
    if (!d->targets ||
        (problem == LB_PROBLEM_MULTI_LABEL) != (d->target_names != NULL || d->target_list != LB_TARGET_LIST_NONE))
        return lb_err(err, LB_ERR_USAGE,
                      "%s: the model's problem_type is %s, but the dataset was opened for %s: open it with "
                      "problem_type %s (multi-label: label columns)",
                      what, pn, d->targets ? "other targets" : "class ids", pn);
    if (d->target_list) { /* a list column: names by name, ids and vectors by position */
        if (num_labels < 1 || num_labels > LB_MAX_LABELS)
            return lb_err(err, LB_ERR_USAGE, "%s: %d labels", what, num_labels);
        float *t = malloc(sizeof(float) * (d->n ? d->n : 1) * (size_t)num_labels);
        if (!t) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
        lb_status st = lb_targets_to_labels(d, labels, num_labels, "the model's labels", t, err);
        if (!st) st = lb_tokset_set_targets(ts, t, num_labels, err);
        free(t);
        return st;
    }
    const int K = d->n_targets, L = num_labels;
    int col[LB_MAX_LABELS]; /* model label j <- dataset column col[j] */
    if (L < 1 || L > LB_MAX_LABELS) return lb_err(err, LB_ERR_USAGE, "%s: %d labels", what, L);
    if (problem == LB_PROBLEM_REGRESSION) {
        if (K != L)
            return lb_err(err, LB_ERR_FORMAT, "%s: %d regression value%s per row, the model has %d output%s", what, K,
                          K == 1 ? "" : "s", L, L == 1 ? "" : "s");
        for (int j = 0; j < L; j++) col[j] = j;
    } else {
        char have[1024], want[1024];
        join_names(have, sizeof have, (const char *const *)d->target_names, K);
        join_names(want, sizeof want, labels, L);
        for (int j = 0; j < L; j++) {
            col[j] = -1;
            for (int k = 0; k < K; k++)
                if (!strcmp(labels[j], d->target_names[k])) col[j] = k;
            if (col[j] < 0)
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: the model's label '%s' has no label column (label columns: %s; the model's "
                              "labels: %s)",
                              what, labels[j], have, want);
        }
        if (K != L)
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: %d label columns (%s) for a model of %d labels (%s): every column must be one of "
                          "its labels",
                          what, K, have, L, want);
    }
    float *t = malloc(sizeof(float) * (d->n ? d->n : 1) * (size_t)L);
    if (!t) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < d->n; i++)
        for (int j = 0; j < L; j++) t[i * (size_t)L + (size_t)j] = d->targets[i * (size_t)K + (size_t)col[j]];
    lb_status st = lb_tokset_set_targets(ts, t, L, err);
    free(t);
    return st;
}
