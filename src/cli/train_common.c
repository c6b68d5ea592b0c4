/* Shared helpers of the train / eval / merge commands; see train_common.h. */
#include "cli/train_common.h"
#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "base/strlist.h"
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

