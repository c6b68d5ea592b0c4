/* Loading one labelled file into a dataset (see load.h): reader dispatch by extension,
 * text/label column extraction and label interpretation (data/labels.h). Strings are moved out
 * of the parsed table, not copied. */
#include "data/load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fileio.h"
#include "base/strlist.h"
#include "data/csv.h"
#include "data/jsonl.h"
#include "data/labels.h"
#include "data/parquet.h"
#include "data/table.h"

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static lb_status read_table(const char *path, lb_row_filter *keep, lb_table *t, lb_error *err) {
    if (lb_dir_exists(path))
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: is a directory; give a .csv, .tsv, .jsonl, .json or .parquet file",
                      path);
    if (ends_with(path, ".csv")) return lb_csv_read_rows(path, ',', keep, t, err);
    if (ends_with(path, ".tsv")) return lb_csv_read_rows(path, '\t', keep, t, err);
    if (ends_with(path, ".jsonl") || ends_with(path, ".json")) return lb_jsonl_read_rows(path, keep, t, err);
    /* Parquet: row groups without a kept row are not decoded, the others filtered as decoded */
    if (ends_with(path, ".parquet")) return lb_parquet_read_rows(path, NULL, 0, keep, t, err);
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "%s: unknown data file type (expected .csv, .tsv, .jsonl, .json or .parquet)", path);
}

static const char *val_type_name(int t) {
    static const char *const n[] = {"null", "bool", "integer", "float", "string", "list"};
    return t >= 0 && t <= 5 ? n[t] : "?";
}

/* "a", "b", "c" into buf (for messages). */
static void list_columns(const lb_table *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < t->ncols && n < cap; c++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\"", c ? ", " : "", t->col_names[c]);
    if (t->ncols == 0) snprintf(buf, cap, "(none)");
}

/* Moves column col's strings into a fresh [nrows] array. */
static lb_status take_texts(const char *path, lb_table *t, long col, const char *what, char ***out, lb_error *err) {
    char **v = calloc(t->nrows, sizeof *v);
    if (!v) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    for (size_t r = 0; r < t->nrows; r++) {
        lb_value *c = &t->cells[r * t->ncols + (size_t)col];
        const char *why = NULL;
        if (c->type == LB_VAL_NULL) why = "is null";
        else if (c->type != LB_VAL_STR) why = "is not a string";
        else if (strlen(c->s) != c->slen) why = "contains a NUL byte";
        if (why) {
            for (size_t k = 0; k < r; k++) free(v[k]);
            free(v);
            return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: %s column \"%s\" %s (found %s)", path, r, what,
                          t->col_names[col], why, val_type_name(c->type));
        }
        v[r] = c->s;
        c->s = NULL;
    }
    *out = v;
    return LB_OK;
}

