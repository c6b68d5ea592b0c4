/* lb_describe: what `lorabert info` shows, read from a folder's headers only (config.json,
 * adapter_config.json, safetensors headers, tokenizer files): nothing is loaded or copied.
 * The description is one JSON object so that every caller (CLI text and --json, Python, the
 * server's /info) shows the same facts. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/fileio.h"
#include "formats/hub.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"
#include "text/tokenizer.h"

/* Reads and parses dir/name; NULL with *err set (missing file: code LB_ERR_IO). */
static cJSON *read_json(const char *dir, const char *name, lb_error *err) {
    char *path = lb_path_join(dir, name);
    cJSON *j = NULL;
    if (!path) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    j = lb_json_read_file(path, LB_MAX_JSON_BYTES, "JSON file", true, err);
    free(path);
    return j;
}

static int json_int(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : dflt;
}

static const char *json_str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool file_in(const char *dir, const char *name) {
    char *p = lb_path_join(dir, name);
    bool ok = p && lb_file_exists(p);
    free(p);
    return ok;
}

/* Tensor summary of one safetensors file or an indexed set: count, parameters, dtypes. */
typedef struct st_summary {
    size_t tensors;
    int64_t params;
    size_t per_dtype[LB_DT__COUNT];
} st_summary;

static void summarize(const lb_st_file *f, st_summary *s) {
    memset(s, 0, sizeof *s);
    s->tensors = lb_st_count(f);
    for (size_t i = 0; i < s->tensors; i++) {
        const lb_st_tensor *t = lb_st_at(f, i);
        s->params += t->numel;
        s->per_dtype[t->dtype]++;
    }
}

