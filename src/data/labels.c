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
        case LB_VAL_NULL:
            if (require) return lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label column \"%s\" is null", path, r, cn);
            continue;
        case LB_VAL_FLOAT:
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