lb_status lb_dataset_load(const char *path, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    lb_dataset_opts o = opts ? *opts : (lb_dataset_opts){0};
    if (!o.text_column) o.text_column = "text";
    if (!o.label_column) o.label_column = "label";
    if (o.label_names && o.n_label_names <= 0)
        return lb_err(err, LB_ERR_USAGE, "lb_dataset_load: label_names given with n_label_names = %d", o.n_label_names);
    lb_table t = {0};
    lb_status st = read_table(path, o.rows, &t, err);
    if (st != LB_OK) return st;
    char cols[512];
    long tc = lb_table_col(&t, o.text_column);
    long pc = o.text_pair_column ? lb_table_col(&t, o.text_pair_column) : -1;
    long lc = lb_table_col(&t, o.label_column);
    if (tc < 0 || (o.text_pair_column && pc < 0) || (lc < 0 && o.require_labels && !o.problem)) {
        const char *miss = tc < 0                           ? o.text_column
                           : (o.text_pair_column && pc < 0) ? o.text_pair_column
                                                            : o.label_column;
        const char *what = tc < 0 ? "text" : (o.text_pair_column && pc < 0) ? "text-pair" : "label";
        list_columns(&t, cols, sizeof cols);
        st = lb_err(err, LB_ERR_FORMAT, "%s: no %s column \"%s\" (columns: %s)", path, what, miss, cols);
        goto fail;
    }
    if (t.nrows == 0 && o.rows && o.rows->count > 1 && o.rows->seen > 0) {
        st = lb_err(err, LB_ERR_USAGE,
                    "%s: none of its %lld rows falls to process %d of %d (blocks of %lld rows); use fewer processes",
                    path, (long long)o.rows->seen, o.rows->index, o.rows->count, (long long)o.rows->block);
        goto fail;
    }
    if (t.nrows == 0) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: the dataset has no rows", path);
        goto fail;
    }
    if (pc == tc) {
        st = lb_err(err, LB_ERR_USAGE, "%s: text and text-pair column are both \"%s\"", path, o.text_column);
        goto fail;
    }
    if (o.problem != LB_PROBLEM_SINGLE_LABEL) { /* multi-hot or real-valued targets */
        long tcols[LB_MAX_LABELS];
        int nt = 0;
        if (o.problem == LB_PROBLEM_MULTI_LABEL && o.n_label_columns < 1) { /* a column of lists */
            if (ends_with(path, ".csv") || ends_with(path, ".tsv")) {
                st = lb_err(err, LB_ERR_UNSUPPORTED,
                            "%s: multi-label targets from column \"%s\": a CSV/TSV cell cannot hold a list of labels; "
                            "use JSONL (a JSON array per row) or Parquet (a list column), or one 0/1 column per label "
                            "(--label-columns A,B,..)",
                            path, o.label_column);
                goto fail;
            }
            long col = lb_table_col(&t, o.label_column);
            if (col < 0 || col == tc || col == pc) {
                list_columns(&t, cols, sizeof cols);
                st = col < 0 ? lb_err(err, LB_ERR_FORMAT, "%s: no label column \"%s\" (columns: %s)", path,
                                      o.label_column, cols)
                             : lb_err(err, LB_ERR_USAGE, "%s: \"%s\" is a text column, not a label column", path,
                                      o.label_column);
                goto fail;
            }
            if ((st = lb_targets_read_lists(path, &t, col, o.label_multi_hot, out, err))) goto fail;
            lc = -1;
            o.label_names = NULL;
            goto rows;
        }
        if (o.n_label_columns > LB_MAX_LABELS) {
            st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: %d label columns, at most %d", path, o.n_label_columns,
                        LB_MAX_LABELS);
            goto fail;
        }
        const int want = o.problem == LB_PROBLEM_MULTI_LABEL ? o.n_label_columns : 1;
        for (int j = 0; j < want; j++) {
            const char *name = o.problem == LB_PROBLEM_MULTI_LABEL ? o.label_columns[j] : o.label_column;
            long col = lb_table_col(&t, name);
            if (col < 0 || col == tc || col == pc) {
                list_columns(&t, cols, sizeof cols);
                st = col < 0 ? lb_err(err, LB_ERR_FORMAT, "%s: no label column \"%s\" (columns: %s)", path, name, cols)
                             : lb_err(err, LB_ERR_USAGE, "%s: \"%s\" is a text column, not a label column", path, name);
                goto fail;
            }
            for (int k = 0; k < nt; k++)
                if (tcols[k] == col) {
                    st = lb_err(err, LB_ERR_USAGE, "%s: label column \"%s\" given twice", path, name);
                    goto fail;
                }
            tcols[nt++] = col;
        }
        lc = -1; /* no class-id label column */
        if ((st = lb_targets_read(path, &t, tcols, nt, o.problem, out, err))) goto fail;
        o.label_names = NULL; /* the targets are not mapped onto names here */
    }
rows:
    out->n = t.nrows;
    out->sources = calloc(1, sizeof *out->sources);
    out->source_start = calloc(1, sizeof *out->source_start);
    if (!out->sources || !out->source_start || !(out->sources[0] = strdup(path))) {
        st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    out->n_sources = 1;
    /* Optional labels (input to label, e.g. predict --input) in a column of lists: not class labels,
     * and not needed; the column is left unread rather than refused. */
    for (size_t r = 0; lc >= 0 && !o.require_labels && r < t.nrows; r++)
        if (lb_table_cell(&t, r, (size_t)lc)->type == LB_VAL_LIST) lc = -1;
    /* Labels first: take_texts moves strings out of the table (label may share a text column). */
    if (lc >= 0 && (st = lb_labels_read(path, &t, lc, o.require_labels, out, err)) != LB_OK) goto fail;
    if ((st = take_texts(path, &t, tc, "text", &out->texts, err)) != LB_OK) goto fail;
    if (pc >= 0 && (st = take_texts(path, &t, pc, "text-pair", &out->text_pairs, err)) != LB_OK) goto fail;
    if (lc < 0 && !out->labels) {
        out->labels = malloc(t.nrows * sizeof *out->labels);
        if (!out->labels) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (size_t r = 0; r < t.nrows; r++) out->labels[r] = -1;
    }
    if (o.label_names) { /* exact mapping onto the known names (data/labels.h) */
        lb_label_spec spec = {.names = o.label_names,
                              .n_names = o.n_label_names,
                              .policy = LB_LABELS_EXACT,
                              .origin = o.label_names_origin};
        char **mapped = NULL;
        int nm = 0;
        st = lb_labels_map(out, 1, &spec, &mapped, &nm, NULL, err);
        lb_free_list(mapped);
        if (st) goto fail;
    }
    lb_table_free(&t);
    return LB_OK;
fail:
    lb_table_free(&t);
    lb_dataset_free(out); /* texts/text_pairs are NULL or complete [n] arrays here */
    return st;
}