static void dtype_list(const st_summary *s, char *buf, size_t n) {
    buf[0] = '\0';
    size_t used = 0;
    for (int d = 0; d < LB_DT__COUNT; d++) {
        if (!s->per_dtype[d]) continue;
        int w = snprintf(buf + used, n - used, "%s%s (%zu tensors)", used ? ", " : "", lb_dtype_name((lb_dtype)d),
                         s->per_dtype[d]);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

/* Labels from config.json id2label in id order (LABEL_i where unnamed) into arr; the count. */
static int labels_of(const cJSON *cfg, cJSON *arr) {
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    int count = cJSON_IsObject(id2label) ? cJSON_GetArraySize(id2label) : 0;
    if (!count) count = json_int(cfg, "num_labels", 2); /* transformers' default */
    if (count < 0 || count > 100000) count = 0;
    for (int i = 0; i < count; i++) {
        char key[16], dflt[32];
        snprintf(key, sizeof key, "%d", i);
        snprintf(dflt, sizeof dflt, "LABEL_%d", i);
        const char *name = id2label ? json_str(id2label, key) : NULL;
        cJSON_AddItemToArray(arr, cJSON_CreateString(name ? name : dflt));
    }
    return count;
}

static lb_status describe_adapter(const char *dir, cJSON *o, lb_error *err) {
    cJSON *cfg = read_json(dir, "adapter_config.json", err);
    if (!cfg) return err ? err->code : LB_ERR_FORMAT;
    char *st_path = lb_path_join(dir, "adapter_model.safetensors");
    bool has_weights = st_path && lb_file_exists(st_path);
    lb_st_file *f = has_weights ? lb_st_open(st_path, err) : NULL;
    free(st_path);
    if (has_weights && !f) {
        cJSON_Delete(cfg);
        return err ? err->code : LB_ERR_FORMAT;
    }
    st_summary s = {0};
    if (f) summarize(f, &s);
    lb_st_close(f);
    char dts[256] = "";
    dtype_list(&s, dts, sizeof dts);
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(cfg, "target_modules");
    char tbuf[512] = "";
    if (cJSON_IsString(targets)) snprintf(tbuf, sizeof tbuf, "%s", targets->valuestring);
    else if (cJSON_IsArray(targets)) {
        const cJSON *t;
        size_t used = 0;
        cJSON_ArrayForEach(t, targets) {
            if (!cJSON_IsString(t)) continue;
            int w = snprintf(tbuf + used, sizeof tbuf - used, "%s%s", used ? ", " : "", t->valuestring);
            if (w < 0 || (size_t)w >= sizeof tbuf - used) break;
            used += (size_t)w;
        }
    }
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(cfg, "lora_alpha");
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(cfg, "lora_dropout");
    const char *peft_type = json_str(cfg, "peft_type");
    const char *task = json_str(cfg, "task_type");
    const char *base = json_str(cfg, "base_model_name_or_path");
    cJSON_AddStringToObject(o, "path", dir);
    cJSON_AddStringToObject(o, "kind", "adapter");
    cJSON_AddStringToObject(o, "peft_type", peft_type ? peft_type : "");
    cJSON_AddNumberToObject(o, "r", json_int(cfg, "r", 8));
    cJSON_AddNumberToObject(o, "lora_alpha", cJSON_IsNumber(alpha) ? alpha->valuedouble : 8);
    cJSON_AddNumberToObject(o, "lora_dropout", cJSON_IsNumber(drop) ? drop->valuedouble : 0);
    cJSON_AddStringToObject(o, "target_modules", tbuf);
    cJSON_AddStringToObject(o, "task_type", task ? task : "");
    cJSON_AddStringToObject(o, "base_model", base ? base : "");
    cJSON_AddBoolToObject(o, "has_weights", has_weights);
    cJSON_AddNumberToObject(o, "tensors", (double)s.tensors);
    cJSON_AddNumberToObject(o, "parameters", (double)s.params);
    cJSON_AddStringToObject(o, "dtypes", dts);
    cJSON_AddBoolToObject(o, "has_tokenizer", file_in(dir, "tokenizer.json") || file_in(dir, "vocab.txt"));
    cJSON_Delete(cfg);
    return LB_OK;
}

static lb_status describe_model(const char *dir, cJSON *o, lb_error *err) {
    cJSON *cfg = read_json(dir, "config.json", err);
    if (!cfg) {
        if (err && err->code == LB_ERR_IO)
            lb_err(err, LB_ERR_IO, "%s: no config.json or adapter_config.json: not a model or adapter folder", dir);
        return err ? err->code : LB_ERR_IO;
    }
    lb_st_file *f = lb_st_open_dir(dir, err);
    if (!f) {
        cJSON_Delete(cfg);
        return err ? err->code : LB_ERR_FORMAT;
    }
    st_summary s;
    summarize(f, &s);
    lb_st_close(f);
    const char *model_type = json_str(cfg, "model_type");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *arch0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    const char *arch = cJSON_IsString(arch0) ? arch0->valuestring : "(not recorded)";
    bool distil = model_type && !strcmp(model_type, "distilbert");
    int max_pos = json_int(cfg, "max_position_embeddings", -1);
    char dts[256];
    dtype_list(&s, dts, sizeof dts);
    bool tok_json = file_in(dir, "tokenizer.json"), tok_vocab = file_in(dir, "vocab.txt");
    lb_error terr = {0};
    lb_tokenizer *tok = tok_json || tok_vocab ? lb_tokenizer_load(dir, &terr) : NULL;
    char tok_desc[1200];
    int max_len = max_pos;
    /* RoBERTa / XLM-R: position ids start at pad_token_id + 1 (514 -> 512 tokens) */
    bool rob = model_type && (!strcmp(model_type, "roberta") || !strcmp(model_type, "xlm-roberta"));
    if (rob && max_pos > 0) max_len = max_pos - json_int(cfg, "pad_token_id", 1) - 1;
    if (tok) {
        int mml = lb_tokenizer_model_max_length(tok);
        if (mml > 0 && (max_len <= 0 || mml < max_len)) max_len = mml;
        snprintf(tok_desc, sizeof tok_desc, "%s from %s, vocab %d, model_max_length %d", lb_tokenizer_model_name(tok),
                 tok_json ? "tokenizer.json" : "vocab.txt", lb_tokenizer_vocab_size(tok), mml);
    } else if (tok_json || tok_vocab) {
        snprintf(tok_desc, sizeof tok_desc, "unreadable: %s", terr.msg);
    } else {
        snprintf(tok_desc, sizeof tok_desc, "none in this folder");
    }
    cJSON_AddStringToObject(o, "path", dir);
    cJSON_AddStringToObject(o, "kind", "model");
    cJSON_AddStringToObject(o, "architecture", arch);
    cJSON_AddStringToObject(o, "model_type", model_type ? model_type : "");
    cJSON_AddNumberToObject(o, "layers", json_int(cfg, distil ? "n_layers" : "num_hidden_layers", -1));
    cJSON_AddNumberToObject(o, "dim", json_int(cfg, distil ? "dim" : "hidden_size", -1));
    cJSON_AddNumberToObject(o, "heads", json_int(cfg, distil ? "n_heads" : "num_attention_heads", -1));
    cJSON_AddNumberToObject(o, "ffn_dim", json_int(cfg, distil ? "hidden_dim" : "intermediate_size", -1));
    cJSON_AddNumberToObject(o, "vocab_size", json_int(cfg, "vocab_size", -1));
    cJSON_AddNumberToObject(o, "max_position_embeddings", max_pos);
    cJSON_AddNumberToObject(o, "parameters", (double)s.params);
    cJSON_AddNumberToObject(o, "tensors", (double)s.tensors);
    cJSON_AddStringToObject(o, "dtypes", dts);
    cJSON *labels = cJSON_CreateArray();
    int n_labels = labels_of(cfg, labels);
    cJSON_AddNumberToObject(o, "num_labels", n_labels);
    cJSON_AddItemToObject(o, "labels", labels);
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(cfg, "problem_type");
    /* absent: HF's rule (one label is regression) */
    cJSON_AddStringToObject(o, "problem_type",
                            cJSON_IsString(pt) ? pt->valuestring
                            : n_labels == 1    ? "regression"
                                               : "single_label_classification");
    cJSON_AddStringToObject(o, "tokenizer", tok_desc);
    if (tok) cJSON_AddNumberToObject(o, "tokenizer_vocab_size", lb_tokenizer_vocab_size(tok));
    cJSON_AddNumberToObject(o, "max_length", max_len);
    lb_tokenizer_free(tok);
    cJSON_Delete(cfg);
    return LB_OK;
}

lb_status lb_describe(const char *dir_or_id, char **json, lb_error *err) {
    LB_API_NOT_NULL(json);
    *json = NULL;
    char *dir = NULL;
    lb_status st = lb_api_resolve(dir_or_id, "model", NULL, &dir, err);
    if (st) return st;
    cJSON *o = cJSON_CreateObject();
    if (!o) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    else if (file_in(dir, "adapter_config.json") && !file_in(dir, "config.json")) st = describe_adapter(dir, o, err);
    else st = describe_model(dir, o, err);
    if (!st && !(*json = cJSON_PrintUnformatted(o))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
    free(dir);
    return st;
}

void lb_free(void *p) { free(p); }

lb_status lb_hub_download(const char *repo_id, bool dataset, const char *revision, const char *const *include,
                          char **dir, lb_error *err) {
    LB_API_NOT_NULL(dir);
    *dir = NULL;
    if (!repo_id || !*repo_id) return lb_err(err, LB_ERR_USAGE, "empty repo id");
    return lb_hub_resolve_repo(repo_id, dataset ? "dataset" : "model", revision, include, dir, err);
}

void lb_set_download_progress(lb_download_progress_fn fn, void *user) { lb_hub_set_progress(fn, user); }
