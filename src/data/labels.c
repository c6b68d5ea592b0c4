/* The label rule (see labels.h): class ids vs label names, and the mapping onto known names. */
#include "data/labels.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strlist.h"

bool lb_label_is_class_id(const char *s, size_t len, int64_t *v) {
    if (len == 0 || s[0] < '0' || s[0] > '9' || (s[0] == '0' && len > 1)) return false;
    int64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        int d = s[i] - '0';
        x = x > (INT64_MAX - d) / 10 ? INT64_MAX : x * 10 + d;
    }
    *v = x;
    return true;
}

/* A cell as a message shows it: "name" (quoted, cut at 200 bytes) or a bare number. */
static void show_value(const lb_value *v, char *buf, size_t cap) {
    switch (v->type) {
    case LB_VAL_STR: snprintf(buf, cap, "\"%.200s\"", v->s); break;
    case LB_VAL_BOOL: snprintf(buf, cap, "%s", v->i ? "true" : "false"); break;
    case LB_VAL_INT: snprintf(buf, cap, "%" PRId64, v->i); break;
    case LB_VAL_FLOAT: snprintf(buf, cap, "%g", v->f); break;
    case LB_VAL_LIST: snprintf(buf, cap, "a list of %zu values", v->n_items); break;
    default: snprintf(buf, cap, "null"); break;
    }
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char kind_hint[] =
    "class ids are canonical decimal integers (0, 1, 2, ...: no sign, spaces, leading zeros, "
    "fraction or other notation) and every other string is a label name; a label column holds one kind";

lb_status lb_labels_read(const char *path, const lb_table *t, long col, bool require, lb_dataset *d, lb_error *err) {
    size_t n = t->nrows;
    const char *cn = t->col_names[col];
    long id_row = -1, name_row = -1;
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = lb_table_cell(t, r, (size_t)col);
        int64_t x;
        switch (v->type) {
        case LB_VAL_LIST:
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: row %zu: label column \"%s\" holds a list (%zu values): expected one class id or label "
                          "name; a list of labels per text is multi-label data (--problem-type "
                          "multi_label_classification)",
                          path, r, cn, v->n_items);
        case LB_VAL_NULL:
            if (require) return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label column \"%s\" is null", path, r, cn);
            continue;
        case LB_VAL_FLOAT:
            if (v->f == floor(v->f) && fabs(v->f) < 1e15) /* 1.0: JSON's literal says float */
                return lb_err(err, LB_ERR_UNSUPPORTED,
                              "%s: row %zu: label column \"%s\" holds %.1f, a number written with a fraction or "
                              "an exponent; class labels are integers written as integers (%.0f) or strings "
                              "(numbers to fit: --problem-type regression)",
                              path, r, cn, v->f, v->f);
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: row %zu: label column \"%s\" holds a non-integer number (%g); class labels are "
                          "integers or strings (numbers to fit: --problem-type regression)",
                          path, r, cn, v->f);
        case LB_VAL_INT:
            if (v->i < 0)
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: row %zu: label %" PRId64 " in column \"%s\" is not a class "
                              "index >= 0",
                              path, r, v->i, cn);
            /* fall through */
        case LB_VAL_BOOL:
            if (id_row < 0) id_row = (long)r;
            break;
        case LB_VAL_STR:
            if (lb_label_is_class_id(v->s, v->slen, &x)) {
                if (id_row < 0) id_row = (long)r;
            } else if (name_row < 0) name_row = (long)r;
            break;
        }
    }
    if (id_row >= 0 && name_row >= 0) {
        char a[224], b[224];
        show_value(lb_table_cell(t, (size_t)id_row, (size_t)col), a, sizeof a);
        show_value(lb_table_cell(t, (size_t)name_row, (size_t)col), b, sizeof b);
        return lb_err(err, LB_ERR_FORMAT,
                      "%s: label column \"%s\" mixes class ids and label names: row %ld is %s (a class id), row %ld "
                      "is %s (a label name); %s",
                      path, cn, id_row, a, name_row, b, kind_hint);
    }
    int32_t *lab = malloc((n ? n : 1) * sizeof *lab);
    if (!lab) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    d->labels = lab;
    d->num_labels = 0;
    d->label_kind = id_row >= 0 ? LB_LABEL_KIND_INT : name_row >= 0 ? LB_LABEL_KIND_STR : LB_LABEL_KIND_NONE;
    if (d->label_kind != LB_LABEL_KIND_STR) {
        int64_t maxv = -1;
        for (size_t r = 0; r < n; r++) {
            const lb_value *v = lb_table_cell(t, r, (size_t)col);
            int64_t x = -1;
            if (v->type == LB_VAL_NULL) {
                lab[r] = -1;
                continue;
            }
            if (v->type == LB_VAL_STR) lb_label_is_class_id(v->s, v->slen, &x);
            else x = v->i;
            if (x > INT32_MAX - 1) {
                char s[224];
                show_value(v, s, sizeof s);
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label %s in column \"%s\" is too large for a class id",
                              path, r, s, cn);
            }
            lab[r] = (int32_t)x;
            if (x > maxv) maxv = x;
        }
        d->num_labels = (int)(maxv + 1);
        return LB_OK;
    }
    /* label names: their sorted unique values, each row an index into them */
    char **u = malloc((n ? n : 1) * sizeof *u);
    if (!u) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    size_t nu = 0;
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = lb_table_cell(t, r, (size_t)col);
        if (v->type == LB_VAL_STR) u[nu++] = v->s;
    }
    qsort(u, nu, sizeof *u, cmp_strp);
    size_t k = 0;
    for (size_t r = 0; r < nu; r++)
        if (k == 0 || strcmp(u[k - 1], u[r]) != 0) u[k++] = u[r];
    if (k > INT32_MAX - 1) {
        free(u);
        return lb_err(err, LB_ERR_FORMAT, "%s: too many distinct labels", path);
    }
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = lb_table_cell(t, r, (size_t)col);
        if (v->type != LB_VAL_STR) {
            lab[r] = -1;
            continue;
        }
        char *key = v->s;
        char **hit = bsearch(&key, u, k, sizeof *u, cmp_strp);
        lab[r] = (int32_t)(hit - u);
    }
    d->label_names = lb_copy_list((const char *const *)u, (int)k);
    free(u);
    if (!d->label_names) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    d->num_labels = (int)k;
    return LB_OK;
}

