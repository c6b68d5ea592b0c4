/* Dataset loading (see dataset.h): reader dispatch by extension, text/label column extraction
 * and label interpretation. Strings are moved out of the parsed table, not copied. */
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fileio.h"
#include "data/csv.h"
#include "data/jsonl.h"
#include "data/parquet.h"
#include "data/table.h"

void lb_dataset_free(lb_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->texts) free(d->texts[i]);
        if (d->text_pairs) free(d->text_pairs[i]);
    }
    free(d->texts);
    free(d->text_pairs);
    free(d->labels);
    if (d->label_names)
        for (int i = 0; i < d->num_labels; i++) free(d->label_names[i]);
    free(d->label_names);
    memset(d, 0, sizeof *d);
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static lb_status read_table(const char *path, lb_table *t, lb_error *err) {
    if (lb_dir_exists(path))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "%s: is a directory; give a .csv, .tsv, .jsonl, .json or .parquet file", path);
    if (ends_with(path, ".csv")) return lb_csv_read(path, ',', t, err);
    if (ends_with(path, ".tsv")) return lb_csv_read(path, '\t', t, err);
    if (ends_with(path, ".jsonl") || ends_with(path, ".json")) return lb_jsonl_read(path, t, err);
    if (ends_with(path, ".parquet")) return lb_parquet_read(path, NULL, 0, t, err);
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "%s: unknown data file type (expected .csv, .tsv, .jsonl, .json or .parquet)", path);
}

static const char *val_type_name(int t) {
    static const char *const n[] = {"null", "bool", "integer", "float", "string"};
    return t >= 0 && t <= 4 ? n[t] : "?";
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

/* A whole string that is an integer (optional sign, digits; surrounding ASCII spaces allowed). */
static bool str_int(const char *s, int64_t *v) {
    while (*s == ' ') s++;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    errno = 0;
    char *e;
    long long x = strtoll(s, &e, 10);
    if (errno) return false;
    while (*e == ' ') e++;
    if (*e) return false;
    *v = x;
    return true;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lb_status copy_names(char *const *names, int n, char ***out, lb_error *err) {
    char **v = calloc((size_t)n, sizeof *v);
    if (!v) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        v[i] = strdup(names[i] ? names[i] : "");
        if (!v[i]) {
            for (int k = 0; k < i; k++) free(v[k]);
            free(v);
            return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
    }
    *out = v;
    return LB_OK;
}

static lb_status make_labels(const char *path, const lb_table *t, long col, const lb_dataset_opts *o, lb_dataset *d,
                             lb_error *err) {
    size_t n = t->nrows;
    const char *cn = t->col_names[col];
    /* Classify the column: integer-like (INT/BOOL, or STR all integers) vs string labels. */
    bool any_str = false, all_int_str = true;
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = &t->cells[r * t->ncols + (size_t)col];
        int64_t x;
        if (v->type == LB_VAL_NULL) {
            if (o->require_labels)
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label column \"%s\" is null", path, r, cn);
            continue;
        }
        if (v->type == LB_VAL_FLOAT)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: row %zu: label column \"%s\" holds a non-integer number (%g); only class labels "
                          "(integers or strings) are supported",
                          path, r, cn, v->f);
        if (v->type == LB_VAL_STR) {
            any_str = true;
            if (all_int_str && !(strlen(v->s) == v->slen && str_int(v->s, &x))) all_int_str = false;
        }
    }
    bool mixed = false;
    if (any_str)
        for (size_t r = 0; r < n && !mixed; r++) {
            lb_val_type ty = t->cells[r * t->ncols + (size_t)col].type;
            mixed = ty == LB_VAL_INT || ty == LB_VAL_BOOL;
        }
    if (mixed && !all_int_str)
        return lb_err(err, LB_ERR_FORMAT, "%s: label column \"%s\" mixes numbers and strings", path, cn);
    int32_t *lab = malloc((n ? n : 1) * sizeof *lab);
    if (!lab) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    d->labels = lab;
    int nk = o->label_names ? o->n_label_names : 0;

    if (!any_str || all_int_str) { /* integer labels, used as-is */
        int64_t maxv = -1;
        for (size_t r = 0; r < n; r++) {
            const lb_value *v = &t->cells[r * t->ncols + (size_t)col];
            int64_t x = -1;
            if (v->type == LB_VAL_NULL) { lab[r] = -1; continue; }
            if (v->type == LB_VAL_STR) str_int(v->s, &x);
            else x = v->i;
            if (x < 0 || x > INT32_MAX - 1)
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label %lld in column \"%s\" is not a class index >= 0",
                              path, r, (long long)x, cn);
            if (nk && x >= nk)
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label %lld is out of range for the %d known labels",
                              path, r, (long long)x, nk);
            lab[r] = (int32_t)x;
            if (x > maxv) maxv = x;
        }
        if (nk) {
            d->num_labels = nk;
            return copy_names(o->label_names, nk, &d->label_names, err);
        }
        d->num_labels = (int)(maxv + 1);
        return LB_OK;
    }

    if (nk) { /* string labels through the known names */
        for (size_t r = 0; r < n; r++) {
            const lb_value *v = &t->cells[r * t->ncols + (size_t)col];
            if (v->type == LB_VAL_NULL) { lab[r] = -1; continue; }
            int k = 0;
            while (k < nk && !(o->label_names[k] && strcmp(o->label_names[k], v->s) == 0)) k++;
            if (k == nk) {
                char known[512];
                size_t m = 0;
                known[0] = '\0';
                for (int q = 0; q < nk && m < sizeof known; q++)
                    m += (size_t)snprintf(known + m, sizeof known - m, "%s\"%s\"", q ? ", " : "",
                                          o->label_names[q] ? o->label_names[q] : "");
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: unknown label \"%.200s\" (known labels: %s)", path, r,
                              v->s, known);
            }
            lab[r] = k;
        }
        d->num_labels = nk;
        return copy_names(o->label_names, nk, &d->label_names, err);
    }

    /* String labels without names: sorted unique values become the classes. */
    char **u = malloc((n ? n : 1) * sizeof *u);
    if (!u) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    size_t nu = 0;
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = &t->cells[r * t->ncols + (size_t)col];
        if (v->type == LB_VAL_STR) u[nu++] = v->s;
    }
    qsort(u, nu, sizeof *u, cmp_strp);
    size_t k = 0;
    for (size_t r = 0; r < nu; r++)
        if (k == 0 || strcmp(u[k - 1], u[r]) != 0) u[k++] = u[r];
    if (k > INT32_MAX) { free(u); return lb_err(err, LB_ERR_FORMAT, "%s: too many distinct labels", path); }
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = &t->cells[r * t->ncols + (size_t)col];
        if (v->type != LB_VAL_STR) { lab[r] = -1; continue; }
        char *key = v->s;
        char **hit = bsearch(&key, u, k, sizeof *u, cmp_strp);
        lab[r] = (int32_t)(hit - u);
    }
    d->num_labels = (int)k;
    lb_status st = copy_names(u, (int)k, &d->label_names, err);
    free(u);
    return st;
}

