/* Shared helpers of the train / eval / merge commands; see train_common.h. */
#include "cli/train_common.h"
#include <cblas.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "formats/hub.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"

lb_status cli_resolve_model(const char *id_or_dir, char **dir, lb_error *err) {
    static const char *const include[] = {"config.json", "*.safetensors", "model.safetensors.index.json",
                                          "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                          "special_tokens_map.json", NULL};
    if (lb_dir_exists(id_or_dir)) {
        *dir = strdup(id_or_dir);
        return *dir ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    if (!lb_hub_looks_like_repo_id(id_or_dir))
        return lb_err(err, LB_ERR_IO, "%s: no such model folder (and not a hub repo id)", id_or_dir);
    return lb_hub_resolve(id_or_dir, "model", NULL, include, dir, err);
}

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
    if (!n) { free(exact); free(names); return NULL; }
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
            if (g) { configs = g; configs[nc++] = strdup(e->d_name); }
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

lb_status cli_resolve_split(const char *dataset, const char *split, char ***paths, int *n, lb_error *err) {
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
    lb_status st = *paths && *n ? LB_OK
                         : lb_err(err, LB_ERR_IO,
                                  "%s: no '%s' split (%s*.parquet/csv/jsonl/json/tsv at the top level or in data/, "
                                  "or <config>/%s/*.parquet)", dataset, split, split, split);
    if (st) { cli_free_list(*paths); *paths = NULL; *n = 0; }
    free(dir);
    return st;
}

/* Moves src's rows to the end of dst (string labels keep src's own indices; fixed by the caller). */
static lb_status append_rows(lb_dataset *dst, lb_dataset *src, const char *path, lb_error *err) {
    size_t n = dst->n + src->n;
    char **t = realloc(dst->texts, sizeof *t * n);
    if (t) dst->texts = t;
    char **p = src->text_pairs ? realloc(dst->text_pairs, sizeof *p * n) : NULL;
    if (p) dst->text_pairs = p;
    int32_t *l = realloc(dst->labels, sizeof *l * n);
    if (l) dst->labels = l;
    if (!t || !l || (src->text_pairs && !p)) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    memcpy(dst->texts + dst->n, src->texts, sizeof *t * src->n);
    if (p) memcpy(dst->text_pairs + dst->n, src->text_pairs, sizeof *p * src->n);
    memcpy(dst->labels + dst->n, src->labels, sizeof *l * src->n);
    dst->n = n;
    free(src->texts);
    free(src->text_pairs);
    src->texts = src->text_pairs = NULL;
    src->n = 0;
    return LB_OK;
}

static int name_index(char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], s)) return i;
    return -1;
}

/* Relabels d (string labels, d->label_names) to names[0..n); -1 when a value is missing. */
static int relabel(lb_dataset *d, char *const *names, int n, bool apply) {
    int *map = malloc(sizeof *map * (size_t)(d->num_labels ? d->num_labels : 1));
    if (!map) return -1;
    for (int k = 0; k < d->num_labels; k++)
        if ((map[k] = name_index(names, n, d->label_names[k])) < 0) { free(map); return -1; }
    if (apply) {
        for (size_t i = 0; i < d->n; i++)
            if (d->labels[i] >= 0) d->labels[i] = map[d->labels[i]];
        for (int k = 0; k < d->num_labels; k++) free(d->label_names[k]);
        free(d->label_names);
        d->label_names = calloc((size_t)n + 1, sizeof *d->label_names);
        for (int k = 0; d->label_names && k < n; k++) d->label_names[k] = strdup(names[k]);
        d->num_labels = n;
    }
    free(map);
    return 0;
}

