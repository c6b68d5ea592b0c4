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
#include "formats/safetensors.h"

static void print_default(FILE *f, const cli_opt *o) {
    switch (o->kind) {
    case OPT_STR: {
        const char *v = *(const char **)o->dest;
        if (v) fprintf(f, " (default: %s)", v);
        break;
    }
    case OPT_INT: fprintf(f, " (default: %ld)", *(long *)o->dest); break;
    case OPT_F64: fprintf(f, " (default: %g)", *(double *)o->dest); break;
    case OPT_FLAG: break;
    }
}

int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int nopts, int argc, char **argv,
              bool *help_shown) {
    *help_shown = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\noptions:\n", usage);
            for (int k = 0; k < nopts; k++) {
                char left[64];
                snprintf(left, sizeof left, "%s%s%s", opts[k].name, opts[k].metavar ? " " : "",
                         opts[k].metavar ? opts[k].metavar : "");
                printf("  %-26s %s", left, opts[k].help);
                print_default(stdout, &opts[k]);
                putchar('\n');
            }
            printf("  %-26s %s\n", "-h, --help", "show this help");
            printf("\nExit status: 0 ok, 1 internal error, 2 usage, 3 I/O, 4 bad file format or data (labels\n"
                   "outside the model's range, empty dataset, missing column), 5 unsupported, 6 out of memory,\n"
                   "7 network, 8 non-finite loss, 9 interrupted (a resumable checkpoint was written).\n");
            *help_shown = true;
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts && !o; k++)
            if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen)) o = &opts[k];
        if (!o) return cli_usage_error(cmd, "unknown option '%s'", a);
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_usage_error(cmd, "%s takes no value", o->name);
            *(bool *)o->dest = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return cli_usage_error(cmd, "%s needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
        if (o->kind == OPT_STR) {
            *(const char **)o->dest = v;
            continue;
        }
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d) || d < o->min || d > o->max ||
            (o->kind == OPT_INT && d != floor(d)))
            return cli_usage_error(cmd, "%s needs %s in [%g, %g], got '%s'", o->name,
                                   o->kind == OPT_INT ? "an integer" : "a number", o->min, o->max, v);
        if (o->kind == OPT_INT) *(long *)o->dest = (long)d;
        else *(double *)o->dest = d;
    }
    return 0;
}

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

/* First file (by name) in dir whose name starts with split and has a supported extension. */
static char *find_split(const char *dir, const char *split) {
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *best = NULL;
    struct dirent *e;
    size_t sl = strlen(split);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, split, sl) || !supported_ext(e->d_name)) continue;
        char c = e->d_name[sl];
        if (c != '-' && c != '.' && c != '_') continue;
        if (!best || strcmp(e->d_name, best) < 0) {
            free(best);
            best = strdup(e->d_name);
        }
    }
    closedir(d);
    if (!best) return NULL;
    char *p = lb_path_join(dir, best);
    free(best);
    return p;
}

lb_status cli_resolve_split(const char *dataset, const char *split, char **path, lb_error *err) {
    *path = NULL;
    if (lb_file_exists(dataset) && !lb_dir_exists(dataset)) {
        *path = strdup(dataset);
        return LB_OK;
    }
    char *dir = NULL;
    if (lb_dir_exists(dataset)) dir = strdup(dataset);
    else if (lb_hub_looks_like_repo_id(dataset)) {
        lb_status st = lb_hub_resolve(dataset, "dataset", NULL, NULL, &dir, err);
        if (st) return st;
    } else {
        return lb_err(err, LB_ERR_IO, "%s: no such file or folder (and not a hub dataset id)", dataset);
    }
    *path = find_split(dir, split);
    if (!*path) {
        char *sub = lb_path_join(dir, "data");
        *path = find_split(sub, split);
        free(sub);
    }
    lb_status st = *path ? LB_OK
                         : lb_err(err, LB_ERR_IO, "%s: no '%s' split file (%s*.parquet/csv/jsonl/json/tsv, top level or data/)",
                                  dataset, split, split);
    free(dir);
    return st;
}

lb_status cli_load_tokset(const char *path, const char *text_col, const char *label_col, char **label_names,
                          int num_labels, const lb_tokenizer *tok, int max_length, bool truncate_left,
                          lb_tokset *out, lb_error *err) {
    lb_dataset ds;
    memset(&ds, 0, sizeof ds);
    lb_dataset_opts dopts = {.text_column = text_col, .label_column = label_col, .label_names = label_names,
                             .n_label_names = label_names ? num_labels : 0, .require_labels = true};
    lb_status st = lb_dataset_load(path, &dopts, &ds, err);
    if (st) return st;
    size_t *lens = malloc(sizeof(size_t) * (ds.n ? ds.n : 1));
    if (!lens) { lb_dataset_free(&ds); return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path); }
    for (size_t i = 0; i < ds.n; i++) lens[i] = strlen(ds.texts[i]);
    st = lb_tokset_build(out, tok, (const char *const *)ds.texts, lens, ds.labels, (int64_t)ds.n, num_labels,
                         max_length, truncate_left, path, err);
    free(lens);
    lb_dataset_free(&ds);
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
        lb_status st = lb_read_file(p, &text, &len, err);
        if (st) { free(p); return st; }
        cJSON *root = cJSON_ParseWithLength(text, len);
        free(text);
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
