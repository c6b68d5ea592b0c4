/* `lorabert info`: describes a model folder (architecture, sizes, parameter count, tensor
 * dtypes, labels, tokenizer, max length) or a PEFT adapter folder (LoRA settings, base model,
 * tensors). Reads only the headers of the safetensors files (they are mapped, not loaded). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "cli/cli.h"
#include "formats/hub.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"
#include "text/tokenizer.h"

static void info_help(FILE *out) {
    fprintf(out,
            "usage: lorabert info DIR|REPO_ID [--json]\n\n"
            "Describes a model folder (config.json + model.safetensors, tokenizer files) or a PEFT\n"
            "adapter folder (adapter_config.json + adapter_model.safetensors): architecture,\n"
            "layers and dimensions, parameter count, tensor dtypes, labels, tokenizer, max length.\n"
            "A hub repo id is resolved through the HF cache (downloading its config, weights and\n"
            "tokenizer files when missing).\n\n"
            "  --json     one JSON object instead of the text listing\n"
            "  -h, --help show this help\n");
}

/* Reads and parses dir/name; NULL with *err set (missing file: code LB_ERR_IO). */
static cJSON *read_json(const char *dir, const char *name, lb_error *err) {
    char *path = lb_path_join(dir, name);
    cJSON *j = NULL;
    if (!path) { lb_err(err, LB_ERR_NOMEM, "out of memory"); return NULL; }
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

static void thousands(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
}

/* Labels from config.json id2label, in id order, as "0=Negative, 1=Positive". */
static int labels_of(const cJSON *cfg, char *buf, size_t n, cJSON *jarr) {
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    int count = cJSON_IsObject(id2label) ? cJSON_GetArraySize(id2label) : 0;
    if (!count) count = json_int(cfg, "num_labels", 2);  /* transformers' default */
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        char key[16], dflt[32];
        snprintf(key, sizeof key, "%d", i);
        snprintf(dflt, sizeof dflt, "LABEL_%d", i);
        const char *name = id2label ? json_str(id2label, key) : NULL;
        if (!name) name = dflt;
        if (jarr) cJSON_AddItemToArray(jarr, cJSON_CreateString(name));
        int w = snprintf(buf + used, n - used, "%s%d=%s", i ? ", " : "", i, name);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
    return count;
}

static int info_adapter(const char *dir, bool json, lb_error *err) {
    cJSON *cfg = read_json(dir, "adapter_config.json", err);
    if (!cfg) return cli_fail(err);
    char *st_path = lb_path_join(dir, "adapter_model.safetensors");
    lb_st_file *f = st_path && lb_file_exists(st_path) ? lb_st_open(st_path, err) : NULL;
    if (st_path && lb_file_exists(st_path) && !f) { free(st_path); cJSON_Delete(cfg); return cli_fail(err); }
    st_summary s = {0};
    if (f) summarize(f, &s);
    char dts[256] = "", params[32];
    dtype_list(&s, dts, sizeof dts);
    thousands(s.params, params, sizeof params);
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
    bool has_tok = file_in(dir, "tokenizer.json") || file_in(dir, "vocab.txt");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", dir);
        cJSON_AddStringToObject(o, "kind", "adapter");
        cJSON_AddStringToObject(o, "peft_type", peft_type ? peft_type : "");
        cJSON_AddNumberToObject(o, "r", json_int(cfg, "r", 8));
        cJSON_AddNumberToObject(o, "lora_alpha", cJSON_IsNumber(alpha) ? alpha->valuedouble : 8);
        cJSON_AddNumberToObject(o, "lora_dropout", cJSON_IsNumber(drop) ? drop->valuedouble : 0);
        cJSON_AddStringToObject(o, "target_modules", tbuf);
        cJSON_AddStringToObject(o, "task_type", task ? task : "");
        cJSON_AddStringToObject(o, "base_model", base ? base : "");
        cJSON_AddNumberToObject(o, "tensors", (double)s.tensors);
        cJSON_AddNumberToObject(o, "parameters", (double)s.params);
        cJSON_AddStringToObject(o, "dtypes", dts);
        cJSON_AddBoolToObject(o, "has_tokenizer", has_tok);
        char *t = cJSON_PrintUnformatted(o);
        if (t) puts(t);
        free(t);
        cJSON_Delete(o);
    } else {
        printf("path:          %s\n", dir);
        printf("kind:          PEFT adapter (%s)\n", peft_type ? peft_type : "unknown type");
        printf("lora:          r=%d, alpha=%g, dropout=%g\n", json_int(cfg, "r", 8),
               cJSON_IsNumber(alpha) ? alpha->valuedouble : 8.0, cJSON_IsNumber(drop) ? drop->valuedouble : 0.0);
        printf("targets:       %s\n", tbuf[0] ? tbuf : "(none)");
        printf("task:          %s\n", task ? task : "(none)");
        printf("base model:    %s\n", base ? base : "(not recorded)");
        if (f) printf("tensors:       %zu, %s parameters, %s\n", s.tensors, params, dts);
        else printf("tensors:       adapter_model.safetensors missing\n");
        printf("tokenizer:     %s\n", has_tok ? "included" : "none (the base model's is used)");
    }
    lb_st_close(f);
    free(st_path);
    cJSON_Delete(cfg);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *target = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { info_help(stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("info", "unknown option '%s'", argv[i]);
        else if (target) return cli_usage_error("info", "one DIR expected, got '%s' and '%s'", target, argv[i]);
        else target = argv[i];
    }
    if (!target) return cli_usage_error("info", "missing DIR");
    lb_error err = {0};
    char *dir = NULL;
    static const char *const include[] = {"*.json", "*.safetensors", "vocab.txt", NULL};
    if (lb_hub_resolve(target, "model", NULL, include, &dir, &err)) return cli_fail(&err);
    if (file_in(dir, "adapter_config.json") && !file_in(dir, "config.json")) {
        int rc = info_adapter(dir, json, &err);
        free(dir);
        return rc;
    }
    int rc = 0;
    cJSON *cfg = read_json(dir, "config.json", &err);
    lb_st_file *f = NULL;
    lb_tokenizer *tok = NULL;
    if (!cfg) {
        if (err.code == LB_ERR_IO)
            lb_err(&err, LB_ERR_IO, "%s: no config.json or adapter_config.json: not a model or adapter folder", dir);
        rc = cli_fail(&err);
        goto out;
    }
    f = lb_st_open_dir(dir, &err);
    if (!f) { rc = cli_fail(&err); goto out; }
    st_summary s;
    summarize(f, &s);

    const char *model_type = json_str(cfg, "model_type");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *arch0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    const char *arch = cJSON_IsString(arch0) ? arch0->valuestring : "(not recorded)";
    bool distil = model_type && !strcmp(model_type, "distilbert");
    int layers = json_int(cfg, distil ? "n_layers" : "num_hidden_layers", -1);
    int dim = json_int(cfg, distil ? "dim" : "hidden_size", -1);
    int heads = json_int(cfg, distil ? "n_heads" : "num_attention_heads", -1);
    int ffn = json_int(cfg, distil ? "hidden_dim" : "intermediate_size", -1);
    int vocab = json_int(cfg, "vocab_size", -1);
    int max_pos = json_int(cfg, "max_position_embeddings", -1);
    char labels[1024], params[32], dts[256];
    cJSON *jlabels = json ? cJSON_CreateArray() : NULL;
    int n_labels = labels_of(cfg, labels, sizeof labels, jlabels);
    thousands(s.params, params, sizeof params);
    dtype_list(&s, dts, sizeof dts);

    bool tok_json = file_in(dir, "tokenizer.json"), tok_vocab = file_in(dir, "vocab.txt");
    lb_error terr = {0};
    if (tok_json || tok_vocab) tok = lb_tokenizer_load(dir, &terr);
    char tok_desc[1200];
    int max_len = max_pos;
    if (tok) {
        int mml = lb_tokenizer_model_max_length(tok);
        if (mml > 0 && (max_len <= 0 || mml < max_len)) max_len = mml;
        snprintf(tok_desc, sizeof tok_desc, "WordPiece from %s, vocab %d, model_max_length %d",
                 tok_json ? "tokenizer.json" : "vocab.txt", lb_tokenizer_vocab_size(tok), mml);
    } else if (tok_json || tok_vocab) {
        snprintf(tok_desc, sizeof tok_desc, "unreadable: %s", terr.msg);
    } else {
        snprintf(tok_desc, sizeof tok_desc, "none in this folder");
    }

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", dir);
        cJSON_AddStringToObject(o, "kind", "model");
        cJSON_AddStringToObject(o, "architecture", arch);
        cJSON_AddStringToObject(o, "model_type", model_type ? model_type : "");
        cJSON_AddNumberToObject(o, "layers", layers);
        cJSON_AddNumberToObject(o, "dim", dim);
        cJSON_AddNumberToObject(o, "heads", heads);
        cJSON_AddNumberToObject(o, "ffn_dim", ffn);
        cJSON_AddNumberToObject(o, "vocab_size", vocab);
        cJSON_AddNumberToObject(o, "max_position_embeddings", max_pos);
        cJSON_AddNumberToObject(o, "parameters", (double)s.params);
        cJSON_AddNumberToObject(o, "tensors", (double)s.tensors);
        cJSON_AddStringToObject(o, "dtypes", dts);
        cJSON_AddNumberToObject(o, "num_labels", n_labels);
        cJSON_AddItemToObject(o, "labels", jlabels);
        jlabels = NULL;
        cJSON_AddStringToObject(o, "tokenizer", tok_desc);
        if (tok) cJSON_AddNumberToObject(o, "tokenizer_vocab_size", lb_tokenizer_vocab_size(tok));
        cJSON_AddNumberToObject(o, "max_length", max_len);
        char *t = cJSON_PrintUnformatted(o);
        if (t) puts(t);
        free(t);
        cJSON_Delete(o);
    } else {
        printf("path:          %s\n", dir);
        printf("architecture:  %s (model_type %s)\n", arch, model_type ? model_type : "unknown");
        printf("layers:        %d x (dim %d, %d heads, ffn %d)\n", layers, dim, heads, ffn);
        printf("vocab:         %d, max positions %d\n", vocab, max_pos);
        printf("parameters:    %s in %zu tensors\n", params, s.tensors);
        printf("dtypes:        %s\n", dts);
        printf("labels:        %d: %s\n", n_labels, labels);
        printf("tokenizer:     %s\n", tok_desc);
        printf("max length:    %d tokens\n", max_len);
    }
    cJSON_Delete(jlabels);
out:
    lb_tokenizer_free(tok);
    lb_st_close(f);
    cJSON_Delete(cfg);
    free(dir);
    return rc;
}
