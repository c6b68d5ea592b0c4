/* Split discovery and shard loading; see splits.h. */
#include "data/splits.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/strlist.h"
#include "data/labels.h"
#include "data/load.h"
#include "formats/hub.h"

static int supported_ext(const char *name) {
    static const char *exts[] = {".parquet", ".csv", ".jsonl", ".json", ".tsv"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && !strcmp(name + n - e, exts[i])) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of `split` in dir: the exact <split>.<ext> if present, else all <split>-* shards sorted by
 * name, else the first <split>[._]* by name. NULL-terminated list, or NULL when none. */
static char **find_split(const char *dir, const char *split, int *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL, *exact = NULL;
    int n = 0, cap = 0, shards = 0;
    struct dirent *e;
    size_t sl = strlen(split);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, split, sl) || !supported_ext(e->d_name)) continue;
        char c = e->d_name[sl];
        if (c != '-' && c != '.' && c != '_') continue;
        if (c == '.' && !strchr(e->d_name + sl + 1, '.') && !exact) exact = strdup(e->d_name);
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 8;
            char **g = realloc(names, sizeof *g * (size_t)cap);
            if (!g) break;
            names = g;
        }
        names[n++] = strdup(e->d_name);
        shards += c == '-';
    }
    closedir(d);
    if (!n) {
        free(exact);
        free(names);
        return NULL;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    char **out = calloc((size_t)n + 1, sizeof *out);
    if (out) {
        if (exact) out[(*count)++] = lb_path_join(dir, exact);
        else if (shards) {
            for (int i = 0; i < n; i++)
                if (names[i][sl] == '-') out[(*count)++] = lb_path_join(dir, names[i]);
        } else out[(*count)++] = lb_path_join(dir, names[0]);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(exact);
    return out;
}

/* refs/convert/parquet layout: <config>/<split>/NNNN.parquet, config "default" first. */
static char **find_converted(const char *dir, const char *split, int *count) {
    *count = 0;
    char **configs = NULL;
    int nc = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "data")) continue;
        char *sub = lb_path_join(dir, e->d_name);
        char *sp = lb_path_join(sub, split);
        if (lb_dir_exists(sp)) {
            char **g = realloc(configs, sizeof *g * (size_t)(nc + 1));
            if (g) {
                configs = g;
                configs[nc++] = strdup(e->d_name);
            }
        }
        free(sp);
        free(sub);
    }
    closedir(d);
    if (!nc) return NULL;
    qsort(configs, (size_t)nc, sizeof *configs, cmp_str);
    const char *pick = configs[0];
    for (int i = 0; i < nc; i++)
        if (!strcmp(configs[i], "default")) pick = configs[i];
    char *sub = lb_path_join(dir, pick);
    char *sp = lb_path_join(sub, split);
    char **out = NULL;
    int n = 0;
    DIR *sd = opendir(sp);
    while (sd && (e = readdir(sd))) {
        size_t l = strlen(e->d_name);
        if (l <= 8 || strcmp(e->d_name + l - 8, ".parquet")) continue;
        char **g = realloc(out, sizeof *g * (size_t)(n + 2));
        if (!g) break;
        out = g;
        out[n++] = lb_path_join(sp, e->d_name);
        out[n] = NULL;
    }
    if (sd) closedir(sd);
    if (n) qsort(out, (size_t)n, sizeof *out, cmp_str);
    *count = n;
    free(sp);
    free(sub);
    for (int i = 0; i < nc; i++) free(configs[i]);
    free(configs);
    return out;
}