lb_status lb_dataset_load(const char *path, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    lb_dataset_opts o = opts ? *opts : (lb_dataset_opts){0};
    if (!o.text_column) o.text_column = "text";
    if (!o.label_column) o.label_column = "label";
    if (o.label_names && o.n_label_names <= 0)
        return lb_err(err, LB_ERR_USAGE, "lb_dataset_load: label_names given with n_label_names = %d", o.n_label_names);
    lb_table t = {0};
    lb_status st = read_table(path, &t, err);
    if (st != LB_OK) return st;
    char cols[512];
    long tc = lb_table_col(&t, o.text_column);
    long pc = o.text_pair_column ? lb_table_col(&t, o.text_pair_column) : -1;
    long lc = lb_table_col(&t, o.label_column);
    if (tc < 0 || (o.text_pair_column && pc < 0) || (lc < 0 && o.require_labels)) {
        const char *miss = tc < 0 ? o.text_column : (o.text_pair_column && pc < 0) ? o.text_pair_column : o.label_column;
        const char *what = tc < 0 ? "text" : (o.text_pair_column && pc < 0) ? "text-pair" : "label";
        list_columns(&t, cols, sizeof cols);
        st = lb_err(err, LB_ERR_FORMAT, "%s: no %s column \"%s\" (columns: %s)", path, what, miss, cols);
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
    out->n = t.nrows;
    /* Labels first: take_texts moves strings out of the table (label may share a text column). */
    if (lc >= 0) {
        if ((st = make_labels(path, &t, lc, &o, out, err)) != LB_OK) goto fail;
    }
    if ((st = take_texts(path, &t, tc, "text", &out->texts, err)) != LB_OK) goto fail;
    if (pc >= 0 && (st = take_texts(path, &t, pc, "text-pair", &out->text_pairs, err)) != LB_OK) goto fail;
    if (lc < 0) {
        out->labels = malloc(t.nrows * sizeof *out->labels);
        if (!out->labels) { st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path); goto fail; }
        for (size_t r = 0; r < t.nrows; r++) out->labels[r] = -1;
        if (o.label_names) {
            out->num_labels = o.n_label_names;
            if ((st = copy_names(o.label_names, o.n_label_names, &out->label_names, err)) != LB_OK) goto fail;
        }
    }
    lb_table_free(&t);
    return LB_OK;
fail:
    lb_table_free(&t);
    lb_dataset_free(out); /* texts/text_pairs are NULL or complete [n] arrays here */
    return st;
}