/* ---- mapping onto known names ------------------------------------------------------------- */

static int name_index(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], s)) return i;
    return -1;
}

/* "a", "b", "c" (cut with ", ..." when long) into buf. */
static void list_names(const char *const *names, int n, char *buf, size_t cap) {
    size_t m = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + m, cap - m, "%s\"%.80s\"", i ? ", " : "", names[i] ? names[i] : "");
        if (w < 0 || (size_t)w >= cap - m || m + (size_t)w > cap - 16) {
            buf[m] = '\0';
            snprintf(buf + m, cap - m, "%s... (%d in all)", i ? ", " : "", n);
            return;
        }
        m += (size_t)w;
    }
}

/* First row of d whose label is k (or any label when k < 0); -1 when none. */
static long first_row(const lb_dataset *d, int k) {
    for (size_t r = 0; r < d->n; r++)
        if (d->labels[r] >= 0 && (k < 0 || d->labels[r] == k)) return (long)r;
    return -1;
}

/* Replaces d's class names by a copy of names[0..n), indices through map (NULL: unchanged). */
static lb_status rename_classes(lb_dataset *d, const int *map, const char *const *names, int n, lb_error *err) {
    char **copy = NULL;
    if (names && !(copy = lb_copy_list(names, n))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (map)
        for (size_t r = 0; r < d->n; r++)
            if (d->labels[r] >= 0) d->labels[r] = map[d->labels[r]];
    if (d->label_names)
        for (int k = 0; k < d->num_labels; k++) free(d->label_names[k]);
    free(d->label_names);
    d->label_names = copy;
    d->num_labels = n;
    return LB_OK;
}

/* Sorted union of the label names of the string-labelled datasets (NULL-terminated copy). */
static char **union_names(lb_dataset *ds, int nd, int *n) {
    size_t total = 0;
    for (int i = 0; i < nd; i++)
        if (ds[i].label_kind == LB_LABEL_KIND_STR) total += (size_t)ds[i].num_labels;
    char **u = malloc((total + 1) * sizeof *u);
    *n = 0;
    if (!u) return NULL;
    size_t m = 0;
    for (int i = 0; i < nd; i++)
        if (ds[i].label_kind == LB_LABEL_KIND_STR)
            for (int k = 0; k < ds[i].num_labels; k++) u[m++] = ds[i].label_names[k];
    qsort(u, m, sizeof *u, cmp_strp);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (!k || strcmp(u[k - 1], u[i])) u[k++] = u[i];
    char **out = k <= INT32_MAX - 1 ? lb_copy_list((const char *const *)u, (int)k) : NULL;
    free(u);
    if (out) *n = (int)k;
    return out;
}

lb_status lb_labels_map(lb_dataset *ds, int nd, const lb_label_spec *spec, char ***out_names, int *out_n,
                        bool *sorted_fallback, lb_error *err) {
    *out_names = NULL;
    *out_n = 0;
    if (sorted_fallback) *sorted_fallback = false;
    const char *const *names = spec && spec->names && spec->n_names > 0 ? spec->names : NULL;
    int nn = names ? spec->n_names : 0;
    const char *origin = spec && spec->origin ? spec->origin : "the given label names";
    char where_a[1200], where_b[1200], known[640];
    int id_ds = -1, name_ds = -1;
    for (int i = 0; i < nd; i++) {
        if (ds[i].label_kind == LB_LABEL_KIND_INT && id_ds < 0) id_ds = i;
        if (ds[i].label_kind == LB_LABEL_KIND_STR && name_ds < 0) name_ds = i;
    }
    if (id_ds >= 0 && name_ds >= 0) {
        long ra = first_row(&ds[id_ds], -1), rb = first_row(&ds[name_ds], -1);
        lb_dataset_where(&ds[id_ds], (size_t)ra, where_a, sizeof where_a);
        lb_dataset_where(&ds[name_ds], (size_t)rb, where_b, sizeof where_b);
        return lb_err(err, LB_ERR_FORMAT, "%s: label %d is a class id, but %s: label \"%.200s\" is a label name; %s",
                      where_a, ds[id_ds].labels[ra], where_b, ds[name_ds].label_names[ds[name_ds].labels[rb]],
                      kind_hint);
    }
    if (name_ds < 0) { /* class ids (or no labels): used as they are, below the number of classes */
        int maxl = 0;
        for (int i = 0; i < nd; i++)
            for (size_t r = 0; r < ds[i].n; r++) {
                int32_t y = ds[i].labels ? ds[i].labels[r] : -1;
                if (nn && y >= nn) {
                    lb_dataset_where(&ds[i], r, where_a, sizeof where_a);
                    list_names(names, nn, known, sizeof known);
                    return lb_err(err, LB_ERR_FORMAT,
                                  "%s: label %d is not a class id below %d (%d labels, from %s: %s)", where_a, y, nn,
                                  nn, origin, known);
                }
                if (y + 1 > maxl) maxl = y + 1;
            }
        *out_n = nn ? nn : maxl;
        for (int i = 0; i < nd; i++) {
            lb_status st = rename_classes(&ds[i], NULL, names, *out_n, err);
            if (st) return st;
        }
        return LB_OK;
    }
    /* label names */
    for (int a = 0; a < nn; a++)
        for (int b = a + 1; b < nn; b++)
            if (!strcmp(names[a] ? names[a] : "", names[b] ? names[b] : ""))
                return lb_err(err, LB_ERR_FORMAT,
                              "%s names \"%.200s\" twice (classes %d and %d): label names cannot "
                              "be mapped onto its classes",
                              origin, names[a] ? names[a] : "", a, b);
    bool covered = nn > 0;
    int miss_ds = -1, miss_k = -1;
    for (int i = 0; covered && i < nd; i++)
        if (ds[i].label_kind == LB_LABEL_KIND_STR)
            for (int k = 0; k < ds[i].num_labels; k++)
                if (name_index(names, nn, ds[i].label_names[k]) < 0) {
                    covered = false;
                    miss_ds = i;
                    miss_k = k;
                    break;
                }
    if (!covered && nn && (!spec || spec->policy == LB_LABELS_EXACT)) {
        long r = first_row(&ds[miss_ds], miss_k);
        lb_dataset_where(&ds[miss_ds], (size_t)(r < 0 ? 0 : r), where_a, sizeof where_a);
        list_names(names, nn, known, sizeof known);
        return lb_err(err, LB_ERR_FORMAT, "%s: unknown label \"%.200s\" (the known labels, from %s, are %s)", where_a,
                      ds[miss_ds].label_names[miss_k], origin, known);
    }
    int nt = 0;
    char **target = covered ? lb_copy_list(names, nn) : union_names(ds, nd, &nt);
    if (covered) nt = nn;
    if (!target) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!covered && nn && sorted_fallback) *sorted_fallback = true;
    lb_status st = LB_OK;
    for (int i = 0; !st && i < nd; i++) {
        int *map = NULL;
        if (ds[i].label_kind == LB_LABEL_KIND_STR) {
            if (!(map = malloc(sizeof *map * (size_t)(ds[i].num_labels ? ds[i].num_labels : 1)))) {
                st = lb_err(err, LB_ERR_NOMEM, "out of memory");
                break;
            }
            for (int k = 0; k < ds[i].num_labels; k++)
                map[k] = name_index((const char *const *)target, nt, ds[i].label_names[k]);
        }
        st = rename_classes(&ds[i], map, (const char *const *)target, nt, err);
        free(map);
    }
    if (st) {
        lb_free_list(target);
        return st;
    }
    *out_names = target;
    *out_n = nt;
    return LB_OK;
}