lb_status lb_data_resolve_split(const char *dataset, const char *split, char ***paths, int *n, lb_error *err) {
    *paths = NULL;
    *n = 0;
    if (lb_file_exists(dataset) && !lb_dir_exists(dataset)) {
        *paths = calloc(2, sizeof **paths);
        if (!*paths || !((*paths)[0] = strdup(dataset))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        *n = 1;
        return LB_OK;
    }
    if (!*split || strchr(split, '/') || !strcmp(split, "..") || !strcmp(split, "."))
        return lb_err(err, LB_ERR_USAGE, "bad split name '%s'", split);
    char *dir = NULL;
    if (lb_dir_exists(dataset)) dir = strdup(dataset);
    else if (lb_hub_looks_like_repo_id(dataset)) {
        lb_status st = lb_hub_resolve(dataset, "dataset", NULL, NULL, &dir, err);
        if (st) return st;
    } else {
        return lb_err(err, LB_ERR_IO, "%s: no such file or folder (and not a hub dataset id)", dataset);
    }
    *paths = find_split(dir, split, n);
    if (!*paths) {
        char *sub = lb_path_join(dir, "data");
        *paths = find_split(sub, split, n);
        free(sub);
    }
    if (!*paths) *paths = find_converted(dir, split, n);
    lb_status st = *paths && *n
                       ? LB_OK
                       : lb_err(err, LB_ERR_IO,
                                "%s: no '%s' split (%s*.parquet/csv/jsonl/json/tsv at the top level or in data/, "
                                "or <config>/%s/*.parquet)",
                                dataset, split, split, split);
    if (st) {
        lb_free_list(*paths);
        *paths = NULL;
        *n = 0;
    }
    free(dir);
    return st;
}

/* Moves src's rows (and its sources) to the end of dst. */
static lb_status append_rows(lb_dataset *dst, lb_dataset *src, const char *path, lb_error *err) {
    size_t n = dst->n + src->n;
    char **t = realloc(dst->texts, sizeof *t * n);
    if (t) dst->texts = t;
    char **p = src->text_pairs ? realloc(dst->text_pairs, sizeof *p * n) : NULL;
    if (p) dst->text_pairs = p;
    int32_t *l = realloc(dst->labels, sizeof *l * n);
    if (l) dst->labels = l;
    int ns = dst->n_sources + src->n_sources;
    char **sv = realloc(dst->sources, sizeof *sv * (size_t)ns);
    if (sv) dst->sources = sv;
    size_t *ss = realloc(dst->source_start, sizeof *ss * (size_t)ns);
    if (ss) dst->source_start = ss;
    if (!t || !l || !sv || !ss || (src->text_pairs && !p)) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    if (src->targets) { /* the same label columns in every shard (lb_dataset_load checked them) */
        const size_t K = (size_t)src->n_targets;
        float *tg = realloc(dst->targets, sizeof *tg * (n * K > 0 ? n * K : 1));
        if (!tg) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        dst->targets = tg;
        memcpy(dst->targets + dst->n * K, src->targets, sizeof *tg * src->n * K);
        dst->n_targets = src->n_targets;
    }
    memcpy(dst->texts + dst->n, src->texts, sizeof *t * src->n);
    if (p) memcpy(dst->text_pairs + dst->n, src->text_pairs, sizeof *p * src->n);
    memcpy(dst->labels + dst->n, src->labels, sizeof *l * src->n);
    for (int i = 0; i < src->n_sources; i++) {
        dst->sources[dst->n_sources + i] = src->sources[i];
        dst->source_start[dst->n_sources + i] = dst->n + src->source_start[i];
    }
    dst->n_sources = ns;
    dst->n = n;
    free(src->texts);
    free(src->text_pairs);
    free(src->sources);
    free(src->source_start);
    src->texts = src->text_pairs = src->sources = NULL;
    src->source_start = NULL;
    src->n_sources = 0;
    src->n = 0;
    return LB_OK;
}

lb_status lb_data_load_shards(char *const *paths, int n, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    lb_dataset_opts o = opts ? *opts : (lb_dataset_opts){.require_labels = true};
    if (n < 1) return lb_err(err, LB_ERR_USAGE, "lb_data_load_shards: no files");
    if (n == 1) return lb_dataset_load(paths[0], &o, out, err);
    lb_dataset_opts each = o; /* names are applied once, to the whole split */
    each.label_names = NULL;
    each.n_label_names = 0;
    lb_dataset *parts = calloc((size_t)n, sizeof *parts);
    if (!parts) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = LB_OK;
    for (int i = 0; !st && i < n; i++) {
        st = lb_dataset_load(paths[i], &each, &parts[i], err);
        if (o.rows) o.rows->first += o.rows->seen; /* the next file's first row, over the split */
    }
    char **names = NULL;
    int nn = 0;
    if (!st && !o.problem) st = lb_labels_map(parts, n, NULL, &names, &nn, NULL, err); /* one class set */
    if (!st && o.problem == LB_PROBLEM_MULTI_LABEL && !o.n_label_columns) st = lb_targets_unify(parts, n, err);
    lb_free_list(names);
    for (int i = 0; !st && i < n; i++) {
        if (out->label_kind == LB_LABEL_KIND_NONE) out->label_kind = parts[i].label_kind;
        st = append_rows(out, &parts[i], paths[i], err);
    }
    if (!st) { /* the shared class names move over from the first shard */
        out->num_labels = parts[0].num_labels;
        out->label_names = parts[0].label_names;
        parts[0].label_names = NULL;
        parts[0].num_labels = 0;
        out->target_names = parts[0].target_names; /* multi-label: the label columns, or list names */
        parts[0].target_names = NULL;
        out->target_list = parts[0].target_list;
        if (out->target_list) out->num_labels = parts[0].n_targets;
    }
    for (int i = 0; i < n; i++) lb_dataset_free(&parts[i]);
    free(parts);
    if (!st && o.label_names && !o.problem) {
        lb_label_spec spec = {.names = o.label_names,
                              .n_names = o.n_label_names,
                              .policy = LB_LABELS_EXACT,
                              .origin = o.label_names_origin};
        st = lb_labels_map(out, 1, &spec, &names, &nn, NULL, err);
        lb_free_list(names);
    }
    if (st) lb_dataset_free(out);
    return st;
}