/* Sorted union of the string label names of ds[0..nd). NULL-terminated. */
static char **union_names(lb_dataset *const *ds, int nd, int *n) {
    int total = 0;
    for (int i = 0; i < nd; i++) total += ds[i]->label_names ? ds[i]->num_labels : 0;
    char **u = calloc((size_t)total + 1, sizeof *u);
    *n = 0;
    if (!u) return NULL;
    for (int i = 0; i < nd; i++)
        for (int k = 0; ds[i]->label_names && k < ds[i]->num_labels; k++) u[(*n)++] = ds[i]->label_names[k];
    qsort(u, (size_t)*n, sizeof *u, cmp_str);
    int m = 0;
    for (int i = 0; i < *n; i++)
        if (!m || strcmp(u[m - 1], u[i])) u[m++] = u[i];
    for (int i = 0; i < m; i++) u[i] = strdup(u[i]);
    for (int i = m; i < *n; i++) u[i] = NULL;
    *n = m;
    return u;
}

lb_status cli_dataset_load(char *const *paths, int n, const char *text_col, const char *pair_col,
                           const char *label_col, lb_dataset *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    lb_dataset_opts o = {.text_column = text_col, .label_column = label_col, .text_pair_column = pair_col,
                         .require_labels = true};
    if (n == 1) return lb_dataset_load(paths[0], &o, out, err);
    lb_dataset *parts = calloc((size_t)n, sizeof *parts);
    lb_dataset **pp = calloc((size_t)n, sizeof *pp);
    lb_status st = parts && pp ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    int loaded = 0, strings = 0;
    for (; !st && loaded < n; loaded++) {
        if ((st = lb_dataset_load(paths[loaded], &o, &parts[loaded], err))) break;
        pp[loaded] = &parts[loaded];
        strings += parts[loaded].label_names != NULL;
    }
    if (!st && strings && strings != n)
        st = lb_err(err, LB_ERR_FORMAT, "%s: label column \"%s\" holds strings in some shards and integers in others",
                    paths[0], label_col);
    char **u = NULL;
    int nu = 0;
    if (!st && strings) {
        if (!(u = union_names(pp, n, &nu))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        for (int i = 0; !st && i < n; i++) relabel(&parts[i], u, nu, true);
    }
    for (int i = 0; !st && i < n; i++) {
        st = append_rows(out, &parts[i], paths[i], err);
    }
    if (!st) {
        int maxl = 0;
        for (size_t i = 0; i < out->n; i++) if (out->labels[i] + 1 > maxl) maxl = out->labels[i] + 1;
        out->num_labels = u ? nu : maxl;
        out->label_names = u;
        u = NULL;
    }
    cli_free_list(u);
    for (int i = 0; parts && i < n; i++) lb_dataset_free(&parts[i]);
    free(parts);
    free(pp);
    if (st) lb_dataset_free(out);
    return st;
}

lb_status cli_map_labels(lb_dataset *ds, int nd, char *const *names, int n_names, char ***out_names, int *out_n,
                         lb_error *err) {
    *out_names = NULL;
    *out_n = 0;
    lb_dataset **pp = calloc((size_t)nd + 1, sizeof *pp);
    if (!pp) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    int strings = 0;
    for (int i = 0; i < nd; i++) { pp[i] = &ds[i]; strings += ds[i].label_names != NULL; }
    lb_status st = LB_OK;
    if (strings) {
        bool cover = names && n_names > 0;
        for (int i = 0; cover && i < nd; i++)
            if (ds[i].label_names && relabel(&ds[i], names, n_names, false)) cover = false;
        int nu = n_names;
        char **u = NULL;
        if (cover) {
            u = calloc((size_t)n_names + 1, sizeof *u);
            for (int k = 0; u && k < n_names; k++) u[k] = strdup(names[k]);
        } else u = union_names(pp, nd, &nu);
        if (!u) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        for (int i = 0; !st && i < nd; i++)
            if (ds[i].label_names) relabel(&ds[i], u, nu, true);
        if (!st) { *out_names = u; *out_n = nu; }
    }
    free(pp);
    return st;
}

void cli_print_labels(FILE *f, char *const *names, int n) {
    fprintf(f, "labels:");
    for (int i = 0; i < n; i++) fprintf(f, " %d=%s", i, names[i]);
    fputc('\n', f);
}

lb_status cli_tokset(const lb_dataset *d, const lb_tokenizer *tok, int num_labels, int max_length, bool truncate_left,
                     const char *what, lb_tokset *out, lb_error *err) {
    size_t *lens = malloc(sizeof(size_t) * 2 * (d->n ? d->n : 1));
    if (!lens) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
    size_t *plens = lens + d->n;
    for (size_t i = 0; i < d->n; i++) {
        lens[i] = strlen(d->texts[i]);
        if (d->text_pairs) plens[i] = strlen(d->text_pairs[i]);
    }
    lb_status st = lb_tokset_build_pairs(out, tok, (const char *const *)d->texts, lens,
                                         (const char *const *)d->text_pairs, plens, d->labels, (int64_t)d->n,
                                         num_labels, max_length, truncate_left, what, err);
    free(lens);
    return st;
}

char **cli_split_list(const char *s, int *n) {
    *n = 0;
    if (!s || !*s) return NULL;
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    char **list = calloc((size_t)cap + 1, sizeof *list);
    if (!list) return NULL;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || !*p) {
            list[*n] = strndup(start, (size_t)(p - start));
            (*n)++;
            if (!*p) break;
            start = p + 1;
        }
    }
    return list;
}