/* A cell as a number: typed numbers and booleans, or a string strtod reads whole. false: not one. */
static bool cell_number(const lb_value *v, double *x) {
    switch (v->type) {
    case LB_VAL_BOOL:
    case LB_VAL_INT: *x = (double)v->i; return true;
    case LB_VAL_FLOAT: *x = v->f; return true;
    case LB_VAL_STR: {
        if (!v->slen || strlen(v->s) != v->slen) return false;
        char *end;
        *x = strtod(v->s, &end);
        return end != v->s && *end == 0;
    }
    default: return false;
    }
}

/* The cell's text for messages (clipped). */
static void cell_text(const lb_value *v, char *buf, size_t cap) {
    switch (v->type) {
    case LB_VAL_NULL: snprintf(buf, cap, "null"); break;
    case LB_VAL_BOOL: snprintf(buf, cap, "%s", v->i ? "true" : "false"); break;
    case LB_VAL_INT: snprintf(buf, cap, "%" PRId64, v->i); break;
    case LB_VAL_FLOAT: snprintf(buf, cap, "%.17g", v->f); break;
    case LB_VAL_LIST: snprintf(buf, cap, "a list of %zu values", v->n_items); break;
    default: snprintf(buf, cap, "'%.60s%s'", v->s, v->slen > 60 ? "..." : ""); break;
    }
}

lb_status lb_targets_read(const char *path, const lb_table *t, const long *cols, int ncols, int problem, lb_dataset *d,
                          lb_error *err) {
    const bool multi = problem == LB_PROBLEM_MULTI_LABEL;
    if (ncols < 1 || ncols > LB_MAX_LABELS || (!multi && ncols != 1))
        return lb_err(err, LB_ERR_USAGE, "%s: %d label columns: expected 1..%d (regression: 1)", path, ncols,
                      LB_MAX_LABELS);
    const size_t n = t->nrows;
    d->targets = malloc(sizeof(float) * (n ? n : 1) * (size_t)ncols);
    d->labels = calloc(n ? n : 1, sizeof *d->labels);
    if (!d->targets || !d->labels) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    d->n_targets = ncols;
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < ncols; j++) {
            const lb_value *v = lb_table_cell(t, r, (size_t)cols[j]);
            double x = 0;
            const bool num = cell_number(v, &x);
            if (!num || !isfinite(x) || (multi && x != 0 && x != 1)) {
                char shown[96];
                cell_text(v, shown, sizeof shown);
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label column \"%s\" holds %s: expected %s", path, r,
                              t->col_names[cols[j]], shown,
                              multi ? "0 or 1 (false/true)" : "a finite number (a regression target)");
            }
            d->targets[r * (size_t)ncols + (size_t)j] = (float)x;
        }
    if (multi) {
        d->target_names = calloc((size_t)ncols, sizeof *d->target_names);
        if (!d->target_names) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        for (int j = 0; j < ncols; j++)
            if (!(d->target_names[j] = strdup(t->col_names[cols[j]])))
                return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    }
    d->num_labels = ncols;
    d->label_kind = LB_LABEL_KIND_NONE;
    return LB_OK;
}