void cli_free_list(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}

lb_status cli_adapter_labels(const char *adapter_dir, int *num_labels, char ***names, lb_error *err) {
    *num_labels = 0;
    if (names) *names = NULL;
    char *p = lb_path_join(adapter_dir, "labels.json");
    if (lb_file_exists(p)) {
        char *text;
        size_t len;
        lb_status st = lb_read_file_max(p, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err);
        if (st) { free(p); return st; }
        cJSON *root = lb_json_parse(p, text, len, err);
        free(text);
        if (!root) { free(p); return LB_ERR_FORMAT; }
        const cJSON *id2 = root ? cJSON_GetObjectItemCaseSensitive(root, "id2label") : NULL;
        int n = cJSON_GetArraySize(id2);
        if (!cJSON_IsObject(id2) || n < 1) {
            cJSON_Delete(root);
            st = lb_err(err, LB_ERR_FORMAT, "%s: expected {\"id2label\": {\"0\": name, ...}}", p);
            free(p);
            return st;
        }
        if (names) {
            *names = calloc((size_t)n + 1, sizeof **names);
            for (int i = 0; *names && i < n; i++) {
                char key[16];
                snprintf(key, sizeof key, "%d", i);
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(id2, key);
                if (!cJSON_IsString(v)) {
                    cli_free_list(*names);
                    *names = NULL;
                    cJSON_Delete(root);
                    st = lb_err(err, LB_ERR_FORMAT, "%s: id2label has no name for label %d", p, i);
                    free(p);
                    return st;
                }
                (*names)[i] = strdup(v->valuestring);
            }
        }
        *num_labels = n;
        cJSON_Delete(root);
        free(p);
        return LB_OK;
    }
    free(p);
    p = lb_path_join(adapter_dir, "adapter_model.safetensors");
    if (lb_file_exists(p)) {
        lb_st_file *f = lb_st_open(p, err);
        if (!f) { free(p); return err ? err->code : LB_ERR_FORMAT; }
        for (size_t i = 0; i < lb_st_count(f); i++) {
            const lb_st_tensor *t = lb_st_at(f, i);
            size_t n = strlen(t->name);
            static const char *suffixes[] = {".classifier.weight", ".score.weight"};
            for (int k = 0; k < 2; k++) {
                size_t sl = strlen(suffixes[k]);
                if (n > sl && !strcmp(t->name + n - sl, suffixes[k]) && !strstr(t->name, "pre_classifier") &&
                    t->ndim == 2)
                    *num_labels = (int)t->shape[0];
            }
        }
        lb_st_close(f);
    }
    free(p);
    return LB_OK;
}

void cli_set_threads(long n) {
    if (n <= 0) return;
    omp_set_num_threads((int)n);
    openblas_set_num_threads((int)n);
}