/* ---- multi-label targets from a column of lists ------------------------------------------- */

static const char *list_kind_name(lb_target_list k) {
    switch (k) {
    case LB_TARGET_LIST_NAMES: return "label names (strings)";
    case LB_TARGET_LIST_IDS: return "class ids (integers)";
    case LB_TARGET_LIST_MULTI_HOT: return "a multi-hot vector (0/1)";
    default: return "no labels";
    }
}

static const char *item_type_name(lb_val_type t) {
    static const char *const n[] = {"null", "a boolean", "an integer", "a float", "a string", "a list"};
    return (unsigned)t <= LB_VAL_LIST ? n[t] : "?";
}

/* The kind of one list element: names, ids or multi-hot values; NONE for a null. */
static lb_target_list item_kind(const lb_value *v, bool multi_hot) {
    switch (v->type) {
    case LB_VAL_STR: return LB_TARGET_LIST_NAMES;
    case LB_VAL_INT: return multi_hot ? LB_TARGET_LIST_MULTI_HOT : LB_TARGET_LIST_IDS;
    case LB_VAL_FLOAT:
    case LB_VAL_BOOL: return LB_TARGET_LIST_MULTI_HOT;
    default: return LB_TARGET_LIST_NONE;
    }
}

static const char list_hint[] = "a list holds label names (strings), class ids (integers) or a multi-hot vector "
                                "(0/1 floats or booleans; integers with --label-format multi-hot)";

lb_status lb_targets_read_lists(const char *path, const lb_table *t, long col, bool multi_hot, lb_dataset *d,
                                lb_error *err) {
    const size_t n = t->nrows;
    const char *cn = t->col_names[col];
    lb_target_list kind = multi_hot ? LB_TARGET_LIST_MULTI_HOT : LB_TARGET_LIST_NONE;
    long kind_row = -1;
    long hot_row = -1, first_empty = -1; /* the first row read as a multi-hot vector; the first [] */
    size_t hot_len = 0, total = 0;
    char a[256], b[256];
    /* pass 1: every cell a list of one kind; per-kind checks that need no second pass */
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = lb_table_cell(t, r, (size_t)col);
        if (v->type != LB_VAL_LIST) {
            show_value(v, a, sizeof a);
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: row %zu: label column \"%s\" holds %s (%s): expected a list of labels (a JSON array, a "
                          "Parquet list; one label per text: --problem-type single_label_classification; 0/1 "
                          "columns: --label-columns)",
                          path, r, cn, a, item_type_name(v->type));
        }
        lb_target_list rk = LB_TARGET_LIST_NONE;
        for (size_t k = 0; k < v->n_items; k++) {
            const lb_value *e = &v->items[k];
            lb_target_list ek = item_kind(e, multi_hot);
            if (ek == LB_TARGET_LIST_NONE)
                return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label column \"%s\": element %zu is null; %s", path, r,
                              cn, k, list_hint);
            if (multi_hot && e->type == LB_VAL_STR) {
                show_value(e, a, sizeof a);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: row %zu: label column \"%s\": element %zu is %s: expected 0 or 1 (--label-format "
                              "multi-hot)",
                              path, r, cn, k, a);
            }
            if (rk == LB_TARGET_LIST_NONE) rk = ek;
            else if (ek != rk) {
                show_value(&v->items[0], a, sizeof a);
                show_value(e, b, sizeof b);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: row %zu: label column \"%s\" mixes kinds in one list: element 0 is %s (%s), "
                              "element %zu is %s (%s); %s",
                              path, r, cn, a, list_kind_name(rk), k, b, list_kind_name(ek), list_hint);
            }
        }
        if (rk != LB_TARGET_LIST_NONE && kind != LB_TARGET_LIST_NONE && rk != kind && !multi_hot) {
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: label column \"%s\" mixes kinds: row %ld holds %s, row %zu holds %s; %s", path, cn,
                          kind_row, list_kind_name(kind), r, list_kind_name(rk), list_hint);
        }
        if (rk != LB_TARGET_LIST_NONE && kind_row < 0) kind_row = (long)r;
        if (rk != LB_TARGET_LIST_NONE && kind == LB_TARGET_LIST_NONE) kind = rk;
        if (!v->n_items && first_empty < 0) first_empty = (long)r;
        if (kind == LB_TARGET_LIST_MULTI_HOT) {
            if (hot_row < 0) hot_row = (long)r, hot_len = v->n_items; /* the first row read as a vector */
            if (v->n_items != hot_len || !hot_len || hot_len > LB_MAX_LABELS) {
                if ((long)r != hot_row) snprintf(a, sizeof a, "%zu values, as row %ld", hot_len, hot_row);
                else snprintf(a, sizeof a, "1 to %d values (one per label)", LB_MAX_LABELS);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: row %zu: label column \"%s\" holds a multi-hot list of %zu values: expected %s",
                              path, r, cn, v->n_items, a);
            }
        }
        total += v->n_items;
    }
    if (kind == LB_TARGET_LIST_MULTI_HOT && first_empty >= 0 && first_empty < hot_row)
        return lb_err(
            err, LB_ERR_FORMAT,
            "%s: row %ld: label column \"%s\" holds an empty list: expected a multi-hot vector of %zu values, "
            "as row %ld",
            path, first_empty, cn, hot_len, hot_row);
    /* pass 2: values */
    int K = 0;
    char **names = NULL;
    if (kind == LB_TARGET_LIST_MULTI_HOT) K = (int)hot_len;
    else if (kind == LB_TARGET_LIST_IDS) {
        for (size_t r = 0; r < n; r++) {
            const lb_value *v = lb_table_cell(t, r, (size_t)col);
            for (size_t k = 0; k < v->n_items; k++) {
                int64_t x = v->items[k].i;
                if (x < 0 || x >= LB_MAX_LABELS)
                    return lb_err(err, LB_ERR_FORMAT,
                                  "%s: row %zu: label column \"%s\": class id %" PRId64 " (element %zu): expected 0 to "
                                  "%d (at most %d labels)",
                                  path, r, cn, x, k, LB_MAX_LABELS - 1, LB_MAX_LABELS);
                if (x + 1 > K) K = (int)(x + 1);
            }
        }
    } else if (kind == LB_TARGET_LIST_NAMES) { /* the sorted unique names */
        char **u = malloc((total ? total : 1) * sizeof *u);
        if (!u) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        size_t m = 0;
        for (size_t r = 0; r < n; r++) {
            const lb_value *v = lb_table_cell(t, r, (size_t)col);
            for (size_t k = 0; k < v->n_items; k++) {
                const lb_value *e = &v->items[k];
                if (!e->slen || strlen(e->s) != e->slen) {
                    free(u);
                    return lb_err(err, LB_ERR_FORMAT,
                                  "%s: row %zu: label column \"%s\": element %zu is %s: expected a label name", path, r,
                                  cn, k, e->slen ? "a string holding a NUL byte" : "an empty string");
                }
                u[m++] = e->s;
            }
        }
        qsort(u, m, sizeof *u, cmp_strp);
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (!k || strcmp(u[k - 1], u[i])) u[k++] = u[i];
        if (k > LB_MAX_LABELS) {
            free(u);
            return lb_err(err, LB_ERR_FORMAT, "%s: label column \"%s\" holds %zu distinct label names: at most %d",
                          path, cn, k, LB_MAX_LABELS);
        }
        names = lb_copy_list((const char *const *)u, (int)k);
        free(u);
        if (!names) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        K = (int)k;
    } else kind = LB_TARGET_LIST_NAMES; /* every list empty: no label seen yet */
    d->targets = calloc((n ? n : 1) * (size_t)(K ? K : 1), sizeof *d->targets);
    d->labels = calloc(n ? n : 1, sizeof *d->labels);
    if (!d->targets || !d->labels) {
        lb_free_list(names);
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    }
    d->target_names = names;
    d->n_targets = K;
    d->num_labels = K;
    d->target_list = kind;
    d->label_kind = LB_LABEL_KIND_NONE;
    for (size_t r = 0; r < n; r++) {
        const lb_value *v = lb_table_cell(t, r, (size_t)col);
        float *row = d->targets + r * (size_t)K;
        for (size_t k = 0; k < v->n_items; k++) {
            const lb_value *e = &v->items[k];
            if (kind == LB_TARGET_LIST_MULTI_HOT) {
                double x = e->type == LB_VAL_FLOAT ? e->f : (double)e->i;
                if (x != 0 && x != 1) {
                    show_value(e, a, sizeof a);
                    return lb_err(err, LB_ERR_FORMAT,
                                  "%s: row %zu: label column \"%s\": element %zu is %s: expected 0 or 1 in a multi-hot "
                                  "vector",
                                  path, r, cn, k, a);
                }
                row[k] = (float)x;
                continue;
            }
            int j;
            if (kind == LB_TARGET_LIST_IDS) j = (int)e->i;
            else {
                char *key = e->s;
                char **hit = bsearch(&key, names, (size_t)K, sizeof *names, cmp_strp);
                j = (int)(hit - names);
            }
            if (row[j] != 0) {
                show_value(e, a, sizeof a);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: row %zu: label column \"%s\": label %s is in the list twice (element %zu); a "
                              "list names each label once%s",
                              path, r, cn, a, k,
                              kind == LB_TARGET_LIST_IDS
                                  ? " (a multi-hot vector of 0/1 integers: --label-format multi-hot)"
                                  : "");
            }
            row[j] = 1;
        }
    }
    return LB_OK;
}

/* First row of d with target j set (-1: none). */
static long first_target_row(const lb_dataset *d, int j) {
    for (size_t r = 0; r < d->n; r++)
        if (d->targets[r * (size_t)d->n_targets + (size_t)j] != 0) return (long)r;
    return -1;
}

/* Rewrites d's targets onto K columns: its column k goes to map[k]. */
static lb_status remap_targets(lb_dataset *d, const int *map, int K, lb_error *err) {
    float *t = calloc((d->n ? d->n : 1) * (size_t)(K ? K : 1), sizeof *t);
    if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (size_t r = 0; r < d->n; r++)
        for (int k = 0; k < d->n_targets; k++)
            t[r * (size_t)K + (size_t)map[k]] = d->targets[r * (size_t)d->n_targets + (size_t)k];
    free(d->targets);
    d->targets = t;
    d->n_targets = K;
    d->num_labels = K;
    return LB_OK;
}

lb_status lb_targets_unify(lb_dataset *ds, int nd, lb_error *err) {
    char wa[1200], wb[1200];
    int ref = -1; /* the first set with labels of a definite kind */
    for (int i = 0; i < nd; i++) {
        const bool empty = ds[i].target_list == LB_TARGET_LIST_NAMES && ds[i].n_targets == 0;
        if (empty) continue;
        if (ref < 0) {
            ref = i;
            continue;
        }
        const lb_dataset *p = &ds[ref], *q = &ds[i];
        if (p->target_list != q->target_list ||
            (p->target_list == LB_TARGET_LIST_MULTI_HOT && p->n_targets != q->n_targets)) {
            lb_dataset_where(p, 0, wa, sizeof wa);
            lb_dataset_where(q, 0, wb, sizeof wb);
            return lb_err(err, LB_ERR_FORMAT, "%s holds %s (%d values), but %s holds %s (%d values); %s", wa,
                          list_kind_name(p->target_list), p->n_targets, wb, list_kind_name(q->target_list),
                          q->n_targets, list_hint);
        }
    }
    if (ref < 0) return LB_OK;
    const lb_target_list kind = ds[ref].target_list;
    int map[LB_MAX_LABELS];
    if (kind == LB_TARGET_LIST_NAMES) {
        lb_dataset tmp[64];
        int nt = 0;
        char **u = NULL;
        /* the union of the names through union_names (it reads label_names of LB_LABEL_KIND_STR) */
        if (nd > 64) return lb_err(err, LB_ERR_USAGE, "lb_targets_unify: %d sets, at most 64", nd);
        for (int i = 0; i < nd; i++) {
            tmp[i] = (lb_dataset){
                .label_kind = LB_LABEL_KIND_STR, .num_labels = ds[i].n_targets, .label_names = ds[i].target_names};
        }
        if (!(u = union_names(tmp, nd, &nt))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        if (nt > LB_MAX_LABELS) {
            lb_free_list(u);
            return lb_err(err, LB_ERR_FORMAT, "%d distinct label names across the files: at most %d", nt,
                          LB_MAX_LABELS);
        }
        for (int i = 0; i < nd; i++) {
            for (int k = 0; k < ds[i].n_targets; k++)
                map[k] = name_index((const char *const *)u, nt, ds[i].target_names[k]);
            char **copy = lb_copy_list((const char *const *)u, nt);
            lb_status st = copy ? remap_targets(&ds[i], map, nt, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
            if (st) {
                lb_free_list(copy);
                lb_free_list(u);
                return st;
            }
            lb_free_list(ds[i].target_names);
            ds[i].target_names = copy;
            ds[i].target_list = kind;
        }
        lb_free_list(u);
        return LB_OK;
    }
    int K = 0;
    for (int i = 0; i < nd; i++)
        if (ds[i].n_targets > K) K = ds[i].n_targets;
    for (int k = 0; k < K; k++) map[k] = k;
    for (int i = 0; i < nd; i++) {
        if (ds[i].target_list == LB_TARGET_LIST_NAMES) { /* all empty: no names to free */
            lb_free_list(ds[i].target_names);
            ds[i].target_names = NULL;
        }
        ds[i].target_list = kind;
        if (ds[i].n_targets != K) {
            lb_status st = remap_targets(&ds[i], map, K, err);
            if (st) return st;
        }
    }
    return LB_OK;
}

lb_status lb_targets_to_labels(const lb_dataset *d, const char *const *labels, int L, const char *origin, float *out,
                               lb_error *err) {
    char where[1200], known[640];
    int map[LB_MAX_LABELS]; /* dataset target k -> label map[k] */
    const int K = d->n_targets;
    if (L < 1 || L > LB_MAX_LABELS || K > LB_MAX_LABELS)
        return lb_err(err, LB_ERR_USAGE, "%d labels for %d targets: expected 1..%d", L, K, LB_MAX_LABELS);
    if (!origin) origin = "the model's labels";
    switch (d->target_list) {
    case LB_TARGET_LIST_NAMES:
        for (int k = 0; k < K; k++)
            if ((map[k] = name_index(labels, L, d->target_names[k])) < 0) {
                long r = first_target_row(d, k);
                lb_dataset_where(d, (size_t)(r < 0 ? 0 : r), where, sizeof where);
                list_names(labels, L, known, sizeof known);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: unknown label \"%.200s\" in the list (the known labels, from "
                              "%s, are %s)",
                              where, d->target_names[k], origin, known);
            }
        break;
    case LB_TARGET_LIST_IDS:
        for (int k = 0; k < K; k++) {
            if (k >= L) {
                long r = first_target_row(d, k);
                map[k] = -1;
                if (r < 0) continue; /* no row holds it */
                lb_dataset_where(d, (size_t)r, where, sizeof where);
                list_names(labels, L, known, sizeof known);
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: class id %d in the list: expected a class id below %d (%d labels, from %s: %s)",
                              where, k, L, L, origin, known);
            }
            map[k] = k;
        }
        break;
    case LB_TARGET_LIST_MULTI_HOT:
        if (K != L) {
            lb_dataset_where(d, 0, where, sizeof where);
            list_names(labels, L, known, sizeof known);
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: a multi-hot list of %d values: expected %d, one per label (from %s: %s)", where, K, L,
                          origin, known);
        }
        for (int k = 0; k < K; k++) map[k] = k;
        break;
    default: return lb_err(err, LB_ERR_USAGE, "lb_targets_to_labels: the dataset's targets are not from a list column");
    }
    memset(out, 0, sizeof *out * (d->n ? d->n : 1) * (size_t)L);
    for (size_t r = 0; r < d->n; r++)
        for (int k = 0; k < K; k++)
            if (map[k] >= 0) out[r * (size_t)L + (size_t)map[k]] = d->targets[r * (size_t)K + (size_t)k];
    return LB_OK;
}
